package buildcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/doctor"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/units"
)

const (
	buildUsage   = "-c FILE [-c FILE]... [-f|-i] [--rpi-image-gen DIR] [-S DIR]... [-B DIR] [--engine auto|native|rpi-image-gen] [--skip-check NAME]... [--cache DIR|--no-cache] [--offline auto|on|off] [--rebuild] [-- KEY=VALUE...]"
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

	cacheDir string
	noCache  bool
	offline  string
	rebuild  bool
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
		return runner.Job{}, cli.Exit(1, fmt.Errorf("%w\nor let pistudio get it (%s into ~/rpi-image-gen) and check this machine: pistudio doctor --get-tool", err, doctor.UpstreamRelease))
	}
	return runner.Job{}, cli.Exit(2, err)
}

func (f *buildFlags) options(env *cli.Env) runner.Options {
	o := runner.Options{KillGrace: f.grace, Cache: f.cache(env)}
	for _, s := range f.skip {
		if s == "all" {
			o.SkipPreflight = true
		}
		o.SkipChecks = append(o.SkipChecks, s)
	}
	return o
}

// addCacheFlags declares the cache options build and doctor share.
func (f *buildFlags) addCacheFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.cacheDir, "cache", "", "per-user cache `DIR` of host tools and apt packages, shared by every work dir (default $XDG_CACHE_HOME/pistudio)")
	fs.BoolVar(&f.noCache, "no-cache", false, "use no cache: each work dir downloads the host tools itself, and every build builds its filesystem")
	fs.StringVar(&f.offline, "offline", runner.OfflineAuto, "IG_OFFLINE `MODE`: auto (on when the cache holds every host tool), on or off")
}

// cache is the runner cache the flags and the environment select.
func (f *buildFlags) cache(env *cli.Env) runner.Cache {
	if f.noCache {
		return runner.Cache{}
	}
	dir := f.cacheDir
	if dir == "" {
		dir = defaultCacheDir(env)
	}
	return runner.Cache{Dir: dir, Offline: f.offline, NoReuse: f.rebuild}
}

// defaultCacheDir is $XDG_CACHE_HOME/pistudio, else ~/.cache/pistudio,
// else "" (no cache) when neither is known.
func defaultCacheDir(env *cli.Env) string {
	if d := env.Env("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "pistudio")
	}
	if h := env.Env("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".cache", "pistudio")
	}
	return ""
}

// parseBuild reads build's command line.
func parseBuild(env *cli.Env, args []string) (*buildFlags, runner.Stage, []string, error) {
	fs := cli.NewFlagSet("build")
	f := &buildFlags{}
	fs.Var(&f.configs, "c", "config `FILE` (YAML); repeat to build several configs one after another")
	fsOnly := fs.Bool("f", false, "build the filesystem only")
	imgOnly := fs.Bool("i", false, "build the image only (from an earlier -f)")
	fs.StringVar(&f.tool, "rpi-image-gen", "", "rpi-image-gen checkout `DIR`")
	fs.Var(&f.sources, "S", "extra source `DIR` (repeatable), merged over Pi Image Studio's own layers")
	fs.StringVar(&f.work, "B", "work", "work (build) `DIR`; logs go to DIR/logs")
	fs.Var(&f.skip, "skip-check", "skip a check `NAME` (tool, binfmt, privileges, workdir, packages, network, doctor, all)")
	fs.DurationVar(&f.grace, "kill-grace", 10*time.Second, "time between SIGTERM and SIGKILL when cancelled")
	fs.StringVar(&f.engine, "engine", "auto", "image `ENGINE`: auto (native for raid, rpi-image-gen otherwise), native or rpi-image-gen")
	f.addCacheFlags(fs)
	fs.BoolVar(&f.rebuild, "rebuild", false, "build the filesystem even when the work dir holds one built from the same config, layers, tree and archive")
	if err := cli.Parse(fs, env, buildUsage, args); err != nil {
		return nil, 0, nil, err
	}
	if len(f.configs) == 0 {
		return nil, 0, nil, cli.Usagef("build", "-c FILE is required")
	}
	if *fsOnly && *imgOnly {
		return nil, 0, nil, cli.Usagef("build", "-f and -i exclude each other (give neither to build both)")
	}
	switch f.offline {
	case runner.OfflineAuto, runner.OfflineOn, runner.OfflineOff:
	default:
		return nil, 0, nil, cli.Usagef("build", "--offline must be auto, on or off")
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
			return nil, 0, nil, cli.Usagef("build", "%v", err)
		}
	}
	return f, stage, overrides, nil
}

func runBuild(ctx context.Context, env *cli.Env, args []string) error {
	f, stage, overrides, err := parseBuild(env, args)
	if err != nil {
		return err
	}
	var jobs []runner.Job
	for _, c := range f.configs {
		job, err := jobFor(env, f, c, stage, overrides)
		if err != nil {
			return err
		}
		jobs = append(jobs, job)
	}
	if err := doctorGate(ctx, env, f, jobs); err != nil {
		return err
	}
	results := runner.RunBatch(ctx, jobs, f.options(env), func(i int, r *runner.Run) {
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
	for _, b := range results {
		reportFailure(env.Stderr, b)
	}
	if len(results) == 1 {
		return singleExit(env, results[0], stage)
	}
	return summaryExit(env, results)
}

// reportFailure says on stderr why a job did not build: the error that
// kept it from starting, or its run's cause and fix.
func reportFailure(w io.Writer, b runner.BatchResult) {
	switch {
	case b.Err != nil && !errors.Is(b.Err, runner.ErrCancelled):
		fmt.Fprintf(w, "pistudio build: %s: %v\n", b.Job.Config, b.Err)
	case b.Result.State == runner.Failed && b.Result.Cause != nil:
		fmt.Fprintf(w, "pistudio build: %s: %s\n  fix: %s\n", b.Job.Config, b.Result.Cause.Summary, b.Result.Cause.Fix)
	}
}

// singleExit prints the artifacts of a one-config build and picks its exit.
func singleExit(env *cli.Env, b runner.BatchResult, stage runner.Stage) error {
	printArtifacts(env.Stdout, b)
	switch {
	case b.Result.State == runner.Cancelled:
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

// summaryExit prints one line per config of a batch and picks the exit.
func summaryExit(env *cli.Env, results []runner.BatchResult) error {
	fmt.Fprintln(env.Stdout, "\nsummary:")
	failed, cancelled := false, false
	for _, b := range results {
		word, detail := summaryLine(b)
		switch word {
		case "CANCELLED":
			cancelled, failed = true, true
		case "FAILED":
			failed = true
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

func summaryLine(b runner.BatchResult) (word, detail string) {
	switch {
	case b.OK():
		for _, a := range b.Result.Artifacts {
			if a.Kind == runner.KindDiskImage || a.Kind == runner.KindSparse {
				return "SUCCESS", a.Path
			}
		}
		return "SUCCESS", ""
	case b.Result.State == runner.Cancelled:
		return "CANCELLED", ""
	case b.Err != nil && b.Result.LogPath == "":
		return "FAILED", b.Err.Error()
	case b.Result.State == runner.Succeeded:
		return "FAILED", "no disk image " + whereImages(b.Job)
	case b.Result.Cause != nil:
		return "FAILED", fmt.Sprintf("%s (log %s)", b.Result.Cause.Summary, b.Result.LogPath)
	}
	return "FAILED", fmt.Sprintf("exit status %d, log %s", b.Result.ExitStatus, b.Result.LogPath)
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
		printEvent(bw, e)
	}
}

func printEvent(bw *bufio.Writer, e runner.Event) {
	switch e.Kind {
	case runner.EventLog:
		if e.Stream == runner.Internal {
			bw.WriteString("[pistudio] ")
		}
		bw.WriteString(e.Text)
		bw.WriteByte('\n')
		if e.Explain != "" {
			fmt.Fprintf(bw, "[pistudio] hint: %s\n", e.Explain)
		}
	case runner.EventStageFinished:
		res := "done"
		switch {
		case e.Reused:
			fmt.Fprintf(bw, "[pistudio] stage %s reused (the filesystem of an earlier build)\n", e.Stage)
			return
		case e.Cancelled:
			res = "cancelled"
		case !e.OK:
			res = "FAILED"
		}
		fmt.Fprintf(bw, "[pistudio] stage %s %s in %s\n", e.Stage, res, e.Duration.Round(10*time.Millisecond))
	case runner.EventDropped:
		fmt.Fprintf(bw, "[pistudio] (%d lines not shown here; the log file has them)\n", e.Dropped)
	case runner.EventFinished:
		// The runner's last log lines already said how the build ended.
		fmt.Fprintf(bw, "[pistudio] log: %s\n[pistudio] record: %s\n", e.Result.LogPath, e.Result.RecordPath)
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
	now := time.Now()
	for _, r := range recs {
		state, exit, d := historyRow(r, now)
		fmt.Fprintf(env.Stdout, "%-20s %-10s %-9s %4s %10s  %s\n", r.Start.UTC().Format("2006-01-02 15:04:05"),
			r.Stage, state, exit, d, r.Config)
		fmt.Fprintf(env.Stdout, "%59s%s\n", "", filepath.Join(runner.LogDir(*work), r.Log))
		if r.State == runner.Failed && r.Cause != nil {
			fmt.Fprintf(env.Stdout, "%59scause: %s\n", "", r.Cause.Summary)
		}
		if r.Reused != "" {
			fmt.Fprintf(env.Stdout, "%59sfilesystem reused from %s\n", "", r.Reused)
		}
	}
	return nil
}

// historyRow is a record's state, exit and duration as history shows
// them: a build still running shows "running", no exit status and the
// time so far; one whose process died shows "died".
func historyRow(r runner.Record, now time.Time) (state, exit, dur string) {
	if r.State == runner.Running {
		if !r.Live() {
			return "died", "-", "-"
		}
		return "running", "-", r.Elapsed(now).Round(time.Second).String() + "+"
	}
	return string(r.State), strconv.Itoa(r.ExitStatus), roundDuration(r.Elapsed(now)).String()
}

// roundDuration keeps milliseconds under a second (a run that failed at
// once shows "1ms", not "0s") and whole seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
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
	r, err := runner.Start(ctx, job, f.options(env))
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
