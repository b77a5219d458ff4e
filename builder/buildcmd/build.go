package buildcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/units"
)

const (
	buildUsage   = "-c FILE [-c FILE]... [-f|-i] [--rpi-image-gen DIR] [-S DIR]... [-B DIR] [--engine auto|native|rpi-image-gen] [--skip-check NAME]... [-- KEY=VALUE...]"
	historyUsage = "[-B DIR] [--json]"
	cleanUsage   = "-c FILE [-B DIR] [--yes] [--rpi-image-gen DIR] [-S DIR]..."
)

func init() {
	register(cli.Command{
		Name:    "build",
		Usage:   buildUsage,
		Summary: "run rpi-image-gen's build stages for one or more configs, keeping a log and a record",
		Run:     runBuild,
	})
	register(cli.Command{
		Name:    "history",
		Usage:   historyUsage,
		Summary: "list the builds recorded in a work dir",
		Run:     runHistory,
	})
	register(cli.Command{
		Name:    "clean",
		Usage:   cleanUsage,
		Summary: "remove a config's build output with rpi-image-gen clean, after confirmation",
		Run:     runClean,
	})
}

// buildFlags are the options build and clean share.
type buildFlags struct {
	configs cli.StringList
	sources cli.StringList
	skip    cli.StringList
	tool    string
	work    string
	engine  string
	grace   time.Duration
}

// jobFor builds the runner job of one config through buildjob.New, the
// same constructor the GUI uses: a missing tool exits 1, a config that
// cannot be read exits 2.
func jobFor(env *cli.Env, f *buildFlags, cfgPath string, stage runner.Stage, overrides []string) (runner.Job, error) {
	engine, err := buildjob.ParseEngine(f.engine)
	if err != nil {
		return runner.Job{}, cli.Usagef("build", "--%v", err)
	}
	job, err := buildjob.New(cfgPath, stage, buildjob.Options{
		ToolDir: f.tool, Getenv: env.Env, WorkDir: f.work,
		SourceDirs: f.sources, Overrides: overrides, Engine: engine,
	})
	switch {
	case err == nil:
		return job, nil
	case errors.Is(err, runner.ErrToolNotFound):
		return runner.Job{}, cli.Exit(1, err)
	}
	return runner.Job{}, cli.Exit(2, err)
}

func (f *buildFlags) options() runner.Options {
	o := runner.Options{KillGrace: f.grace}
	for _, s := range f.skip {
		if s == "all" {
			o.SkipPreflight = true
		}
		o.SkipChecks = append(o.SkipChecks, s)
	}
	return o
}

func runBuild(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("build")
	var f buildFlags
	fs.Var(&f.configs, "c", "config `FILE` (YAML); repeat to build several configs one after another")
	fsOnly := fs.Bool("f", false, "build the filesystem only")
	imgOnly := fs.Bool("i", false, "build the image only (from an earlier -f)")
	fs.StringVar(&f.tool, "rpi-image-gen", "", "rpi-image-gen checkout `DIR`")
	fs.Var(&f.sources, "S", "extra source `DIR` (repeatable), merged over Pi Image Studio's own layers")
	fs.StringVar(&f.work, "B", "work", "work (build) `DIR`; logs go to DIR/logs")
	fs.Var(&f.skip, "skip-check", "skip a preflight check `NAME` (tool, binfmt, privileges, workdir, all)")
	fs.DurationVar(&f.grace, "kill-grace", 10*time.Second, "time between SIGTERM and SIGKILL when cancelled")
	fs.StringVar(&f.engine, "engine", "auto", "image `ENGINE`: auto (native for raid, rpi-image-gen otherwise), native or rpi-image-gen")
	if err := cli.Parse(fs, env, buildUsage, args); err != nil {
		return err
	}
	if len(f.configs) == 0 {
		return cli.Usagef("build", "-c FILE is required")
	}
	if *fsOnly && *imgOnly {
		return cli.Usagef("build", "-f and -i exclude each other (give neither to build both)")
	}
	stage := runner.StageFull
	switch {
	case *fsOnly:
		stage = runner.StageFilesystem
	case *imgOnly:
		stage = runner.StageImage
	}
	overrides := fs.Args()
	for _, o := range overrides {
		if err := runner.ValidateOverride(o); err != nil {
			return cli.Usagef("build", "%v", err)
		}
	}
	var jobs []runner.Job
	for _, c := range f.configs {
		job, err := jobFor(env, &f, c, stage, overrides)
		if err != nil {
			return err
		}
		jobs = append(jobs, job)
	}
	results := runner.RunBatch(ctx, jobs, f.options(), func(i int, r *runner.Run) {
		if len(jobs) > 1 {
			fmt.Fprintf(env.Stdout, "[pistudio] === %d/%d: %s (%s) ===\n", i+1, len(jobs), jobs[i].Config, jobs[i].Stage)
		}
		for _, c := range r.Checks() {
			if c.Warning {
				fmt.Fprintf(env.Stderr, "pistudio build: warning: %s\n", c.Msg)
			}
		}
		streamEvents(env.Stdout, r)
	})
	cancelled := false
	for _, b := range results {
		if b.Result.State == runner.Cancelled {
			cancelled = true
		}
		if b.Err != nil && !errors.Is(b.Err, runner.ErrCancelled) {
			fmt.Fprintf(env.Stderr, "pistudio build: %s: %v\n", b.Job.Config, b.Err)
		}
	}
	if len(results) == 1 {
		b := results[0]
		printArtifacts(env.Stdout, b)
		switch {
		case cancelled:
			fmt.Fprintln(env.Stderr, "pistudio build: cancelled; every process of the build was stopped")
			return cli.Exit(130, nil)
		case b.Err != nil && b.Result.LogPath == "":
			return cli.Exit(1, nil)
		case b.Result.State == runner.Succeeded && stage != runner.StageFilesystem && !b.ImagesOK:
			fmt.Fprintf(env.Stderr, "pistudio build: the build succeeded but left no disk image %s\n", whereImages(b.Job))
			return cli.Exit(1, nil)
		case b.Result.State == runner.Succeeded:
			return nil
		case b.Result.ExitStatus > 0:
			return cli.Exit(b.Result.ExitStatus, nil)
		}
		return cli.Exit(1, nil)
	}
	fmt.Fprintln(env.Stdout, "\nsummary:")
	failed := false
	for _, b := range results {
		word, detail := "SUCCESS", ""
		switch {
		case b.OK():
			for _, a := range b.Result.Artifacts {
				if a.Kind == runner.KindDiskImage || a.Kind == runner.KindSparse {
					detail = a.Path
					break
				}
			}
		case b.Result.State == runner.Cancelled:
			word, detail, failed = "CANCELLED", "", true
		default:
			word, failed = "FAILED", true
			switch {
			case b.Err != nil && b.Result.LogPath == "":
				detail = b.Err.Error()
			case b.Result.State == runner.Succeeded:
				detail = "no disk image " + whereImages(b.Job)
			default:
				detail = fmt.Sprintf("exit status %d, log %s", b.Result.ExitStatus, b.Result.LogPath)
			}
		}
		fmt.Fprintf(env.Stdout, "  %-9s %s  %s\n", word, b.Job.Config, detail)
	}
	switch {
	case cancelled:
		return cli.Exit(130, nil)
	case failed:
		return cli.Exit(1, nil)
	}
	return nil
}

// streamEvents prints a run's log and stage progress until it ends.
func streamEvents(w io.Writer, r *runner.Run) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	evs := r.Events()
	for {
		var e runner.Event
		var ok bool
		select {
		case e, ok = <-evs:
		default:
			bw.Flush() // nothing pending: show what we have
			e, ok = <-evs
		}
		if !ok {
			return
		}
		switch e.Kind {
		case runner.EventLog:
			bw.WriteString(e.Text)
			bw.WriteByte('\n')
			if e.Explain != "" {
				fmt.Fprintf(bw, "[pistudio] hint: %s\n", e.Explain)
			}
		case runner.EventStageFinished:
			res := "done"
			switch {
			case e.Cancelled:
				res = "cancelled"
			case !e.OK:
				res = "FAILED"
			}
			fmt.Fprintf(bw, "[pistudio] stage %s %s in %s\n", e.Stage, res, e.Duration.Round(10*time.Millisecond))
		case runner.EventDropped:
			fmt.Fprintf(bw, "[pistudio] (%d lines not shown here; the log file has them)\n", e.Dropped)
		case runner.EventFinished:
			res := e.Result
			fmt.Fprintf(bw, "[pistudio] build %s (exit status %d) in %s\n", res.State, res.ExitStatus, res.Duration.Round(time.Millisecond))
			fmt.Fprintf(bw, "[pistudio] log: %s\n[pistudio] record: %s\n", res.LogPath, res.RecordPath)
		}
	}
}

func printArtifacts(w io.Writer, b runner.BatchResult) {
	if len(b.Result.Artifacts) == 0 {
		return
	}
	fmt.Fprintln(w, "\nartifacts:")
	for _, a := range b.Result.Artifacts {
		fmt.Fprintf(w, "  %-16s %10s  %s\n", a.Kind, units.Binary(a.Size), a.Path)
	}
}

func runHistory(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("history")
	work := fs.String("B", "work", "work (build) `DIR`")
	asJSON := fs.Bool("json", false, "print the records as JSON")
	if err := cli.Parse(fs, env, historyUsage, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("history", "unexpected argument %q", fs.Arg(0))
	}
	recs, err := runner.History(*work)
	if err != nil {
		return err
	}
	if *asJSON {
		if recs == nil {
			recs = []runner.Record{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	}
	if len(recs) == 0 {
		fmt.Fprintf(env.Stdout, "no builds recorded in %s\n", runner.LogDir(*work))
		return nil
	}
	fmt.Fprintf(env.Stdout, "%-20s %-10s %-9s %4s %10s  %s\n", "START (UTC)", "STAGE", "STATE", "EXIT", "DURATION", "CONFIG / LOG")
	for _, r := range recs {
		d := r.End.Sub(r.Start).Round(time.Second)
		if r.End.IsZero() {
			d = 0
		}
		fmt.Fprintf(env.Stdout, "%-20s %-10s %-9s %4d %10s  %s\n", r.Start.UTC().Format("2006-01-02 15:04:05"),
			r.Stage, r.State, r.ExitStatus, d, r.Config)
		fmt.Fprintf(env.Stdout, "%59s%s\n", "", filepath.Join(runner.LogDir(*work), r.Log))
	}
	return nil
}

func runClean(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("clean")
	var f buildFlags
	cfgPath := fs.String("c", "", "config `FILE` (YAML)")
	fs.StringVar(&f.tool, "rpi-image-gen", "", "rpi-image-gen checkout `DIR`")
	fs.Var(&f.sources, "S", "extra source `DIR` (repeatable)")
	fs.StringVar(&f.work, "B", "work", "work (build) `DIR`")
	fs.Var(&f.skip, "skip-check", "skip a preflight check `NAME`")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := cli.Parse(fs, env, cleanUsage, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return cli.Usagef("clean", "-c FILE is required")
	}
	if fs.NArg() > 0 {
		return cli.Usagef("clean", "unexpected argument %q", fs.Arg(0))
	}
	job, err := jobFor(env, &f, *cfgPath, runner.StageClean, nil)
	if err != nil {
		return err
	}
	if !*yes {
		fmt.Fprintf(env.Stdout, "Remove the build output of %s in %s (the chroot-*, image-%s and deploy-* folders of this config)? [y/N] ",
			job.Config, job.WorkDir, job.ImageName)
		line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(env.Stdout, "nothing removed")
			return cli.Exit(1, nil)
		}
	}
	// rpi-image-gen asks "Remove ...? [Y/n]" once per folder; we answer
	// after our own confirmation. (At end of input it takes the default, yes.)
	job.Stdin = strings.NewReader(strings.Repeat("y\n", 8))
	r, err := runner.Start(ctx, job, f.options())
	if err != nil {
		return err
	}
	streamEvents(env.Stdout, r)
	res := r.Wait()
	switch {
	case res.State == runner.Cancelled:
		return cli.Exit(130, nil)
	case res.State == runner.Succeeded:
		return nil
	case res.ExitStatus > 0:
		return cli.Exit(res.ExitStatus, nil)
	}
	return cli.Exit(1, res.Err)
}

func whereImages(j runner.Job) string {
	if j.ImageName == "" {
		return "(image.name could not be read from the config, so no image-* folder was checked)"
	}
	return "in " + runner.ImageDir(j.WorkDir, j.ImageName)
}
