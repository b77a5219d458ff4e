package buildcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pistudio/pistudio/builder/doctor"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/cli"
)

const doctorUsage = "[-c FILE] [-f|-i] [-B DIR] [--rpi-image-gen DIR] [-S DIR]... [--get-tool] [--install] [--cache DIR|--no-cache] [--json] [-- KEY=VALUE...]"

func init() {
	register(cli.Command{
		Name:    "doctor",
		Usage:   doctorUsage,
		Summary: "check that this machine can build (a config): packages, binfmt, privileges, space, cache, network",
		Run:     runDoctor,
	})
}

// doctorMachine replaces, in tests, the parts of the machine the doctor
// looks at (the zero value is the real machine).
var doctorMachine struct {
	resolver  doctor.Resolver
	installed func(context.Context, []string) (map[string]bool, error)
	host      runner.Host
}

// withMachine fills o's machine from doctorMachine.
func withMachine(o doctor.Options) doctor.Options {
	o.Resolver, o.Installed, o.Host = doctorMachine.resolver, doctorMachine.installed, doctorMachine.host
	return o
}

// doctorFlags are doctor's options beyond the shared ones.
type doctorFlags struct {
	buildFlags
	getTool bool
	install bool
	asJSON  bool
	stage   runner.Stage
}

func parseDoctor(env *cli.Env, args []string) (*doctorFlags, []string, error) {
	fs := cli.NewFlagSet("doctor")
	f := &doctorFlags{}
	cfg := fs.String("c", "", "config `FILE` to check the host for (its architecture, archives, SBOM)")
	fsOnly := fs.Bool("f", false, "check for a filesystem-only build")
	imgOnly := fs.Bool("i", false, "check for an image-only build")
	fs.StringVar(&f.tool, "rpi-image-gen", "", "rpi-image-gen checkout `DIR` (with --get-tool: where to clone it)")
	fs.Var(&f.sources, "S", "extra source `DIR` (repeatable)")
	fs.StringVar(&f.work, "B", "work", "work (build) `DIR`")
	fs.Var(&f.skip, "skip-check", "leave out a check `NAME` (packages, binfmt, privileges, space, cache, network, network:HOST)")
	fs.BoolVar(&f.getTool, "get-tool", false, "when no rpi-image-gen tree is found, clone "+doctor.UpstreamRelease+" into ~/rpi-image-gen (or --rpi-image-gen DIR)")
	fs.BoolVar(&f.install, "install", false, "install the missing Debian packages with apt-get (as root, else through pkexec)")
	fs.BoolVar(&f.asJSON, "json", false, "print the checks as JSON")
	f.addCacheFlags(fs)
	if err := cli.Parse(fs, env, doctorUsage, args); err != nil {
		return nil, nil, err
	}
	if *cfg != "" {
		f.configs = append(f.configs, *cfg)
	}
	f.stage = runner.StageFull
	switch {
	case *fsOnly && *imgOnly:
		return nil, nil, cli.Usagef("doctor", "-f and -i exclude each other")
	case *fsOnly:
		f.stage = runner.StageFilesystem
	case *imgOnly:
		f.stage = runner.StageImage
	}
	for _, o := range fs.Args() {
		if err := runner.ValidateOverride(o); err != nil {
			return nil, nil, cli.Usagef("doctor", "%v", err)
		}
	}
	return f, fs.Args(), nil
}

func runDoctor(ctx context.Context, env *cli.Env, args []string) error {
	f, overrides, err := parseDoctor(env, args)
	if err != nil {
		return err
	}
	opts, err := doctorOptions(ctx, env, f, overrides)
	if err != nil {
		return err
	}
	if !f.asJSON {
		opts.Progress = func(c doctor.Check) { fmt.Fprint(env.Stdout, doctor.Report{Checks: []doctor.Check{c}}) }
	}
	rep := doctor.Run(ctx, withMachine(opts))
	if f.asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	if pk := rep.MissingPackages(); len(pk) > 0 && !f.asJSON {
		if err := offerInstall(ctx, env, pk, f.install); err != nil {
			return cli.Exit(1, err)
		}
	}
	if rep.Failed() {
		return cli.Exit(1, nil)
	}
	return nil
}

// doctorOptions finds (or gets) the tree and reads the config's plan.
func doctorOptions(ctx context.Context, env *cli.Env, f *doctorFlags, overrides []string) (doctor.Options, error) {
	toolDir, err := runner.FindTool(f.tool, env.Env)
	if err != nil && f.getTool {
		if toolDir, err = getTool(ctx, env, f.tool); err != nil {
			return doctor.Options{}, cli.Exit(1, err)
		}
	}
	if err != nil {
		toolDir = ""
	}
	opts := doctor.Options{ToolDir: toolDir, WorkDir: f.work, Cache: f.cache(env), Stage: f.stage, Skip: f.skip}
	if len(f.configs) == 0 {
		return opts, nil
	}
	if toolDir == "" {
		fmt.Fprintln(env.Stderr, "pistudio doctor: no rpi-image-gen tree: checking for a default build, not the config's layers")
		return opts, nil
	}
	plan, err := doctor.PlanFromConfig(f.configs[0], toolDir, f.sources, overrides)
	if err != nil {
		return opts, cli.Exit(2, err)
	}
	opts.Plan = &plan
	return opts, nil
}

// getTool clones the tree into dir (or the default place) with progress.
func getTool(ctx context.Context, env *cli.Env, dir string) (string, error) {
	if dir == "" {
		d, err := doctor.DefaultToolDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	fmt.Fprintf(env.Stdout, "getting rpi-image-gen %s from %s into %s\n", doctor.UpstreamRelease, doctor.UpstreamURL, dir)
	last := ""
	err := doctor.GetTool(ctx, dir, "", func(p doctor.CloneProgress) {
		if p.Phase == "" || p.Phase+fmt.Sprint(p.Percent/10) == last {
			return
		}
		last = p.Phase + fmt.Sprint(p.Percent/10)
		fmt.Fprintf(env.Stdout, "  %s %d%%\n", p.Phase, p.Percent)
	})
	if err != nil {
		return "", err
	}
	return dir, nil
}

// offerInstall shows the missing packages and, when asked, installs them
// (as root directly, else through pkexec); otherwise, or without a polkit
// agent, it prints the command.
func offerInstall(ctx context.Context, env *cli.Env, pkgs []string, install bool) error {
	fmt.Fprintf(env.Stdout, "\nmissing Debian packages: %s\n", strings.Join(pkgs, " "))
	if !install {
		fmt.Fprintf(env.Stdout, "install them with:\n  %s\n(or: pistudio doctor --install)\n", doctor.InstallCommand(pkgs))
		return nil
	}
	fmt.Fprintf(env.Stdout, "installing: %s\n", strings.Join(doctor.InstallArgv(pkgs), " "))
	err := doctor.Install(ctx, pkgs, doctor.InstallOptions{Out: env.Stdout})
	var ns *doctor.NeedsSudoError
	if errors.As(err, &ns) {
		fmt.Fprintf(env.Stdout, "no polkit authentication agent is running, so the password cannot be asked for here; run:\n  %s\n", ns.Command)
	}
	return err
}

// ErrDoctorFailed is wrapped by the error a build refused by the doctor
// exits with.
var ErrDoctorFailed = errors.New("the host checks found problems that make this build fail")

// doctorSkips maps build's --skip-check names to the doctor's checks.
var doctorSkips = map[string][]string{
	runner.CheckBinfmt:     {doctor.IDBinfmt},
	runner.CheckPrivileges: {doctor.IDPrivileges},
	runner.CheckWorkDir:    {doctor.IDSpace},
	runner.CheckTool:       {doctor.IDTool},
}

// doctorGate runs the doctor for each job before a build starts and
// refuses the build, saying why, when a check fails. --skip-check doctor
// (or all) starts anyway.
func doctorGate(ctx context.Context, env *cli.Env, f *buildFlags, jobs []runner.Job) error {
	skip := []string{doctor.IDCache}
	for _, s := range f.skip {
		if s == "doctor" || s == "all" {
			return nil
		}
		skip = append(skip, s)
		skip = append(skip, doctorSkips[s]...)
	}
	failed := false
	for _, j := range jobs {
		o := doctor.ForJob(j, doctor.Options{Cache: f.cache(env), Skip: skip})
		rep := doctor.Run(ctx, withMachine(o))
		if !rep.Failed() {
			continue
		}
		failed = true
		fmt.Fprintf(env.Stderr, "pistudio build: %s: this build would fail:\n", j.Config)
		failures := doctor.Report{Checks: rep.Failures()}
		fmt.Fprint(env.Stderr, failures)
		if pk := failures.MissingPackages(); len(pk) > 0 {
			fmt.Fprintf(env.Stderr, "install the missing packages with:\n  %s\n", doctor.InstallCommand(pk))
		}
	}
	if failed {
		fmt.Fprintln(env.Stderr, "fix these (pistudio doctor checks again), or start anyway with --skip-check doctor")
		return cli.Exit(1, ErrDoctorFailed)
	}
	return nil
}
