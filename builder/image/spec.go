package image

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/internal/imager"
	"github.com/pistudio/pistudio/internal/manifest"
)

// rpiosDefaults are the defaults of rpi-image-gen's image-rpios layer
// variables the native stage reads (that layer is not ours, so its header
// is not at hand here).
var rpiosDefaults = map[string]string{
	"image.rootfs_type":    "ext4",
	"image.boot_part_size": "100%",
	"image.root_part_size": "100%",
	"device.hostname":      "",
}

// RaidLayerFile is the path of our raid layer inside assets.Layers().
const RaidLayerFile = "image/raid/image.yaml"

var (
	raidOnce     sync.Once
	raidLayer    *layers.Layer
	raidLayerErr error
)

// RaidLayer returns our raid layer (assets/layers/image/raid/image.yaml),
// parsed once; its X-Env-Var-* defaults are the native stage's defaults
// for unset raid.* keys.
func RaidLayer() (*layers.Layer, error) {
	raidOnce.Do(func() {
		data, err := fs.ReadFile(assets.Layers(), RaidLayerFile)
		if err != nil {
			raidLayerErr = fmt.Errorf("image: raid layer: %w", err)
			return
		}
		raidLayer, raidLayerErr = layers.ParseLayer("embedded:"+RaidLayerFile, data)
	})
	return raidLayer, raidLayerErr
}

// defaultFor returns the layer default of a config key ("raid.devices").
func defaultFor(key string) (string, error) {
	if sect, name, _ := strings.Cut(key, "."); sect == "raid" {
		l, err := RaidLayer()
		if err != nil {
			return "", err
		}
		if v, ok := l.Var(name); ok {
			return v.Default, nil
		}
		return "", nil
	}
	return rpiosDefaults[key], nil
}

// Origin says where a Spec value came from, for messages.
type Origin struct {
	// File and Line locate the value (Line 0 when unknown; File is
	// config.OverrideFile for overrides, the config file for defaults).
	File string
	Line int
	// Key is the config key (raid.devices) and Var its variable
	// (IGconf_raid_devices).
	Key, Var string
	// Value is the value as written.
	Value string
	// Default is true when the value is the layer default (not set).
	Default bool
}

// String formats the origin as "raid.yaml:7: raid.devices (IGconf_raid_devices)".
func (o Origin) String() string {
	var b strings.Builder
	if o.File != "" {
		b.WriteString(o.File)
		if o.Line > 0 {
			fmt.Fprintf(&b, ":%d", o.Line)
		}
		b.WriteString(": ")
	}
	b.WriteString(o.Key)
	if o.Var != "" {
		fmt.Fprintf(&b, " (%s)", o.Var)
	}
	return b.String()
}

// SpecError is an image setting the native stage cannot use; it names
// the file, line, key and variable of the value.
type SpecError struct {
	Origin
	// Msg says what is wrong.
	Msg string
}

// Error formats the error as "raid.yaml:7: raid.devices (IGconf_raid_devices): 9 ...".
func (e *SpecError) Error() string { return e.Origin.String() + ": " + e.Msg }

// SpecFromConfig reads the image settings of a config (image.*, raid.*,
// device.hostname, merged with its include chain, with the raid and
// image-rpios layers' defaults for unset keys) into a Spec. It is
// SpecFromVars over cfg.Vars() without overrides.
func SpecFromConfig(cfg *config.Config) (Spec, error) {
	vars, err := cfg.Vars()
	if err != nil {
		return Spec{}, err
	}
	return SpecFromVars(vars, cfg.Path)
}

// SpecFromVars reads the image settings from merged config variables
// (Config.MergedVars: include chain and overrides applied, keyed by
// IGconf_* names) into a Spec; file names the config for defaults.
// Values built from ${...} or $(...) are refused: the native stage needs
// literal values. Errors are *SpecError or *SizeError naming file, line,
// key and variable.
func SpecFromVars(vars map[string]config.VarValue, file string) (Spec, error) {
	spec := Spec{Origins: map[string]Origin{}}
	get := func(key string) (string, Origin, error) {
		sect, name, _ := strings.Cut(key, ".")
		env := config.EnvName(sect, name)
		o := Origin{File: file, Key: key, Var: env}
		if v, ok := vars[env]; ok {
			o.File, o.Line, o.Value = v.File, v.Line, v.Value
		} else {
			d, err := defaultFor(key)
			if err != nil {
				return "", o, err
			}
			o.Value, o.Default = d, true
		}
		spec.Origins[key] = o
		if strings.ContainsAny(o.Value, "$`") {
			return "", o, &SpecError{o, fmt.Sprintf("%q uses a variable; the native image stage needs a literal value", o.Value)}
		}
		return o.Value, o, nil
	}
	var err error
	layer, lo, err := get("image.layer")
	if err != nil {
		return spec, err
	}
	switch layer {
	case "raid":
		spec.Layout = manifest.LayoutRAID
	case "image-rpios":
		spec.Layout = manifest.LayoutRPiOS
	default:
		return spec, &SpecError{lo, fmt.Sprintf("%q: the native image stage builds raid and image-rpios only", layer)}
	}
	var no Origin
	if spec.Name, no, err = get("image.name"); err != nil {
		return spec, err
	}
	if spec.Name == "" {
		return spec, &SpecError{no, "is not set"}
	}
	if !nameRe.MatchString(spec.Name) {
		return spec, &SpecError{no, fmt.Sprintf("%q: must be letters, digits, . _ + -", spec.Name)}
	}
	if spec.Hostname, _, err = get("device.hostname"); err != nil {
		return spec, err
	}
	spec.Firstboot = FirstbootOf(vars)
	var ro Origin
	if spec.RootfsType, ro, err = get("image.rootfs_type"); err != nil {
		return spec, err
	}
	if spec.RootfsType != "" && spec.RootfsType != "ext4" {
		return spec, &SpecError{ro, fmt.Sprintf("%q: the native image stage writes ext4 only", spec.RootfsType)}
	}
	size := func(key string, dst *int64, pct *int) error {
		v, o, err := get(key)
		if err != nil {
			return err
		}
		n, p, err := layers.ParseSize(v)
		if err != nil {
			return &SpecError{o, err.Error()}
		}
		if p != 0 && pct == nil {
			return &SpecError{o, fmt.Sprintf("%q: a percentage is not allowed here", v)}
		}
		if n == 0 && p == 0 {
			return &SpecError{o, fmt.Sprintf("%q: a size of 0 is not allowed (give a size or a percentage such as 100%%)", v)}
		}
		*dst = n
		if pct != nil {
			*pct = p
		}
		return nil
	}
	if spec.Layout == manifest.LayoutRPiOS {
		if err := size("image.boot_part_size", &spec.BootPartSize, &spec.BootPartPct); err != nil {
			return spec, err
		}
		if err := size("image.root_part_size", &spec.RootPartSize, &spec.RootPartPct); err != nil {
			return spec, err
		}
		return spec, spec.Check()
	}
	if spec.Level, _, err = get("raid.level"); err != nil {
		return spec, err
	}
	d, do, err := get("raid.devices")
	if err != nil {
		return spec, err
	}
	if spec.Devices, err = strconv.Atoi(strings.TrimSpace(d)); err != nil {
		return spec, &SpecError{do, fmt.Sprintf("%q is not a number", d)}
	}
	if err := size("raid.sdcard_size", &spec.SDCardSize, nil); err != nil {
		return spec, err
	}
	if err := size("raid.external_size", &spec.ExternalSize, nil); err != nil {
		return spec, err
	}
	return spec, spec.Check()
}

// ErrTooLarge is wrapped by errors about sizes an MBR disk cannot hold.
var ErrTooLarge = errors.New("image: too large")

// MaxDiskBytes is the largest disk image an MBR partition table can
// describe: 2^32 sectors of 512 bytes (2 TiB).
const MaxDiskBytes = int64(1) << 32 * 512

// where returns the origin of key, or a bare one naming only the key.
func (s *Spec) where(key string) Origin {
	if o, ok := s.Origins[key]; ok {
		return o
	}
	return Origin{Key: key}
}

// Check reports settings Build would refuse, before anything is measured
// or written: an unknown layout or level, a bad device count, rootfs type
// or name, sizes an MBR cannot address.
func (s *Spec) Check() error {
	if !nameRe.MatchString(s.Name) {
		return &SpecError{s.where("image.name"), fmt.Sprintf("%q: must be letters, digits, . _ + -", s.Name)}
	}
	if s.RootfsType != "" && s.RootfsType != "ext4" {
		return &SpecError{s.where("image.rootfs_type"), fmt.Sprintf("%q: the native image stage writes ext4 only", s.RootfsType)}
	}
	tooBig := func(key, what string, have int64) error {
		o := s.where(key)
		return &SizeError{What: what, Setting: key, Max: MaxDiskBytes, Have: have, File: o.File, Line: o.Line, Var: o.Var}
	}
	switch s.Layout {
	case manifest.LayoutRAID:
		if s.Level != "RAID0" && s.Level != "RAID1" {
			return &SpecError{s.where("raid.level"), fmt.Sprintf("%q: want RAID0 or RAID1", s.Level)}
		}
		if s.Devices < 2 || s.Devices > 8 {
			return &SpecError{s.where("raid.devices"), fmt.Sprintf("%d: want 2-8", s.Devices)}
		}
		if s.SDCardSize > MaxDiskBytes {
			return tooBig("raid.sdcard_size", "SD card image", s.SDCardSize)
		}
		if s.ExternalSize > MaxDiskBytes {
			return tooBig("raid.external_size", "external disk image", s.ExternalSize)
		}
	case manifest.LayoutRPiOS:
		if s.BootPartSize > MaxDiskBytes-Align {
			return tooBig("image.boot_part_size", "boot partition", s.BootPartSize)
		}
		if s.RootPartSize > MaxDiskBytes-Align {
			return tooBig("image.root_part_size", "root partition", s.RootPartSize)
		}
		if s.BootPartSize > 0 && s.RootPartSize > 0 && Align+s.BootPartSize+s.RootPartSize > MaxDiskBytes {
			return tooBig("image.root_part_size", "disk image (boot + root partitions)", Align+s.BootPartSize+s.RootPartSize)
		}
		if s.BootPartPct < 0 || s.RootPartPct < 0 {
			return &SpecError{s.where("image.root_part_size"), "a percentage cannot be negative"}
		}
	default:
		return fmt.Errorf("image: unknown layout %q (want %s or %s)", s.Layout, manifest.LayoutRAID, manifest.LayoutRPiOS)
	}
	return nil
}

// FirstbootOf names the first-boot reader among the config's layer.*
// values (imager.Layers), or "none".
func FirstbootOf(vars map[string]config.VarValue) string {
	var layers []string
	for k, v := range vars {
		if strings.HasPrefix(k, "IGconf_layer_") {
			layers = append(layers, v.Value)
		}
	}
	sort.Strings(layers)
	return imager.FormatOfLayers(layers)
}
