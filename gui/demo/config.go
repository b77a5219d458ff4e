// Package demo provides stand-in backends with sample data: layers, disks,
// a scripted build, simulated writes and a RAID set. The app uses them when
// PISTUDIO_DEMO=1 (for screenshots) and the GUI tests use them as fakes
// behind the real interfaces of gui/backend.
package demo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/pistudio/pistudio/gui/backend"
)

// Doc is a YAML config held as a yaml.v3 node tree, so comments survive.
type Doc struct {
	mu   sync.Mutex
	root yaml.Node
}

// ParseDoc parses YAML text.
func ParseDoc(b []byte) (*Doc, error) {
	d := &Doc{}
	if err := yaml.Unmarshal(b, &d.root); err != nil {
		return nil, fmt.Errorf("parsing config: %w", err)
	}
	if d.root.Kind == 0 {
		d.root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	if d.root.Kind != yaml.DocumentNode || len(d.root.Content) != 1 || d.root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("parsing config: the top level is not a mapping")
	}
	return d, nil
}

func child(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Get returns the scalar at a dotted key path.
func (d *Doc) Get(key string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.root.Content[0]
	for _, part := range strings.Split(key, ".") {
		if n.Kind != yaml.MappingNode {
			return "", false
		}
		if n = child(n, part); n == nil {
			return "", false
		}
	}
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

// Set sets the scalar at a dotted key path, creating mappings.
func (d *Doc) Set(key, value string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.root.Content[0]
	parts := strings.Split(key, ".")
	for i, part := range parts {
		c := child(n, part)
		last := i == len(parts)-1
		if c == nil {
			c = &yaml.Node{Kind: yaml.MappingNode}
			if last {
				c = &yaml.Node{Kind: yaml.ScalarNode}
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: part}, c)
		}
		if last {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("%s is a section, not a value", key)
			}
			c.Value, c.Tag, c.Style = value, "", 0
			return nil
		}
		if c.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a section", strings.Join(parts[:i+1], "."))
		}
		n = c
	}
	return nil
}

// Bytes encodes the config.
func (d *Doc) Bytes() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&d.root); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return b.Bytes(), nil
}

// Configs is a ConfigStore over plain files with the demo catalog.
type Configs struct {
	// Template is the text New starts from.
	Template string
}

// Load reads a config file.
func (c *Configs) Load(path string) (backend.ConfigDoc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseDoc(b)
}

// Parse parses config text.
func (c *Configs) Parse(_ string, data []byte) (backend.ConfigDoc, error) { return ParseDoc(data) }

// New returns the template config.
func (c *Configs) New() (backend.ConfigDoc, error) {
	t := c.Template
	if t == "" {
		t = "device:\n  layer: rpi5\n  hostname: pi\nimage:\n  layer: image-rpios\n  name: my-image\nlayer:\n  base: bookworm-minbase\n"
	}
	return ParseDoc([]byte(t))
}

// Save writes a config file.
func (c *Configs) Save(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	return nil
}

// Catalog returns the sample catalog.
func (c *Configs) Catalog(string) (backend.Catalog, error) { return NewCatalog(), nil }

// Validate checks the chosen layers exist and every set variable passes
// its rule.
func (c *Configs) Validate(doc backend.ConfigDoc, cat backend.Catalog) []backend.Problem {
	var out []backend.Problem
	if cat == nil {
		return nil
	}
	var layers []backend.Layer
	for _, k := range []string{"device.layer", "image.layer", "layer.base"} {
		v, ok := doc.Get(k)
		if !ok || v == "" {
			out = append(out, backend.Problem{Key: k, Msg: "no layer chosen"})
			continue
		}
		l, ok := cat.Lookup(v)
		if !ok {
			out = append(out, backend.Problem{Key: k, Msg: fmt.Sprintf("unknown layer %q", v)})
			continue
		}
		layers = append(layers, l)
	}
	for _, l := range append(layers, common) {
		for _, v := range l.Vars {
			val, ok := doc.Get(v.Key)
			if !ok || val == "" {
				if v.Required {
					out = append(out, backend.Problem{Key: v.Key, Msg: "a value is required"})
				}
				continue
			}
			if v.Check != nil {
				if err := v.Check(val); err != nil {
					out = append(out, backend.Problem{Key: v.Key, Msg: err.Error()})
				}
			}
		}
	}
	return out
}

// Catalog is a fixed list of layers.
type Catalog struct{ layers []backend.Layer }

// Layers returns every layer.
func (c *Catalog) Layers() []backend.Layer { return c.layers }

// Lookup finds a layer by name.
func (c *Catalog) Lookup(name string) (backend.Layer, bool) {
	for _, l := range c.layers {
		if l.Name == name {
			return l, true
		}
	}
	return backend.Layer{}, false
}

func enum(key, def, desc string, choices ...string) backend.Var {
	return backend.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Kind: backend.KindEnum, Choices: choices,
		Check: func(s string) error {
			for _, c := range choices {
				if s == c {
					return nil
				}
			}
			return fmt.Errorf("must be one of %s", strings.Join(choices, ", "))
		}}
}

var sizeRE = regexp.MustCompile(`^[0-9]+([kKMGsS]|%)?$`)

func size(key, def, desc string) backend.Var {
	return backend.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Kind: backend.KindSize,
		Check: func(s string) error {
			if !sizeRE.MatchString(s) {
				return fmt.Errorf("%q is not a size (examples: 200M, 1G, 50%%)", s)
			}
			return nil
		}}
}

func intRange(key, def, desc string, lo, hi int) backend.Var {
	return backend.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Kind: backend.KindInt,
		Check: func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
			}
			return nil
		}}
}

func text(key, def, desc string, required bool) backend.Var {
	return backend.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Required: required,
		Check: func(s string) error {
			if strings.ContainsAny(s, " \t/") {
				return errors.New("must not contain spaces or slashes")
			}
			return nil
		}}
}

// common holds variables of always-present layers.
var common = backend.Layer{Name: "device-base", Category: "general", Desc: "Common device settings.", Vars: []backend.Var{
	text("device.hostname", "", "Host name of the device on the network.", false),
	text("image.name", "", "Name of the image; output files are named after it.", true),
}}

// NewCatalog returns the sample catalog.
func NewCatalog() *Catalog {
	storage := enum("device.storage_type", "sd", "Boot media the device uses: SD card or NVMe drive.", "sd", "nvme")
	rootfs := enum("image.rootfs_type", "ext4", "Filesystem of the root partition.", "ext4", "btrfs")
	ls := []backend.Layer{
		common,
		{Name: "rpi5", Category: "device", Desc: "Raspberry Pi 5: BCM2712, 64-bit kernel 2712.", Vars: []backend.Var{storage}},
		{Name: "rpi4", Category: "device", Desc: "Raspberry Pi 4 Model B and Pi 400: BCM2711.", Vars: []backend.Var{storage}},
		{Name: "rpi-cm5", Category: "device", Desc: "Compute Module 5 on any carrier board.", Vars: []backend.Var{storage}},
		{Name: "rpizero2w", Category: "device", Desc: "Raspberry Pi Zero 2 W."},
		{Name: "image-rpios", Category: "image", Desc: "Raspberry Pi OS layout: MBR, FAT boot partition and an ext4 or btrfs root partition.", Vars: []backend.Var{
			rootfs,
			size("image.boot_part_size", "100%", "Size of the boot partition, or a percentage of the minimum."),
			size("image.root_part_size", "100%", "Size of the root partition, or a percentage of the minimum."),
		}},
		{Name: "image-rota", Category: "image", Desc: "GPT A/B layout for over-the-air updates.", Vars: []backend.Var{rootfs}},
		{Name: "raid", Category: "image", Desc: "RAID overlay layout: the SD card holds only the FAT boot partition; the ext4 root filesystem lives on an md RAID0 or RAID1 array on external disks.", Vars: []backend.Var{
			rootfs,
			enum("raid.level", "RAID1", "md RAID level of the root array: RAID1 mirrors the root filesystem on every external disk, RAID0 stripes it across them.", "RAID0", "RAID1"),
			intRange("raid.devices", "2", "Number of external disks in the array.", 2, 8),
			size("raid.sdcard_size", "200M", "Size of the SD card (boot) image."),
			size("raid.external_size", "1G", "Size of each external disk image."),
		}},
		{Name: "bookworm-minbase", Category: "base", Desc: "Debian 12 (bookworm) minimal base with apt and systemd."},
		{Name: "trixie-minbase", Category: "base", Desc: "Debian 13 (trixie) minimal base with apt and systemd."},
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	return &Catalog{layers: ls}
}
