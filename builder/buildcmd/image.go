package buildcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pistudio/pistudio/builder"
	"github.com/pistudio/pistudio/builder/cli"
	"github.com/pistudio/pistudio/builder/image"
)

const imageUsage = "-c FILE --fs DIR [-o DIR] [-B DIR] [--engine native|genimage] [--json]"

func init() {
	register(cli.Command{
		Name:    "image",
		Usage:   imageUsage,
		Summary: "build the disk images (image-rpios or the RAID set) natively from a stage-1 root filesystem",
		Run:     runImage,
	})
}

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

// imageSpec reads the image settings of a config into an image.Spec.
func imageSpec(cfg *builder.Config) (image.Spec, error) {
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
	var spec image.Spec
	var err error
	layer, _ := get("image.layer")
	switch layer {
	case "raid":
		spec.Layout = image.LayoutRAID
	case "image-rpios":
		spec.Layout = image.LayoutRPiOS
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
		n, p, err := builder.ParseSize(v)
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
	if spec.Layout == image.LayoutRPiOS {
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

func runImage(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("image")
	cfgPath := fs.String("c", "", "config `FILE` (YAML)")
	fsDir := fs.String("fs", "", "root filesystem `DIR` from stage 1 (work/chroot-*/filesystem); it is not modified")
	out := fs.String("o", "", "output `DIR` (default WORK/image-NAME)")
	work := fs.String("B", "work", "work `DIR`")
	engine := fs.String("engine", "native", "image engine: native or genimage")
	asJSON := fs.Bool("json", false, "print the manifest (image.json) as JSON")
	if err := cli.Parse(fs, env, imageUsage, args); err != nil {
		return err
	}
	if *cfgPath == "" || *fsDir == "" {
		return cli.Usagef("image", "-c FILE and --fs DIR are required")
	}
	if fs.NArg() > 0 {
		return cli.Usagef("image", "unexpected argument %q", fs.Arg(0))
	}
	cfg, err := builder.LoadConfig(*cfgPath)
	if err != nil {
		return cli.Exit(2, err)
	}
	spec, err := imageSpec(cfg)
	if err != nil {
		return cli.Exit(2, err)
	}
	switch *engine {
	case "native":
	case "genimage":
		if spec.Layout == image.LayoutRAID {
			return cli.Exit(1, fmt.Errorf("image: genimage cannot build the raid layout (it has no md RAID support): use --engine native"))
		}
		return cli.Exit(1, fmt.Errorf("image: the genimage engine is rpi-image-gen's own image stage: run `pistudio build -i -c %s`", *cfgPath))
	default:
		return cli.Usagef("image", "--engine %q: want native or genimage", *engine)
	}
	dst := *out
	if dst == "" {
		dst = filepath.Join(*work, "image-"+spec.Name)
	}
	m, err := image.Build(ctx, spec, *fsDir, dst, func(p image.Progress) {
		fmt.Fprintf(env.Stderr, "[%d/%d] %s: %s\n", p.Done, p.Total, p.Stage, p.Message)
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	}
	fmt.Fprintf(env.Stdout, "%s layout %q in %s\n", m.Layout, m.Name, dst)
	if m.Layout == image.LayoutRAID {
		fmt.Fprintf(env.Stdout, "array %s %s, %d devices\n", m.Level, m.ArrayUUID, m.Devices)
	}
	for _, a := range m.Artifacts {
		fmt.Fprintf(env.Stdout, "  %-24s %-16s %12d  %s\n", a.File, a.Kind, a.Size, a.Role)
	}
	return nil
}
