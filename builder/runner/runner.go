// Package runner runs rpi-image-gen's build stages for Pi Image Studio.
//
// Start builds the exact command line (see Argv), starts the tool in its
// own process group with a cleaned environment (see ToolEnv), and turns
// its output into events: log lines (escape codes stripped, known failures
// explained), stage starts and ends parsed from the tool's
// "ESC[1m==> NAME ESC[0m" headers, and a final result with the artifacts
// of the image stage.
//
// Every line goes to <work>/logs/<UTC time>-<stage>.log in arrival order:
// stdout lines as they are, stderr lines prefixed "[err] ", the runner's
// own lines prefixed "[pistudio] ". Order within a stream is exact; order
// between stdout and stderr is the order the lines reached the runner. A
// JSON Record is written beside the log.
//
// Subscribers get events through bounded buffers that drop the oldest log
// lines (and say so with EventDropped) instead of ever slowing the tool.
//
// Stages: Filesystem runs `build -f`, Image runs `build -i`, Full runs
// `build` with neither flag, which makes the tool run every stage in one
// invocation (one process, one log, the stage events in the tool's own
// order). The artefact version is pinned with -- IGconf_artefact_version
// so that an image stage on a later day finds the same chroot-<ver>.
//
// A Full or Filesystem build whose inputs did not change since the last
// filesystem build of its chroot-<ver> reuses that filesystem (see
// FilesystemStamp): Full then runs only the image stage, Filesystem
// nothing; Cache.NoReuse turns this off.
package runner

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pistudio/pistudio/builder/runner/cause"
)

// Stage selects what a job builds.
type Stage int

// The stages a job can run.
const (
	// StageFull builds the filesystem and then the image.
	StageFull Stage = iota
	// StageFilesystem builds only the filesystem (-f).
	StageFilesystem
	// StageImage builds only the image from an earlier filesystem (-i).
	StageImage
	// StageClean runs the tool's clean command.
	StageClean
)

// String names the stage as it appears in log file names.
func (s Stage) String() string {
	switch s {
	case StageFull:
		return "full"
	case StageFilesystem:
		return "filesystem"
	case StageImage:
		return "image"
	case StageClean:
		return "clean"
	}
	return "unknown"
}

// ParseStage maps "full", "filesystem" and "image" to a Stage.
func ParseStage(s string) (Stage, error) {
	for _, st := range []Stage{StageFull, StageFilesystem, StageImage, StageClean} {
		if st.String() == s {
			return st, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown stage %q", ErrInvalidJob, s)
}

// NativeDirs tells a NativeImage hook where to read and write.
type NativeDirs struct {
	// Filesystem is stage 1's root filesystem: <work>/chroot-<ver>/filesystem.
	Filesystem string
	// Image is the output dir: <work>/image-<name>.
	Image string
	// Version is the pinned artefact version.
	Version string
}

// NativeImageStage is the stage name reported while a NativeImage hook runs.
const NativeImageStage = "native_image"

// Job describes one build.
type Job struct {
	// Config is the path of the YAML config; it is passed absolute.
	Config string
	// Stage is what to build.
	Stage Stage
	// ToolDir is the rpi-image-gen checkout holding the rpi-image-gen script.
	ToolDir string
	// WorkDir is the build dir (-B); it is created when missing.
	WorkDir string
	// SourceDirs are extra source dirs, merged over our own layers.
	SourceDirs []string
	// Overrides are KEY=VALUE pairs passed after --.
	Overrides []string
	// ImageName is image.name from the config; it locates the artifacts.
	ImageName string
	// ArtefactVersion is the config's artefact version, if it sets one.
	ArtefactVersion string
	// Firstboot is the first-boot settings reader the config's layers
	// install ("cloudinit", "rpi-preseed", "none"); "" when not known.
	Firstboot string
	// NativeImage, when set, builds the image instead of the tool's -i.
	// It gets a context cancelled with the run, where stage 1 left the root
	// filesystem and where the images go, and a function that logs a line;
	// its artifacts become the run's.
	NativeImage func(ctx context.Context, dirs NativeDirs, logf func(string)) ([]Artifact, error)
	// Stdin feeds the tool's standard input (answers to clean's prompts);
	// nil means no input.
	Stdin io.Reader
}

// Options tune how a job runs.
type Options struct {
	// KillGrace is the time between SIGTERM and SIGKILL on cancel; 10 s
	// when zero.
	KillGrace time.Duration
	// EventBuffer is the buffer size of the Events subscription; 10000
	// when zero.
	EventBuffer int
	// SkipPreflight skips all preflight checks.
	SkipPreflight bool
	// SkipChecks names preflight checks to skip (CheckBinfmt, ...).
	SkipChecks []string
	// Host replaces parts of the machine the preflight checks look at.
	Host Host
	// Environ is the environment to start from; nil means os.Environ().
	Environ []string
	// Dir is the tool's working directory; the tool dir when empty.
	Dir string
	// Cache is the per-user cache of host tools and apt packages shared by
	// every work dir; the zero value uses none.
	Cache Cache
}

// State is how a run ended (or that it has not yet).
type State string

// The states of a run.
const (
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// Result is the outcome of a run.
type Result struct {
	State State
	// ExitStatus is the tool's exit status; -1 when it was killed by a
	// signal, 1 when the native image hook failed.
	ExitStatus int
	Start, End time.Time
	Duration   time.Duration
	Stages     []StageTiming
	Artifacts  []Artifact
	// Argv is the tool's command line (nil when only the hook ran).
	Argv       []string
	LogPath    string
	RecordPath string
	// Hints are the distinct explanations of known failure lines seen
	// during the run, in order (at most 10).
	Hints []string
	// Cause is the one reason a failed run failed (the first real cause
	// in the tool's output, else the runner's own error); nil when the
	// run succeeded or was cancelled.
	Cause *cause.Cause
	// Err says why a run did not succeed.
	Err error
	// Reused is the log of the earlier run whose filesystem this run
	// reused instead of building one; "" when it built its own or none.
	Reused string
}

// Run is a started job.
type Run struct {
	job    Job
	opts   Options
	argv   []string
	env    []string
	marker string
	ver    string
	checks []Check

	ctx    context.Context
	cancel context.CancelFunc

	hub    hub
	events *Subscription

	// notes are lines for the log from before it was open (the cache,
	// the filesystem reuse).
	notes  []string
	srcDir string
	// fsIn are the digests of what the run's filesystem build reads (nil
	// when the run builds none); reused is the stamp of the filesystem it
	// reuses instead.
	fsIn   *FilesystemInputs
	reused *FilesystemStamp

	mu        sync.Mutex // guards log writing and stage state
	finder    cause.Finder
	logf      *os.File
	logw      *bufio.Writer
	nlines    int
	hints     []string
	stages    []StageTiming
	cur       *StageTiming
	cancelled bool
	cancelAt  time.Time

	rec    Record
	result Result
	done   chan struct{}
}

// Start validates job, runs the preflight checks, writes our layers and
// starts the build. The run stops early when ctx is cancelled (as with
// Cancel). It returns a PreflightError when a check fails.
func Start(ctx context.Context, job Job, opts Options) (*Run, error) {
	if opts.KillGrace <= 0 {
		opts.KillGrace = 10 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 10000
	}
	if job.Config == "" {
		return nil, fmt.Errorf("%w: no config file", ErrInvalidJob)
	}
	if job.WorkDir == "" {
		return nil, fmt.Errorf("%w: no work dir", ErrInvalidJob)
	}
	var err error
	if job.Config, err = filepath.Abs(job.Config); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	if job.WorkDir, err = filepath.Abs(job.WorkDir); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	for _, o := range job.Overrides {
		if err := ValidateOverride(o); err != nil {
			return nil, err
		}
	}
	cfgBytes, err := os.ReadFile(job.Config)
	if err != nil {
		return nil, fmt.Errorf("%w: reading config: %w", ErrInvalidJob, err)
	}
	needTool := !(job.Stage == StageImage && job.NativeImage != nil)
	checks, err := preflightJob(job, opts, needTool)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(job.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating work dir: %w", err)
	}
	start := time.Now()
	r := &Run{job: job, opts: opts, checks: checks, done: make(chan struct{})}
	// The version is resolved even when only the native image hook runs:
	// it names the chroot-<ver> folder the hook reads.
	if r.ver, err = resolveVersion(job, start); err != nil {
		return nil, err
	}
	if needTool {
		if err := r.prepareTool(); err != nil {
			return nil, err
		}
	}
	if err := r.planFilesystem(ctx); err != nil {
		return nil, err
	}
	needTool = r.argv != nil
	logPath, recPath, err := newLogPaths(job.WorkDir, job.Stage.String(), start)
	if err != nil {
		return nil, err
	}
	if r.logf, err = os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, fmt.Errorf("opening log: %w", err)
	}
	r.logw = bufio.NewWriterSize(r.logf, 256<<10)
	r.rec = Record{
		Config: job.Config, ConfigSHA256: digest(cfgBytes), Stage: job.Stage.String(),
		ToolDir: job.ToolDir, WorkDir: job.WorkDir, ImageName: job.ImageName, ArtefactVersion: r.ver,
		Firstboot: job.Firstboot,
		Argv:      r.argv, Start: start, State: Running, Log: filepath.Base(logPath), Path: recPath,
		Overrides: job.Overrides, Env: RecordedEnv(r.env), PID: os.Getpid(),
	}
	r.result = Result{State: Running, Start: start, Argv: r.argv, LogPath: logPath, RecordPath: recPath}
	_ = writeRecord(recPath, &r.rec)
	r.events = r.hub.subscribe(opts.EventBuffer)
	r.ctx, r.cancel = context.WithCancel(ctx)

	for _, n := range r.notes {
		r.internal(n)
	}
	if r.reused != nil {
		r.reusedStage(start)
	}
	for _, c := range checks {
		if c.Warning {
			r.internal("warning: " + c.Msg + fixSuffix(c.Fix))
		}
	}
	var cmd *exec.Cmd
	var outR, errR *os.File
	if needTool {
		r.internal("running " + quoteArgv(r.argv))
		cmd, outR, errR, err = r.startTool()
		if err != nil {
			r.internal("error: " + err.Error())
			r.closeLog()
			r.rec.State, r.rec.Error, r.rec.End = Failed, err.Error(), time.Now()
			_ = writeRecord(recPath, &r.rec)
			r.cancel()
			return nil, err
		}
	}
	go r.run(cmd, outR, errR)
	return r, nil
}

// preflightJob runs the preflight checks a job needs and fails with a
// PreflightError when one fails.
func preflightJob(job Job, opts Options, needTool bool) ([]Check, error) {
	if opts.SkipPreflight {
		return nil, nil
	}
	skip := append([]string(nil), opts.SkipChecks...)
	if !needTool {
		skip = append(skip, CheckTool)
	}
	if job.Stage == StageClean {
		skip = append(skip, CheckBinfmt)
	}
	checks := Preflight(job, opts.Host, skip...)
	for _, c := range checks {
		if !c.OK {
			return nil, &PreflightError{Checks: checks}
		}
	}
	return checks, nil
}

// prepareTool writes the merged source dir, builds the tool's argv and
// environment (with the run marker) and applies the cache.
func (r *Run) prepareTool() error {
	src, err := prepareSourceDir(r.job.WorkDir, r.job.SourceDirs)
	if err != nil {
		return err
	}
	r.srcDir = src
	if r.argv, err = Argv(r.job, src, r.ver); err != nil {
		return err
	}
	var mk [8]byte
	_, _ = rand.Read(mk[:])
	r.marker = hex.EncodeToString(mk[:])
	env := r.opts.Environ
	if env == nil {
		env = os.Environ()
	}
	r.env = ToolEnv(env)
	if r.notes, err = r.opts.Cache.prepare(r.job, &r.env, &r.argv); err != nil {
		return err
	}
	r.env = append(r.env, markerVar+"="+r.marker)
	return nil
}

func fixSuffix(fix string) string {
	if fix == "" {
		return ""
	}
	return " (fix: " + fix + ")"
}

func quoteArgv(argv []string) string {
	s := ""
	for i, a := range argv {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%q", a)
	}
	return s
}

func (r *Run) startTool() (*exec.Cmd, *os.File, *os.File, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, nil, nil, fmt.Errorf("creating pipe: %w", err)
	}
	cmd := exec.Command(r.argv[0], r.argv[1:]...)
	cmd.Env = r.env
	cmd.Dir = r.opts.Dir
	if cmd.Dir == "" {
		cmd.Dir = r.job.ToolDir
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.Stdin = r.job.Stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, nil, nil, fmt.Errorf("starting rpi-image-gen: %w", err)
	}
	return cmd, outR, errR, nil
}

// Events returns the channel of the subscription made when the run
// started, so it misses nothing. It is closed after EventFinished. A
// consumer that stops reading must call Unsubscribe (or the events are
// simply dropped, oldest first, without slowing the build).
func (r *Run) Events() <-chan Event { return r.events.C() }

// Unsubscribe releases the Events subscription.
func (r *Run) Unsubscribe() { r.events.Close() }

// Subscribe returns a new subscription with a buffer of n events; it
// sees events from now on. Close it when done.
func (r *Run) Subscribe(n int) *Subscription { return r.hub.subscribe(n) }

// Checks returns the preflight checks that ran before the start.
func (r *Run) Checks() []Check { return append([]Check(nil), r.checks...) }

// Argv returns the tool's command line (nil when only the hook runs).
func (r *Run) Argv() []string { return append([]string(nil), r.argv...) }

// LogPath is the run's log file.
func (r *Run) LogPath() string { return r.result.LogPath }

// ArtefactVersion is the version the run pinned.
func (r *Run) ArtefactVersion() string { return r.ver }

// Done is closed when the run has ended and its record is written.
func (r *Run) Done() <-chan struct{} { return r.done }

// Cancel stops the run: SIGTERM to its process group (and processes that
// left it), SIGKILL after Options.KillGrace. The run ends Cancelled.
func (r *Run) Cancel() { r.cancel() }

// Wait waits for the end of the run and returns its result.
func (r *Run) Wait() Result {
	<-r.done
	return r.result
}

// internal logs a line of the runner itself.
func (r *Run) internal(text string) { r.line(Internal, text) }

// line handles one output line: log file, stage headers, explanation, events.
func (r *Run) line(stream Stream, raw string) {
	text := StripANSI(raw)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nlines++
	if r.logw != nil {
		switch stream {
		case Stderr:
			r.logw.WriteString("[err] ")
		case Internal:
			r.logw.WriteString("[pistudio] ")
		}
		r.logw.WriteString(text)
		r.logw.WriteByte('\n')
	}
	if stream != Internal && strings.Contains(text, "==> ") {
		if name, ok := ParseStageHeader(text); ok {
			r.startStageLocked(name, now)
		}
	}
	ev := Event{Kind: EventLog, Time: now, Stream: stream, Text: text}
	if stream != Internal {
		r.finder.Line(text)
		if ex, ok := Explain(text); ok {
			ev.Explain = ex
			r.addHintLocked(ex)
		}
	}
	r.hub.publish(ev)
}

func (r *Run) addHintLocked(h string) {
	if len(r.hints) >= 10 {
		return
	}
	for _, x := range r.hints {
		if x == h {
			return
		}
	}
	r.hints = append(r.hints, h)
}

func (r *Run) startStageLocked(name string, now time.Time) {
	r.endStageLocked(now, true, false)
	r.cur = &StageTiming{Name: name, Start: now}
	if r.logw != nil {
		r.logw.Flush()
	}
	r.hub.publish(Event{Kind: EventStageStarted, Time: now, Stage: name})
}

func (r *Run) endStageLocked(now time.Time, ok, cancelled bool) {
	if r.cur == nil {
		return
	}
	st := *r.cur
	st.End, st.Duration, st.OK, st.Cancelled = now, now.Sub(st.Start), ok, cancelled && !ok
	r.stages = append(r.stages, st)
	r.cur = nil
	r.hub.publish(Event{Kind: EventStageFinished, Time: now, Stage: st.Name, Duration: st.Duration, OK: ok, Cancelled: st.Cancelled, Reused: st.Reused})
}

func (r *Run) closeLog() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logw != nil {
		r.logw.Flush()
		r.logw = nil
	}
	if r.logf != nil {
		r.logf.Close()
		r.logf = nil
	}
}

// readLines feeds each line of f to r.line.
func (r *Run) readLines(f *os.File, stream Stream, wg *sync.WaitGroup) {
	defer wg.Done()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 { // a line, a final unterminated line, or a chunk of an overlong line
			r.line(stream, string(b))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// run supervises the tool and the hook until the end, then finishes.
func (r *Run) run(cmd *exec.Cmd, outR, errR *os.File) {
	exit := 0
	var runErr error
	if cmd != nil {
		exit, runErr = r.superviseTool(cmd, outR, errR)
	}
	if cmd != nil {
		r.keepHostTools()
		switch {
		case r.reused != nil && (runErr != nil || r.isCancelled()):
			r.dropReused()
		case runErr == nil && !r.isCancelled(), r.filesystemStageDone():
			r.stampFilesystem()
		}
	}
	var artifacts []Artifact
	if runErr == nil && !r.isCancelled() && r.job.NativeImage != nil &&
		(r.job.Stage == StageFull || r.job.Stage == StageImage) {
		now := time.Now()
		r.mu.Lock()
		r.startStageLocked(NativeImageStage, now)
		r.mu.Unlock()
		dirs := NativeDirs{
			Filesystem: filepath.Join(r.job.WorkDir, "chroot-"+r.ver, "filesystem"),
			Image:      ImageDir(r.job.WorkDir, r.job.ImageName),
			Version:    r.ver,
		}
		arts, err := r.job.NativeImage(r.ctx, dirs, func(s string) { r.internal(s) })
		r.mu.Lock()
		r.endStageLocked(time.Now(), err == nil, r.cancelled || r.ctx.Err() != nil)
		r.mu.Unlock()
		if err != nil {
			runErr = fmt.Errorf("native image build: %w", err)
			exit = 1
		}
		artifacts = arts
	} else if runErr == nil && !r.isCancelled() && (r.job.Stage == StageFull || r.job.Stage == StageImage) {
		dir := ""
		if r.job.ImageName != "" {
			dir = ImageDir(r.job.WorkDir, r.job.ImageName)
		} else {
			dir = freshImageDir(r.job.WorkDir, r.result.Start)
		}
		if dir == "" {
			r.internal("artifacts unknown: image.name is not set in the job and no single image-* folder was written")
		} else {
			arts, err := ScanArtifacts(dir)
			if err != nil {
				r.internal("no artifacts: " + err.Error())
			}
			artifacts = append(arts, r.imagerManifests(arts)...)
		}
	}
	r.finish(exit, runErr, artifacts)
}

// keepHostTools copies the host tools the run downloaded into the cache.
func (r *Run) keepHostTools() {
	if r.opts.Cache.Dir == "" {
		return
	}
	added, err := r.opts.Cache.Keep(r.job.ToolDir, r.job.WorkDir)
	switch {
	case err != nil:
		r.internal("warning: " + err.Error())
	case len(added) > 0:
		r.internal("cache: kept " + strings.Join(added, ", ") + " in " + r.opts.Cache.HostToolsDir())
	}
}

func (r *Run) isCancelled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelled
}

// superviseTool reads the tool's output, waits for it, stops it on cancel
// and makes sure nothing of it is left running.
func (r *Run) superviseTool(cmd *exec.Cmd, outR, errR *os.File) (int, error) {
	pgid := cmd.Process.Pid
	var wg sync.WaitGroup
	wg.Add(2)
	go r.readLines(outR, Stdout, &wg)
	go r.readLines(errR, Stderr, &wg)

	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	// cancellation: SIGTERM now, SIGKILL after the grace
	cancelDone := make(chan struct{})
	go func() {
		defer close(cancelDone)
		select {
		case <-r.ctx.Done():
		case <-exited:
			return
		}
		r.mu.Lock()
		r.cancelled = true
		r.cancelAt = time.Now()
		r.mu.Unlock()
		r.internal(fmt.Sprintf("cancelling: SIGTERM to process group %d, SIGKILL in %s", pgid, r.opts.KillGrace))
		signalRun(pgid, r.marker, syscall.SIGTERM)
		t := time.NewTimer(r.opts.KillGrace)
		defer t.Stop()
		select {
		case <-t.C:
			signalRun(pgid, r.marker, syscall.SIGKILL)
		case <-exited:
		}
	}()

	<-exited
	// Leftovers (children that ignore SIGTERM or left the group): stop
	// them now, within the grace that started at cancel (or now).
	r.mu.Lock()
	deadline := time.Now().Add(r.opts.KillGrace)
	if r.cancelled {
		deadline = r.cancelAt.Add(r.opts.KillGrace)
	}
	r.mu.Unlock()
	if len(runProcs(pgid, r.marker)) > 0 {
		if !r.isCancelled() {
			r.internal("rpi-image-gen exited but left processes running; stopping them")
		}
		if !reap(pgid, r.marker, deadline) {
			r.internal("warning: some processes of the run could not be stopped")
		}
	}
	<-cancelDone

	// Output still held open by an escaped process must not hang us.
	readersDone := make(chan struct{})
	go func() { wg.Wait(); close(readersDone) }()
	// Readers may still be draining; give up only when no line arrived
	// for a while (an escaped process keeps the pipe open).
	last := -1
	tick := time.NewTicker(3 * time.Second)
wait:
	for {
		select {
		case <-readersDone:
			break wait
		case <-tick.C:
			r.mu.Lock()
			n := r.nlines
			r.mu.Unlock()
			if n == last {
				r.internal("warning: output still open after the build ended; closing it")
				outR.Close()
				errR.Close()
				<-readersDone
				break wait
			}
			last = n
		}
	}
	tick.Stop()
	outR.Close()
	errR.Close()

	exit := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			exit = ee.ExitCode()
		} else {
			return -1, fmt.Errorf("waiting for rpi-image-gen: %w", waitErr)
		}
	}
	if exit != 0 {
		return exit, fmt.Errorf("rpi-image-gen exited with status %d", exit)
	}
	return 0, nil
}

// ErrCancelled is the Err of a cancelled run.
var ErrCancelled = errors.New("build cancelled")

func (r *Run) finish(exit int, runErr error, artifacts []Artifact) {
	end := time.Now()
	r.mu.Lock()
	cancelled := r.cancelled || (r.ctx.Err() != nil && runErr != nil)
	r.endStageLocked(end, runErr == nil && !cancelled, cancelled)
	stages := append([]StageTiming(nil), r.stages...)
	hints := append([]string(nil), r.hints...)
	found, foundOK := r.finder.Cause()
	r.mu.Unlock()

	state := Succeeded
	switch {
	case cancelled:
		state, runErr = Cancelled, ErrCancelled
	case runErr != nil:
		state = Failed
	}
	var why *cause.Cause
	if state == Failed {
		why = runCause(runErr, found, foundOK)
	}
	r.logEnd(state, exit, end.Sub(r.result.Start), runErr, why)
	r.closeLog()
	r.result.State, r.result.ExitStatus, r.result.End = state, exit, end
	r.result.Duration = end.Sub(r.result.Start)
	r.result.Stages, r.result.Artifacts, r.result.Err = stages, artifacts, runErr
	r.result.Hints, r.rec.Hints = hints, hints
	r.result.Cause, r.rec.Cause = why, why
	r.rec.End, r.rec.ExitStatus, r.rec.State = end, exit, state
	r.rec.Stages, r.rec.Artifacts = stages, artifacts
	if r.rec.Stages == nil {
		r.rec.Stages = []StageTiming{}
	}
	if r.rec.Artifacts == nil {
		r.rec.Artifacts = []Artifact{}
	}
	if runErr != nil {
		r.rec.Error = runErr.Error()
	}
	if err := writeRecord(r.result.RecordPath, &r.rec); err != nil && r.result.Err == nil {
		r.result.Err = err
	}
	res := r.result
	r.hub.publish(Event{Kind: EventFinished, Time: end, Result: &res})
	r.hub.close()
	r.cancel()
	close(r.done)
}

// runCause is the cause of a failed run: the first real cause in the
// tool's output, else one made of the runner's own error.
func runCause(runErr error, found cause.Cause, ok bool) *cause.Cause {
	if ok {
		return &found
	}
	c := cause.Cause{Kind: cause.Runner, Summary: "the build failed", Fix: "Read the log for the lines before the failure."}
	if runErr != nil {
		c.Summary = runErr.Error()
	}
	var rf interface{ Fix() string }
	if errors.As(runErr, &rf) && rf.Fix() != "" {
		c.Fix = rf.Fix()
	}
	return &c
}

// logEnd writes the run's last lines: the outcome once, and for a failure
// the error, its cause and the fix, so the terminal, the log and the
// record all say why.
func (r *Run) logEnd(state State, exit int, d time.Duration, runErr error, why *cause.Cause) {
	d = d.Round(time.Millisecond)
	switch state {
	case Succeeded:
		r.internal(fmt.Sprintf("build succeeded in %s", d))
		return
	case Cancelled:
		r.internal(fmt.Sprintf("build cancelled after %s", d))
		return
	}
	r.internal(fmt.Sprintf("build failed (exit status %d) after %s", exit, d))
	if runErr != nil {
		r.internal("error: " + runErr.Error())
	}
	if why != nil {
		if why.Kind != cause.Runner {
			r.internal("cause: " + why.Summary)
		}
		r.internal("fix: " + why.Fix)
	}
}
