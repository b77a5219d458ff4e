package buildcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/image"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/manifest"
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

func runImage(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("image")
	cfgPath := fs.String("c", "", "config `FILE` (YAML)")
	fsDir := fs.String("fs", "", "root filesystem `DIR` from stage 1 (work/chroot-*/filesystem); it is not modified")
	out := fs.String("o", "", "output `DIR` (default WORK/image-NAME); it must be missing, empty or hold an earlier image set")
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
	cfg, err := config.LoadConfig(*cfgPath)
	if err != nil {
		return cli.Exit(2, err)
	}
	spec, err := image.SpecFromConfig(cfg)
	if err != nil {
		return cli.Exit(2, err)
	}
	switch *engine {
	case "native":
	case "genimage":
		if spec.Layout == manifest.LayoutRAID {
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
	if m.Layout == manifest.LayoutRAID {
		fmt.Fprintf(env.Stdout, "array %s %s, %d devices\n", m.Level, m.ArrayUUID, m.Devices)
	}
	for _, a := range m.Artifacts {
		fmt.Fprintf(env.Stdout, "  %-24s %-16s %12d  %s\n", a.File, a.Kind, a.Size, a.Role)
	}
	return nil
}
