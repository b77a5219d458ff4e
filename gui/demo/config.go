// Package demo provides stand-in services with sample data: layers, disks,
// a scripted build, simulated writes and a RAID set. The app uses them when
// PISTUDIO_DEMO=1 (for screenshots) and the GUI tests use them as fakes.
// They build the real values of packages builder and flash: configs are
// edited by builder/config, the RAID plan comes from flash/provision's
// planner over the sample disks and a sample set written to the work dir.
package demo

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/gui/form"
)

// Configs reads and writes configs with builder/config (form.Configs) and
// takes the catalog and the validation from the sample layers.
type Configs struct {
	form.Configs
	// Template, when set, is the text New starts from.
	Template string
}

// defaultTemplate is the config New starts from when Template is empty.
const defaultTemplate = "device:\n  layer: rpi5\n  hostname: pi\nimage:\n  layer: image-rpios\n  name: my-image\nlayer:\n  base: bookworm-minbase\n"

// New returns the template config, untitled.
func (c *Configs) New() (*config.Config, error) {
	t := c.Template
	if t == "" {
		t = defaultTemplate
	}
	cfg, err := config.ParseConfig("untitled.yaml", []byte(t))
	if err != nil {
		return nil, fmt.Errorf("reading the config template: %w", err)
	}
	cfg.Path = ""
	return cfg, nil
}

// Catalog returns the sample catalog.
func (c *Configs) Catalog(string) (form.Catalog, error) { return NewCatalog(), nil }

// Validate checks the chosen layers exist and every set variable passes
// its rule.
func (c *Configs) Validate(doc *config.Config, cat form.Catalog) []form.Problem {
	var out []form.Problem
	if cat == nil {
		return nil
	}
	var layers []form.Layer
	for _, k := range []string{"device.layer", "image.layer", "layer.base"} {
		v, ok := doc.Get(k)
		if !ok || v == "" {
			out = append(out, form.Problem{Key: k, Msg: "no layer chosen"})
			continue
		}
		l, ok := cat.Lookup(v)
		if !ok {
			out = append(out, form.Problem{Key: k, Msg: fmt.Sprintf("unknown layer %q", v)})
			continue
		}
		layers = append(layers, l)
	}
	for _, l := range append(layers, common) {
		out = append(out, checkVars(doc, l)...)
	}
	return out
}

// checkVars checks the values of one layer's variables.
func checkVars(doc *config.Config, l form.Layer) []form.Problem {
	var out []form.Problem
	for _, v := range l.Vars {
		val, ok := doc.Get(v.Key)
		if !ok || val == "" {
			if v.Required {
				out = append(out, form.Problem{Key: v.Key, Msg: "a value is required"})
			}
			continue
		}
		if v.Check != nil {
			if err := v.Check(val); err != nil {
				out = append(out, form.Problem{Key: v.Key, Msg: err.Error()})
			}
		}
	}
	return out
}

// Catalog is a fixed list of layers.
type Catalog struct{ layers []form.Layer }

// Layers returns every layer.
func (c *Catalog) Layers() []form.Layer { return c.layers }

// Lookup finds a layer by name.
func (c *Catalog) Lookup(name string) (form.Layer, bool) {
	for _, l := range c.layers {
		if l.Name == name {
			return l, true
		}
	}
	return form.Layer{}, false
}

func enum(key, def, desc string, choices ...string) form.Var {
	return form.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Kind: form.KindEnum, Choices: choices,
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

func size(key, def, desc string) form.Var {
	return form.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Kind: form.KindSize,
		Check: func(s string) error {
			if !sizeRE.MatchString(s) {
				return fmt.Errorf("%q is not a size (examples: 200M, 1G, 50%%)", s)
			}
			return nil
		}}
}

func intRange(key, def, desc string, lo, hi int) form.Var {
	return form.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Kind: form.KindInt,
		Check: func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("must be a whole number from %d to %d", lo, hi)
			}
			return nil
		}}
}

func text(key, def, desc string, required bool) form.Var {
	return form.Var{Key: key, Name: key[strings.IndexByte(key, '.')+1:], Default: def, Desc: desc, Required: required,
		Check: func(s string) error {
			if strings.ContainsAny(s, " \t/") {
				return errors.New("must not contain spaces or slashes")
			}
			return nil
		}}
}

// common holds variables of always-present layers.
var common = form.Layer{Name: "device-base", Category: "general", Desc: "Common device settings.", Vars: []form.Var{
	text("device.hostname", "", "Host name of the device on the network.", false),
	text("image.name", "", "Name of the image; output files are named after it.", true),
}}

// NewCatalog returns the sample catalog.
func NewCatalog() *Catalog {
	storage := enum("device.storage_type", "sd", "Boot media the device uses: SD card or NVMe drive.", "sd", "nvme")
	rootfs := enum("image.rootfs_type", "ext4", "Filesystem of the root partition.", "ext4", "btrfs")
	ls := []form.Layer{
		common,
		{Name: "rpi5", Category: "device", Desc: "Raspberry Pi 5: BCM2712, 64-bit kernel 2712.", Vars: []form.Var{storage}},
		{Name: "rpi4", Category: "device", Desc: "Raspberry Pi 4 Model B and Pi 400: BCM2711.", Vars: []form.Var{storage}},
		{Name: "rpi-cm5", Category: "device", Desc: "Compute Module 5 on any carrier board.", Vars: []form.Var{storage}},
		{Name: "rpizero2w", Category: "device", Desc: "Raspberry Pi Zero 2 W."},
		{Name: "image-rpios", Category: "image", Desc: "Raspberry Pi OS layout: MBR, FAT boot partition and an ext4 or btrfs root partition.", Vars: []form.Var{
			rootfs,
			size("image.boot_part_size", "100%", "Size of the boot partition, or a percentage of the minimum."),
			size("image.root_part_size", "100%", "Size of the root partition, or a percentage of the minimum."),
		}},
		{Name: "image-rota", Category: "image", Desc: "GPT A/B layout for over-the-air updates.", Vars: []form.Var{rootfs}},
		{Name: "raid", Category: "image", Desc: "RAID overlay layout: the SD card holds only the FAT boot partition; the ext4 root filesystem lives on an md RAID0 or RAID1 array on external disks.", Vars: []form.Var{
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
