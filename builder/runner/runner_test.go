package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func toolDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testEnv is a base environment with values the runner must remove or reorder.
func testEnv(extra ...string) []string {
	env := []string{
		"HOME=" + os.Getenv("HOME"),
		"PATH=/opt/fake/bin:/usr/bin:/usr/local/bin",
		"IGconf_device_hostname=from-env",
		"IGconf_image_name=wrong",
		"LANG=C.UTF-8",
	}
	return append(env, extra...)
}

func testOpts(extra ...string) Options {
	return Options{
		KillGrace:  300 * time.Millisecond,
		SkipChecks: []string{CheckBinfmt, CheckPrivileges, CheckWorkDir},
		Environ:    testEnv(extra...),
	}
}

func writeConfig(t *testing.T, dir, name, extra string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	body := "device:\n  layer: rpi5\nimage:\n  layer: image-rpios\n  name: " + strings.TrimSuffix(name, ".yaml") + "\n" + extra
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newJob(t *testing.T, stage Stage, extraConfig string) Job {
	t.Helper()
	dir := t.TempDir()
	return Job{
		Config:    writeConfig(t, dir, "deb.yaml", extraConfig),
		Stage:     stage,
		ToolDir:   toolDir(t),
		WorkDir:   filepath.Join(dir, "work"),
		ImageName: "deb",
	}
}

func lines(t *testing.T, p string) []string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// collect reads every event of a run.
func collect(r *Run) []Event {
	var evs []Event
	for e := range r.Events() {
		evs = append(evs, e)
	}
	return evs
}

func stageNames(evs []Event, kind EventKind) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e.Stage)
		}
	}
	return out
}

func mustStart(t *testing.T, ctx context.Context, job Job, opts Options) *Run {
	t.Helper()
	r, err := Start(ctx, job, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return r
}

func TestArgvEnvAndPinnedVersion(t *testing.T) {
	job := newJob(t, StageFilesystem, "")
	job.Overrides = []string{"IGconf_device_user1=pi"}
	r := mustStart(t, context.Background(), job, testOpts())
	evs := collect(r)
	res := r.Wait()
	if res.State != Succeeded || res.ExitStatus != 0 {
		t.Fatalf("filesystem run: %v %d %v", res.State, res.ExitStatus, res.Err)
	}
	want := []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "deploy"}
	if got := stageNames(evs, EventStageStarted); !reflect.DeepEqual(got, want) {
		t.Errorf("stages started = %v, want %v", got, want)
	}
	if got := stageNames(evs, EventStageFinished); !reflect.DeepEqual(got, want) {
		t.Errorf("stages finished = %v, want %v", got, want)
	}
	ver, ok := RecordedConfigVersion(job.WorkDir, job.Config)
	if !ok {
		t.Fatal("no artefact version recorded")
	}
	rec := filepath.Join(job.WorkDir, ".standin")
	tool := filepath.Join(toolDir(t), "rpi-image-gen")
	src := SourceDir(job.WorkDir)
	wantArgv := []string{tool, "build", "-c", job.Config, "-S", src, "-B", job.WorkDir, "-f", "--",
		"IGconf_artefact_version=" + ver, "IGconf_device_user1=pi"}
	if got := lines(t, filepath.Join(rec, "0.argv")); !reflect.DeepEqual(got, wantArgv) {
		t.Errorf("argv = %q\nwant %q", got, wantArgv)
	}
	if !reflect.DeepEqual(res.Argv, wantArgv) {
		t.Errorf("result argv = %q", res.Argv)
	}
	if _, err := os.Stat(filepath.Join(src, "image", "raid", "image.yaml")); err != nil {
		t.Errorf("our layers are not in the -S dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(job.WorkDir, "chroot-"+ver, "filesystem")); err != nil {
		t.Errorf("chroot-%s missing: %v", ver, err)
	}
	env := lines(t, filepath.Join(rec, "0.env"))
	var path string
	for _, kv := range env {
		if strings.HasPrefix(kv, "IGconf_") {
			t.Errorf("tool saw %s", kv)
		}
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	if want := "/usr/sbin:/usr/bin:/sbin:/bin:/opt/fake/bin:/usr/local/bin"; path != want {
		t.Errorf("PATH = %q, want %q", path, want)
	}
	if got := lines(t, filepath.Join(rec, "0.pwd")); got[0] != toolDir(t) {
		t.Errorf("tool ran in %s", got[0])
	}

	// A later image-only run, with a config that does not set a version,
	// reuses the recorded one and finds the same chroot.
	job.Stage = StageImage
	job.Overrides = nil
	r = mustStart(t, context.Background(), job, testOpts())
	evs = collect(r)
	res = r.Wait()
	if res.State != Succeeded {
		t.Fatalf("image run: %v %v", res.State, res.Err)
	}
	wantArgv = []string{tool, "build", "-c", job.Config, "-S", src, "-B", job.WorkDir, "-i", "--", "IGconf_artefact_version=" + ver}
	if got := lines(t, filepath.Join(rec, "1.argv")); !reflect.DeepEqual(got, wantArgv) {
		t.Errorf("image argv = %q\nwant %q", got, wantArgv)
	}
	want = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_images", "deploy"}
	if got := stageNames(evs, EventStageStarted); !reflect.DeepEqual(got, want) {
		t.Errorf("image stages = %v, want %v", got, want)
	}
	kinds := map[string]ArtifactKind{}
	for _, a := range res.Artifacts {
		kinds[a.Name] = a.Kind
		if a.Size <= 0 {
			t.Errorf("artifact %s has size %d", a.Name, a.Size)
		}
	}
	wantKinds := map[string]ArtifactKind{
		"deb.img": KindDiskImage, "deb.img.sparse": KindSparse, "boot.vfat": KindPartition,
		"root.ext4": KindPartition, "genimage.cfg": KindMetadata, "image.json": KindMetadata,
		"deb.rpi-imager-manifest": KindMetadata,
	}
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("artifacts = %v, want %v", kinds, wantKinds)
	}
	if !freshImage(res.Artifacts, res.Start) {
		t.Error("freshImage false after a successful image run")
	}
}

func TestVersionFromJobAndRecordedFile(t *testing.T) {
	job := newJob(t, StageFilesystem, "")
	if err := os.MkdirAll(filepath.Join(job.WorkDir, ".pistudio"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(VersionFile(job.WorkDir), []byte("2020-01-01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustStart(t, context.Background(), job, testOpts())
	if res := r.Wait(); res.State != Succeeded || r.ArtefactVersion() != "2020-01-01" {
		t.Fatalf("recorded version not reused: %v %q", res.State, r.ArtefactVersion())
	}
	job.ArtefactVersion = "v1.2"
	r = mustStart(t, context.Background(), job, testOpts())
	r.Wait()
	if r.ArtefactVersion() != "v1.2" {
		t.Errorf("job version ignored: %q", r.ArtefactVersion())
	}
	if v, _ := RecordedConfigVersion(job.WorkDir, job.Config); v != "v1.2" {
		t.Errorf("recorded %q", v)
	}
	job.ArtefactVersion = "../evil"
	if _, err := Start(context.Background(), job, testOpts()); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("bad version accepted: %v", err)
	}
}

func TestFullIsOneInvocation(t *testing.T) {
	job := newJob(t, StageFull, "")
	job.ImageName = "" // found as the only image-* folder the run wrote
	r := mustStart(t, context.Background(), job, testOpts())
	evs := collect(r)
	res := r.Wait()
	if res.State != Succeeded {
		t.Fatal(res.Err)
	}
	for _, a := range res.Argv {
		if a == "-f" || a == "-i" {
			t.Errorf("full build passed %s", a)
		}
	}
	want := []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "generate_images", "deploy"}
	if got := stageNames(evs, EventStageFinished); !reflect.DeepEqual(got, want) {
		t.Errorf("stages = %v", got)
	}
	if len(res.Stages) != len(want) {
		t.Errorf("result stages = %+v", res.Stages)
	}
	if evs[len(evs)-1].Kind != EventFinished || evs[len(evs)-1].Result.State != Succeeded {
		t.Errorf("last event = %+v", evs[len(evs)-1])
	}
	if len(res.Artifacts) == 0 || res.Artifacts[0].Path != filepath.Join(job.WorkDir, "image-deb", "boot.vfat") {
		t.Errorf("artifacts = %+v", res.Artifacts)
	}
}

func TestNativeImageHook(t *testing.T) {
	job := newJob(t, StageFull, "")
	hookRan := false
	job.NativeImage = func(ctx context.Context, dirs NativeDirs, logf func(string)) ([]Artifact, error) {
		hookRan = true
		if _, err := os.Stat(dirs.Filesystem); err != nil {
			t.Errorf("hook's filesystem dir: %v", err)
		}
		if want := filepath.Join(job.WorkDir, "chroot-"+dirs.Version, "filesystem"); dirs.Filesystem != want {
			t.Errorf("filesystem dir %q, want %q", dirs.Filesystem, want)
		}
		if want := ImageDir(job.WorkDir, job.ImageName); dirs.Image != want {
			t.Errorf("image dir %q, want %q", dirs.Image, want)
		}
		logf("native image step")
		p := filepath.Join(job.WorkDir, "native.img")
		if err := os.WriteFile(p, make([]byte, 512), 0o644); err != nil {
			return nil, err
		}
		return []Artifact{{Path: p, Name: "native.img", Kind: KindDiskImage, Size: 512}}, nil
	}
	r := mustStart(t, context.Background(), job, testOpts())
	evs := collect(r)
	res := r.Wait()
	if res.State != Succeeded || !hookRan {
		t.Fatalf("%v %v hook=%v", res.State, res.Err, hookRan)
	}
	if !contains(res.Argv, "-f") {
		t.Errorf("full with hook must run -f: %q", res.Argv)
	}
	got := stageNames(evs, EventStageStarted)
	if got[len(got)-1] != NativeImageStage || contains(got, "generate_images") {
		t.Errorf("stages = %v", got)
	}
	if len(res.Artifacts) != 1 || res.Artifacts[0].Name != "native.img" {
		t.Errorf("artifacts = %+v", res.Artifacts)
	}
	if !strings.Contains(strings.Join(lines(t, res.LogPath), "\n"), "[pistudio] native image step") {
		t.Error("hook line not in log")
	}

	// image only with a hook: the tool does not run, and the hook reads
	// the chroot-<ver> of the version the full run recorded
	fullVer := r.ArtefactVersion()
	job.Stage = StageImage
	job.NativeImage = func(ctx context.Context, dirs NativeDirs, logf func(string)) ([]Artifact, error) {
		if dirs.Version == "" || dirs.Version != fullVer {
			t.Errorf("image-only hook version %q, want %q (recorded by the full run)", dirs.Version, fullVer)
		}
		if want := filepath.Join(job.WorkDir, "chroot-"+fullVer, "filesystem"); dirs.Filesystem != want {
			t.Errorf("image-only filesystem dir %q, want %q", dirs.Filesystem, want)
		}
		return nil, errors.New("boom")
	}
	r = mustStart(t, context.Background(), job, testOpts())
	res = r.Wait()
	if res.State != Failed || res.ExitStatus != 1 || res.Argv != nil {
		t.Errorf("failing hook: %v %d %q", res.State, res.ExitStatus, res.Argv)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestExitStatusRecordAndHistory(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		config    string
		state     State
		exit      int
		explained string
	}{
		{"success", nil, "", Succeeded, 0, ""},
		{"die in stage (env)", []string{"STANDIN_FAIL=collect_layers"}, "", Failed, 1, "standin failure in collect_layers"},
		{"die in stage (config)", nil, "standin_fail: generate_filesystem\n", Failed, 1, "standin failure in generate_filesystem"},
		{"other status", []string{"STANDIN_EXIT=3"}, "", Failed, 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(t, StageFilesystem, tc.config)
			r := mustStart(t, context.Background(), job, testOpts(tc.env...))
			evs := collect(r)
			res := r.Wait()
			if res.State != tc.state || res.ExitStatus != tc.exit {
				t.Fatalf("state %v exit %d, want %v %d", res.State, res.ExitStatus, tc.state, tc.exit)
			}
			if tc.explained != "" {
				found := false
				for _, e := range evs {
					if e.Kind == EventLog && e.Stream == Stderr && strings.Contains(e.Explain, tc.explained) {
						found = true
					}
				}
				if !found {
					t.Errorf("no explained line with %q", tc.explained)
				}
			}
			hist, err := History(job.WorkDir)
			if err != nil || len(hist) != 1 {
				t.Fatalf("history: %v %d", err, len(hist))
			}
			h := hist[0]
			if h.State != tc.state || h.ExitStatus != tc.exit || h.Config != job.Config || len(h.ConfigSHA256) != 64 ||
				!reflect.DeepEqual(h.Argv, res.Argv) || h.End.Before(h.Start) || len(h.Stages) == 0 {
				t.Errorf("record = %+v", h)
			}
			if filepath.Join(LogDir(job.WorkDir), h.Log) != res.LogPath {
				t.Errorf("record log %s, result log %s", h.Log, res.LogPath)
			}
			if !strings.HasSuffix(res.LogPath, "-filesystem.log") {
				t.Errorf("log name %s", res.LogPath)
			}
			log := strings.Join(lines(t, res.LogPath), "\n")
			if !strings.Contains(log, "==> parameter_assembly") || strings.Contains(log, "\x1b") {
				t.Error("log misses headers or has escape codes")
			}
			if !strings.Contains(log, "[SET] IGconf_device_hostname=rpi-image-gen") {
				t.Error("coloured [SET] line not stripped into the log (or env leaked)")
			}
		})
	}
}

// checkStreamOrder verifies that the log holds "out 1".."out n" and
// "[err] err 1".."[err] err n" each in order.
func checkStreamOrder(t *testing.T, logPath string, n int) {
	t.Helper()
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	nextOut, nextErr := 1, 1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if v, ok := strings.CutPrefix(l, "out "); ok {
			if v != strconv.Itoa(nextOut) {
				t.Fatalf("stdout line %q, want out %d", l, nextOut)
			}
			nextOut++
		}
		if v, ok := strings.CutPrefix(l, "[err] err "); ok {
			if v != strconv.Itoa(nextErr) {
				t.Fatalf("stderr line %q, want err %d", l, nextErr)
			}
			nextErr++
		}
	}
	if nextOut != n+1 || nextErr != n+1 {
		t.Fatalf("log has %d stdout and %d stderr burst lines, want %d each", nextOut-1, nextErr-1, n)
	}
}

func TestStalledConsumerDoesNotSlowTheBuild(t *testing.T) {
	const n = 100000
	var stalledRuns []*Run
	timeRun := func(read bool) (Result, *Subscription) {
		job := newJob(t, StageFilesystem, "")
		r := mustStart(t, context.Background(), job, testOpts("STANDIN_BURST="+strconv.Itoa(n)))
		var sub *Subscription
		stalledRuns = append(stalledRuns, r)
		if read {
			// a consumer that stops after one event and never reads again
			sub = r.Subscribe(64)
			r.Events()
		} else {
			r.Unsubscribe()
		}
		res := r.Wait()
		t.Logf("read=%v: %s", read, res.Duration)
		checkStreamOrder(t, res.LogPath, n)
		return res, sub
	}
	base, _ := timeRun(false)
	stalled, sub := timeRun(true)
	if base.State != Succeeded || stalled.State != Succeeded {
		t.Fatalf("states %v %v", base.State, stalled.State)
	}
	// generous: a stalled consumer must not make the build much slower
	if stalled.Duration > 4*base.Duration+5*time.Second {
		t.Errorf("stalled consumer slowed the build: %s vs %s", stalled.Duration, base.Duration)
	}
	t.Logf("no consumer %s, stalled consumer %s", base.Duration, stalled.Duration)
	// the stalled subscription now holds the newest events and says how many it dropped
	dropped, finished := 0, false
	for {
		e, ok := sub.Next(context.Background())
		if !ok {
			break
		}
		switch e.Kind {
		case EventDropped:
			dropped += e.Dropped
		case EventFinished:
			finished = true
		}
	}
	if dropped < n || !finished {
		t.Errorf("dropped %d (want >= %d), finished %v", dropped, n, finished)
	}
	sub.Close()
	for _, r := range stalledRuns {
		r.Unsubscribe()
	}
}

func TestCancelStopsEveryProcess(t *testing.T) {
	job := newJob(t, StageFull, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := mustStart(t, ctx, job, testOpts("STANDIN_SLEEP=60", "STANDIN_IGNORER=1", "STANDIN_SETSID=1"))
	pidFile := filepath.Join(job.WorkDir, ".standin", "pids")
	var pids []int
	deadline := time.Now().Add(20 * time.Second)
	for len(pids) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	if len(pids) < 3 {
		t.Fatalf("stand-in children not started: %v", pids)
	}
	cancel() // the caller's context, as on Ctrl-C
	res := r.Wait()
	if res.State != Cancelled || !errors.Is(res.Err, ErrCancelled) {
		t.Fatalf("state %v err %v, want cancelled", res.State, res.Err)
	}
	if n := len(res.Stages); n == 0 || !res.Stages[n-1].Cancelled || res.Stages[n-1].OK {
		t.Errorf("last stage should be cancelled: %+v", res.Stages)
	}
	for _, p := range pids {
		if Alive(p) {
			t.Errorf("process %d of the run is still alive", p)
		}
	}
	if res.Duration > 30*time.Second {
		t.Errorf("cancel took %s", res.Duration)
	}
	hist, _ := History(job.WorkDir)
	if len(hist) != 1 || hist[0].State != Cancelled {
		t.Errorf("history = %+v", hist)
	}
}

func TestLeftoverChildrenStoppedAfterNormalExit(t *testing.T) {
	job := newJob(t, StageFilesystem, "")
	r := mustStart(t, context.Background(), job, testOpts("STANDIN_IGNORER=1"))
	res := r.Wait()
	if res.State != Succeeded {
		t.Fatalf("%v %v", res.State, res.Err)
	}
	b, _ := os.ReadFile(filepath.Join(job.WorkDir, ".standin", "pids"))
	for _, f := range strings.Fields(string(b)) {
		p, _ := strconv.Atoi(f)
		if Alive(p) {
			t.Errorf("leftover %d alive", p)
		}
	}
}

func TestStartRejects(t *testing.T) {
	job := newJob(t, StageFilesystem, "")
	for _, o := range []string{"-f", "FOO", "1A=b", "A-B=c", "A=b\nc", "--help"} {
		j := job
		j.Overrides = []string{o}
		if _, err := Start(context.Background(), j, testOpts()); !errors.Is(err, ErrInvalidJob) {
			t.Errorf("override %q: err %v, want ErrInvalidJob", o, err)
		}
	}
	j := job
	j.ToolDir = t.TempDir()
	_, err := Start(context.Background(), j, testOpts())
	var pe *PreflightError
	if !errors.As(err, &pe) || !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "git clone") {
		t.Errorf("missing tool: %v", err)
	}
	j = job
	j.Config = filepath.Join(t.TempDir(), "none.yaml")
	if _, err := Start(context.Background(), j, testOpts()); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("missing config: %v", err)
	}
}

func TestBatch(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	var jobs []Job
	for i, extra := range []string{"", "standin_fail: generate_images\n", ""} {
		name := fmt.Sprintf("img%d", i)
		jobs = append(jobs, Job{
			Config: writeConfig(t, dir, name+".yaml", extra), Stage: StageFull,
			ToolDir: toolDir(t), WorkDir: work, ImageName: name,
		})
	}
	var started []int
	res := RunBatch(context.Background(), jobs, testOpts(), func(i int, r *Run) { started = append(started, i); r.Unsubscribe() })
	got := []bool{res[0].OK(), res[1].OK(), res[2].OK()}
	if !reflect.DeepEqual(got, []bool{true, false, true}) || len(started) != 3 {
		t.Errorf("batch ok = %v, started %v", got, started)
	}
	if res[1].Result.ExitStatus != 1 {
		t.Errorf("failed job exit %d", res[1].Result.ExitStatus)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = RunBatch(ctx, jobs, testOpts(), nil)
	for _, b := range res {
		if b.OK() || b.Result.State != Cancelled {
			t.Errorf("cancelled batch: %+v", b.Result.State)
		}
	}
}

func TestSourceDirsMerged(t *testing.T) {
	job := newJob(t, StageFilesystem, "")
	user := t.TempDir()
	if err := os.MkdirAll(filepath.Join(user, "layer", "mine"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(user, "layer", "mine", "x.yaml"), []byte("# x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	job.SourceDirs = []string{user}
	r := mustStart(t, context.Background(), job, testOpts())
	if res := r.Wait(); res.State != Succeeded {
		t.Fatal(res.Err)
	}
	src := SourceDir(job.WorkDir)
	for _, p := range []string{"layer/mine/x.yaml", "image/raid/image.yaml"} {
		if _, err := os.Stat(filepath.Join(src, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	n := 0
	for _, a := range r.Argv() {
		if a == "-S" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d -S flags; the tool keeps only the last one", n)
	}
}
