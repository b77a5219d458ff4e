package image

import (
	"fmt"
	"strconv"
	"strings"

	igconf "github.com/pistudio/pistudio/builder"
)

// Defaults of the raid and image-rpios layers' variables.
var imageDefaults = map[string]string{
	"image.rootfs_type":    "ext4",
	"image.boot_part_size": "100%",
	"image.root_part_size": "100%",
	"raid.level":           "RAID1",
	"raid.devices":         "2",
	"raid.sdcard_size":     "200M",
	"raid.external_size":   "1G",
	"device.hostname":      "",
}

// SpecFromConfig reads the image settings of a config (image.*, raid.*,
// device.hostname, with the raid and image-rpios layers' defaults for
// unset keys) into a Spec. Values built from ${...} or $(...) are refused:
// the native stage needs literal values.
func SpecFromConfig(cfg *igconf.Config) (Spec, error) {
	get := func(key string) (string, error) {
		v, ok := cfg.Get(key)
		if !ok {
			v = imageDefaults[key]
		}
		if strings.ContainsAny(v, "$`") {
			return "", fmt.Errorf("%s: %s = %q uses a variable; the native image stage needs a literal value", cfg.Path, key, v)
		}
		return v, nil
	}
	var spec Spec
	var err error
	layer, _ := get("image.layer")
	switch layer {
	case "raid":
		spec.Layout = LayoutRAID
	case "image-rpios":
		spec.Layout = LayoutRPiOS
	default:
		return spec, fmt.Errorf("%s: image.layer %q: the native image stage builds raid and image-rpios only", cfg.Path, layer)
	}
	if spec.Name, err = get("image.name"); err != nil {
		return spec, err
	}
	if spec.Name == "" {
		return spec, fmt.Errorf("%s: image.name is not set", cfg.Path)
	}
	if spec.Hostname, err = get("device.hostname"); err != nil {
		return spec, err
	}
	if spec.RootfsType, err = get("image.rootfs_type"); err != nil {
		return spec, err
	}
	size := func(key string, dst *int64, pct *int) error {
		v, err := get(key)
		if err != nil {
			return err
		}
		n, p, err := igconf.ParseSize(v)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", cfg.Path, key, err)
		}
		if p != 0 && pct == nil {
			return fmt.Errorf("%s: %s = %q: a percentage is not allowed here", cfg.Path, key, v)
		}
		*dst = n
		if pct != nil {
			*pct = p
		}
		return nil
	}
	if spec.Layout == LayoutRPiOS {
		if err := size("image.boot_part_size", &spec.BootPartSize, &spec.BootPartPct); err != nil {
			return spec, err
		}
		if err := size("image.root_part_size", &spec.RootPartSize, &spec.RootPartPct); err != nil {
			return spec, err
		}
		return spec, nil
	}
	if spec.Level, err = get("raid.level"); err != nil {
		return spec, err
	}
	d, err := get("raid.devices")
	if err != nil {
		return spec, err
	}
	if spec.Devices, err = strconv.Atoi(d); err != nil {
		return spec, fmt.Errorf("%s: raid.devices %q is not a number", cfg.Path, d)
	}
	if err := size("raid.sdcard_size", &spec.SDCardSize, nil); err != nil {
		return spec, err
	}
	if err := size("raid.external_size", &spec.ExternalSize, nil); err != nil {
		return spec, err
	}
	return spec, nil
}
