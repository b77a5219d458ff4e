package buildcmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/cli"
)

func init() {
	register(cli.Command{
		Name:    "validate",
		Usage:   "-c FILE [--rpi-image-gen DIR] [-S DIR]... [-- KEY=VALUE...]",
		Summary: "check a config against the layers' rules without building",
		Run:     runValidate,
	})
}

func runValidate(ctx context.Context, env *cli.Env, args []string) error {
	const usage = "-c FILE [--rpi-image-gen DIR] [-S DIR]... [-- KEY=VALUE...]"
	fs := cli.NewFlagSet("validate")
	var f catalogFlags
	cfgPath := fs.String("c", "", "config `FILE` (YAML)")
	fs.StringVar(&f.tool, "rpi-image-gen", "", "rpi-image-gen checkout `DIR`")
	fs.Var(&f.sources, "S", "extra source `DIR` (repeatable), searched before the tool's own layers")
	if err := cli.Parse(fs, env, usage, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return cli.Usagef("validate", "-c FILE is required")
	}
	// The overrides a build would pass after -- (highest precedence).
	overrides := fs.Args()
	for _, o := range overrides {
		if err := runner.ValidateOverride(o); err != nil {
			return cli.Usagef("validate", "%s", strings.TrimPrefix(err.Error(), runner.ErrInvalidJob.Error()+": "))
		}
	}
	cfg, err := config.LoadConfig(*cfgPath)
	if err != nil {
		return cli.Exit(2, err)
	}
	cat, tool, err := loadCatalog(env, "validate", &f, false)
	if err != nil {
		return err
	}
	for _, s := range f.sources {
		cfg.IncludePath = append(cfg.IncludePath, filepath.Join(s, "config"))
	}
	cfg.IncludePath = append(cfg.IncludePath, filepath.Join(tool, "config"))
	probs := layers.ValidateOverrides(cfg, cat, overrides)
	for _, p := range probs {
		fmt.Fprintln(env.Stdout, p.String())
	}
	if len(probs) > 0 {
		return cli.Exit(1, nil)
	}
	fmt.Fprintf(env.Stdout, "%s: valid\n", *cfgPath)
	return nil
}
