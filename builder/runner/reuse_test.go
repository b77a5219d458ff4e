package runner

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// archive serves one InRelease that a test can change or take down.
type archive struct {
	mu      sync.Mutex
	release string
	down    bool
	hits    int
	srv     *httptest.Server
}

func newArchive(t *testing.T) *archive {
	a := &archive{release: "Origin: Debian\nDate: Mon, 07 Dec 2026 08:00:00 UTC\n"}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.hits++
		if a.down || r.URL.Path != "/debian/dists/trixie/InRelease" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(a.release))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *archive) set(release string, down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.release, a.down = release, down
}

// reuseSetup is a job, options and an archive whose InRelease the stand-in
// copies into the filesystem's apt lists, as apt does.
type reuseSetup struct {
	job   Job
	opts  Options
	arch  *archive
	lists string
}

// aptFetches puts the archive's InRelease where the stand-in takes apt's
// copy from, as apt would download it in the next filesystem build.
func (s *reuseSetup) aptFetches(t *testing.T) {
	t.Helper()
	s.arch.mu.Lock()
	defer s.arch.mu.Unlock()
	if err := os.WriteFile(filepath.Join(s.lists, listsName(s.arch.srv.URL+"/debian/dists/trixie/InRelease")), []byte(s.arch.release), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newReuseSetup(t *testing.T, stage Stage, extraEnv ...string) *reuseSetup {
	t.Helper()
	a := newArchive(t)
	dir := t.TempDir()
	uri := a.srv.URL + "/debian"
	sources := filepath.Join(dir, "sources.list")
	if err := os.WriteFile(sources, []byte("# the archive\ndeb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "+uri+" trixie main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lists := filepath.Join(dir, "lists")
	if err := os.MkdirAll(lists, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lists, listsName(uri+"/dists/trixie/InRelease")), []byte(a.release), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append([]string{"STANDIN_SOURCES=" + sources, "STANDIN_LISTS=" + lists}, extraEnv...)
	opts := testOpts(env...)
	opts.Cache = Cache{Dir: filepath.Join(dir, "cache")}
	return &reuseSetup{job: newJob(t, stage, ""), opts: opts, arch: a, lists: lists}
}

// newStampedSetup is a reuse setup whose filesystem one successful
// Filesystem build has built and stamped.
func newStampedSetup(t *testing.T) *reuseSetup {
	t.Helper()
	s := newReuseSetup(t, StageFilesystem)
	if res, _, _ := s.run(t); res.State != Succeeded {
		t.Fatal(res.Err)
	}
	return s
}

func (s *reuseSetup) run(t *testing.T) (Result, []Event, string) {
	t.Helper()
	r := mustStart(t, context.Background(), s.job, s.opts)
	evs := collect(r)
	res := r.Wait()
	return res, evs, strings.Join(lines(t, res.LogPath), "\n")
}

// toolRuns counts the stand-in's invocations in the job's work dir.
func toolRuns(t *testing.T, workDir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(workDir, ".standin", "*.argv"))
	return len(m)
}

func reusedEvent(evs []Event) bool {
	for _, e := range evs {
		if e.Kind == EventStageFinished && e.Stage == filesystemStage && e.Reused && e.OK {
			return true
		}
	}
	return false
}

// A second full build of unchanged inputs runs only the image stage; a
// newer InRelease in the archive, a changed config, a failed filesystem
// build and --rebuild each make the next build build the filesystem.
func TestFullBuildReusesUnchangedFilesystem(t *testing.T) {
	s := newReuseSetup(t, StageFull)
	first, _, log := s.run(t)
	if first.State != Succeeded || first.Reused != "" || contains(first.Argv, "-i") {
		t.Fatalf("first build: %v %v reused=%q argv=%q", first.State, first.Err, first.Reused, first.Argv)
	}
	if !strings.Contains(log, "filesystem: stamped chroot-") {
		t.Errorf("first build did not stamp its filesystem:\n%s", log)
	}
	ver := strings.TrimPrefix(filepath.Base(filepath.Dir(filesystemDirOf(t, s.job.WorkDir))), "chroot-")
	if st, ok := ReadFilesystemStamp(s.job.WorkDir, ver); !ok || len(st.Releases) != 1 || st.Releases[0].SHA256 != digest([]byte(s.arch.release)) {
		t.Fatalf("stamp = %+v %v", st, ok)
	}

	second, evs, log := s.run(t)
	if second.State != Succeeded || !contains(second.Argv, "-i") || second.Reused != filepath.Base(first.LogPath) {
		t.Fatalf("second build: %v %v argv=%q reused=%q", second.State, second.Err, second.Argv, second.Reused)
	}
	if !reusedEvent(evs) || len(second.Artifacts) == 0 {
		t.Errorf("second build: reused stage event %v, artifacts %+v", reusedEvent(evs), second.Artifacts)
	}
	for _, want := range []string{"filesystem: reusing chroot-" + ver, "the archive is unchanged (1 InRelease"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if h, _ := History(s.job.WorkDir); len(h) != 2 || h[1].Reused != filepath.Base(first.LogPath) {
		t.Errorf("record of the second build: %+v", h)
	}

	// the archive moves on: build again (and apt fetches the new InRelease)
	s.arch.set("Origin: Debian\nDate: Tue, 08 Dec 2026 08:00:00 UTC\n", false)
	s.aptFetches(t)
	third, _, log := s.run(t)
	if third.State != Succeeded || contains(third.Argv, "-i") || third.Reused != "" {
		t.Fatalf("after an archive update: %v argv=%q reused=%q", third.State, third.Argv, third.Reused)
	}
	if !strings.Contains(log, "the archive changed ("+s.arch.srv.URL+"/debian/dists/trixie/InRelease is newer)") {
		t.Errorf("log does not say the archive changed:\n%s", log)
	}

	// the config changes: build again, saying what changed
	if err := os.WriteFile(s.job.Config, append(mustRead(t, s.job.Config), []byte("# a comment\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	fourth, _, log := s.run(t)
	if contains(fourth.Argv, "-i") || !strings.Contains(log, "the config changed since the build of") {
		t.Errorf("after a config change: argv=%q\n%s", fourth.Argv, log)
	}

	// a filesystem build that fails leaves nothing to reuse
	failing := *s
	failing.opts.Cache.NoReuse = true
	failing.opts.Environ = append(append([]string(nil), s.opts.Environ...), "STANDIN_FAIL=generate_filesystem")
	if res, _, _ := failing.run(t); res.State != Failed {
		t.Fatalf("failing build: %v", res.State)
	}
	if _, ok := ReadFilesystemStamp(s.job.WorkDir, ver); ok {
		t.Error("a failed filesystem build left its filesystem stamped")
	}
	if res, _, _ := s.run(t); contains(res.Argv, "-i") || res.Reused != "" {
		t.Errorf("build after a failed one reused the filesystem: %q", res.Argv)
	}

	// rebuild on request, and stamp again
	rebuild := *s
	rebuild.opts.Cache.NoReuse = true
	if res, _, log := rebuild.run(t); contains(res.Argv, "-i") || !strings.Contains(log, "filesystem: stamped") {
		t.Errorf("--rebuild: argv=%q\n%s", res.Argv, log)
	}
	if res, _, _ := s.run(t); !contains(res.Argv, "-i") {
		t.Errorf("build after a rebuild did not reuse it: %q", res.Argv)
	}
}

// writeFile writes s to p, making its folders.
func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// filesystemDirOf is the one chroot-*/filesystem of a work dir.
func filesystemDirOf(t *testing.T, workDir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(workDir, "chroot-*", "filesystem"))
	if len(m) != 1 {
		t.Fatalf("chroot folders: %q", m)
	}
	return m[0]
}

// A filesystem-only build of unchanged inputs runs no tool at all, and a
// full build with a native image hook runs only the hook.
func TestFilesystemAndNativeReuse(t *testing.T) {
	s := newStampedSetup(t)
	runs := toolRuns(t, s.job.WorkDir)
	res, evs, log := s.run(t)
	if res.State != Succeeded || res.Argv != nil || toolRuns(t, s.job.WorkDir) != runs || !reusedEvent(evs) {
		t.Fatalf("second -f: %v argv=%q tool runs %d→%d\n%s", res.State, res.Argv, runs, toolRuns(t, s.job.WorkDir), log)
	}

	// buildjob gives raid configs the native hook for Image and Full
	// only: a native -i keeps the stamp of the -f, a native Full reuses it
	hook := 0
	native := func(ctx context.Context, dirs NativeDirs, logf func(string)) ([]Artifact, error) {
		hook++
		if _, err := os.Stat(filepath.Join(dirs.Filesystem, "etc/hostname")); err != nil {
			t.Errorf("hook cannot read the reused filesystem: %v", err)
		}
		return nil, nil
	}
	img := *s
	img.job.Stage, img.job.NativeImage = StageImage, native
	if res, _, log := img.run(t); res.State != Succeeded || hook != 1 || len(FilesystemStamps(s.job.WorkDir)) != 1 {
		t.Fatalf("native -i: %v hook=%d stamps=%d\n%s", res.State, hook, len(FilesystemStamps(s.job.WorkDir)), log)
	}
	img.job.Stage = StageFull
	res, _, _ = img.run(t)
	if res.State != Succeeded || res.Argv != nil || hook != 2 || toolRuns(t, s.job.WorkDir) != runs {
		t.Fatalf("full with hook: %v argv=%q hook=%d", res.State, res.Argv, hook)
	}
}

// A clean that is stopped half way leaves no stamp (the filesystem may be
// half removed); an image stage that fails after stage 1 succeeded
// stamps the filesystem; a failing build on a reused filesystem drops it.
func TestStampAfterCleanAndFailures(t *testing.T) {
	s := newStampedSetup(t)
	cl := *s
	cl.job.Stage = StageClean
	cl.opts.Environ = append(append([]string(nil), s.opts.Environ...), "STANDIN_FAIL=clean_worktree")
	if res, _, _ := cl.run(t); res.State != Failed || len(FilesystemStamps(s.job.WorkDir)) != 0 {
		t.Fatalf("failed clean: %v, stamps %d", res.State, len(FilesystemStamps(s.job.WorkDir)))
	}

	full := *s
	full.job.Stage = StageFull
	full.opts.Environ = append(append([]string(nil), s.opts.Environ...), "STANDIN_FAIL=generate_images")
	if res, _, log := full.run(t); res.State != Failed || len(FilesystemStamps(s.job.WorkDir)) != 1 {
		t.Fatalf("image stage failed after stage 1: %v, stamps %d\n%s", res.State, len(FilesystemStamps(s.job.WorkDir)), log)
	}
	res, _, log := full.run(t) // reuses, and fails in the image stage again
	if res.State != Failed || res.Reused == "" || len(FilesystemStamps(s.job.WorkDir)) != 0 ||
		!strings.Contains(log, "did not succeed; the next build builds the filesystem again") {
		t.Fatalf("failing reused build: %v reused=%q stamps %d\n%s", res.State, res.Reused, len(FilesystemStamps(s.job.WorkDir)), log)
	}
	full.opts.Environ = s.opts.Environ
	if res, _, _ := full.run(t); res.State != Succeeded || res.Reused != "" || contains(res.Argv, "-i") {
		t.Errorf("after a failed reuse: %v reused=%q argv=%q", res.State, res.Reused, res.Argv)
	}
}

// The filesystem changed after its build (packages installed by hand, or
// another build into the same folder): it is built again.
func TestChangedFilesystemIsRebuilt(t *testing.T) {
	s := newStampedSetup(t)
	status := filepath.Join(filesystemDirOf(t, s.job.WorkDir), "var/lib/dpkg/status")
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(status, later, later); err != nil {
		t.Fatal(err)
	}
	res, _, log := s.run(t)
	if res.Argv == nil || !strings.Contains(log, "its packages changed after it was built") {
		t.Errorf("changed filesystem reused: argv=%q\n%s", res.Argv, log)
	}
	// gone altogether
	if err := os.RemoveAll(filepath.Dir(filesystemDirOf(t, s.job.WorkDir))); err != nil {
		t.Fatal(err)
	}
	res, _, log = s.run(t)
	if res.Argv == nil || !strings.Contains(log, "the earlier filesystem is gone") {
		t.Errorf("missing filesystem reused: argv=%q\n%s", res.Argv, log)
	}
}

// An archive that cannot be reached does not stop the reuse; the log says
// the archive could not be checked.
func TestReuseWithUnreachableArchive(t *testing.T) {
	u := newStampedSetup(t)
	u.arch.set("", true)
	res, _, log := u.run(t)
	if res.Argv != nil || !strings.Contains(log, "warning: could not reach "+u.arch.srv.URL) {
		t.Errorf("unreachable archive: argv=%q\n%s", res.Argv, log)
	}
}

// Without the cache (--no-cache), every build builds its filesystem but
// still stamps it.
func TestNoCacheBuildsEveryTime(t *testing.T) {
	s := newReuseSetup(t, StageFilesystem)
	s.opts.Cache = Cache{}
	for i := 0; i < 2; i++ {
		res, _, log := s.run(t)
		if res.Argv == nil || strings.Contains(log, "reusing") || !strings.Contains(log, "filesystem: stamped") {
			t.Fatalf("build %d without cache: argv=%q\n%s", i, res.Argv, log)
		}
	}
	if len(FilesystemStamps(s.job.WorkDir)) != 1 {
		t.Error("no stamp without the cache")
	}
}

// A build that kept no InRelease file (no apt source, or a tool that does
// not run the source dir's hooks) is not stamped: the archive could not be
// compared later.
func TestNoKeptReleaseNoStamp(t *testing.T) {
	s := newReuseSetup(t, StageFilesystem)
	var env []string
	for _, kv := range s.opts.Environ {
		if !strings.HasPrefix(kv, "STANDIN_LISTS=") {
			env = append(env, kv)
		}
	}
	s.opts.Environ = env
	for i := 0; i < 2; i++ {
		res, _, log := s.run(t)
		if res.State != Succeeded || res.Argv == nil || !strings.Contains(log, "filesystem: warning: not stamped: stamping the filesystem: the build kept no apt InRelease file") {
			t.Fatalf("build %d: %v argv=%q\n%s", i, res.State, res.Argv, log)
		}
	}
}

// An image stage run with other inputs than the filesystem's build (its
// hooks may change the filesystem) removes the stamp; one with the same
// inputs keeps it; clean removes it.
func TestImageStageAndCleanDropStamp(t *testing.T) {
	s := newStampedSetup(t)
	img := *s
	img.job.Stage = StageImage
	if res, _, log := img.run(t); res.State != Succeeded || len(FilesystemStamps(s.job.WorkDir)) != 1 {
		t.Fatalf("-i with the same inputs: %v stamps %d\n%s", res.State, len(FilesystemStamps(s.job.WorkDir)), log)
	}
	img.job.Overrides = []string{"IGconf_device_hostname=other"}
	res, _, log := img.run(t)
	if res.State != Succeeded || len(FilesystemStamps(s.job.WorkDir)) != 0 || !strings.Contains(log, "the image stage runs with other inputs than chroot-") {
		t.Fatalf("-i with other overrides: %v stamps %d\n%s", res.State, len(FilesystemStamps(s.job.WorkDir)), log)
	}
	if res, _, _ := s.run(t); res.Argv == nil {
		t.Fatal("reused a filesystem an image stage of other inputs ran on")
	}
	if len(FilesystemStamps(s.job.WorkDir)) != 1 {
		t.Fatal("not stamped again")
	}
	cl := *s
	cl.job.Stage = StageClean
	cl.job.Stdin = strings.NewReader("y\ny\ny\n")
	if res, _, _ := cl.run(t); res.State != Succeeded || len(FilesystemStamps(s.job.WorkDir)) != 0 {
		t.Errorf("clean: %v, stamps left %d", res.State, len(FilesystemStamps(s.job.WorkDir)))
	}
}

// A start that is cancelled while the archive is being asked does not
// start a reused build.
func TestCancelledStartDoesNotReuse(t *testing.T) {
	s := newStampedSetup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r, err := Start(ctx, s.job, s.opts); err == nil {
		res := r.Wait()
		t.Fatalf("started: %v reused %q", res.State, res.Reused)
	}
}

// Python byte code the tool leaves in its tree, work folders inside it,
// the apt cache folder and the host-tool variables do not count as
// changes; each real change is named: an included config reached through
// a symlink, a host file a config value names, a variable the config
// expands, the tree, a layer, the version, the image engine.
func TestFilesystemInputs(t *testing.T) {
	tree, src, cfgDir, home := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	write := func(p, s string) { t.Helper(); writeFile(t, p, s) }
	write(filepath.Join(tree, "rpi-image-gen"), "#!/bin/sh\n")
	write(filepath.Join(tree, "site", "x.py"), "")
	write(filepath.Join(tree, "lib", "x.sh"), "")
	write(filepath.Join(tree, "work", ".keep"), "")
	realDir := filepath.Join(cfgDir, "real")
	write(filepath.Join(realDir, "base.yaml"), "device:\n  layer: rpi5\n")
	write(filepath.Join(cfgDir, "base.yaml"), "device:\n  layer: decoy\n")
	write(filepath.Join(home, ".ssh", "id.pub"), "ssh-ed25519 AAAA one\n")
	write(filepath.Join(src, "layer", "x.yaml"), "# x\n")
	write(filepath.Join(realDir, "my.yaml"), "include:\n  file: base.yaml\nimage:\n  name: my\nssh:\n  pubkey_user1: ~/.ssh/id.pub\ndevice:\n  user1pass: ${PW}\n")
	cfg := filepath.Join(cfgDir, "my.yaml")
	if err := os.Symlink(filepath.Join(realDir, "my.yaml"), cfg); err != nil {
		t.Fatal(err)
	}
	job := Job{Config: cfg, ToolDir: tree, WorkDir: filepath.Join(t.TempDir(), "w"), Overrides: []string{AptCacheKey + "=/a"}}
	env := []string{"IG_OFFLINE=y", "PATH=/bin", "HOME=" + home, "PW=secret"}
	base, err := filesystemInputs(job, "v1", env, src)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, want ...string) {
		t.Helper()
		in, err := filesystemInputs(job, "v1", env, src)
		if err != nil {
			t.Fatal(err)
		}
		if ch := in.changed(base, true); strings.Join(ch, ",") != strings.Join(want, ",") {
			t.Errorf("%s: changed %v, want %v", name, ch, want)
		}
		base = in
	}
	write(filepath.Join(tree, "site", "__pycache__", "x.cpython-311.pyc"), "bytes")
	write(filepath.Join(tree, "lib", "y.pyc"), "bytes")
	write(filepath.Join(tree, "work", "chroot-v1", "filesystem", "etc", "hostname"), "pi")
	job.Overrides = []string{AptCacheKey + "=/elsewhere"}
	env = []string{"IG_OFFLINE=n", "GENIMAGE_VER=19", "PIP_NO_DEPS=1", "PATH=/usr/bin", "HOME=" + home, "PW=secret", "UNRELATED=1"}
	check("byte code, work dir, apt cache, host-tool and unrelated variables")

	write(filepath.Join(cfgDir, "base.yaml"), "device:\n  layer: rpi4\n")
	check("the include beside the symlink, which the tool does not read")
	write(filepath.Join(realDir, "base.yaml"), "device:\n  layer: rpi4\n")
	check("the include beside the real config", "the config")
	write(filepath.Join(realDir, "other.yaml"), "image:\n  name: other\n")
	check("a config beside it that is not included")
	write(filepath.Join(home, ".ssh", "id.pub"), "ssh-ed25519 AAAA two\n")
	check("the SSH key file a value names", "the config")
	env[5] = "PW=other"
	check("a variable the config expands", "the environment")
	write(filepath.Join(tree, "layer", "base.yaml"), "# changed\n")
	check("tree", "the rpi-image-gen tree")
	if err := os.Chmod(filepath.Join(src, "layer", "x.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	check("layer mode", "the layers")
	job.Overrides = append(job.Overrides, VersionKey+"=v2")
	check("version", "the overrides")
	job.NativeImage = func(context.Context, NativeDirs, func(string)) ([]Artifact, error) { return nil, nil }
	check("native image engine (stage 1 is the same -f)")
	env = append(env, "IG_SOMETHING=1")
	check("environment", "the environment")

	// an include that cannot be found is an error, not a silent digest
	write(filepath.Join(realDir, "my.yaml"), "include:\n  file: nowhere.yaml\n")
	if _, err := filesystemInputs(job, "v1", env, src); err == nil {
		t.Error("missing include digested")
	}
}

// namedPaths finds the host paths config values name, and nothing else.
func TestNamedPaths(t *testing.T) {
	cfg := "ssh:\n  pubkey_user1: ~/.ssh/id.pub # key\n  host_keydir: \"/etc/keys\"\nimage:\n  name: my-image\n  boot_part_size: 256M\n" +
		"x:\n  - /srv/a\n  - relative/b\n  url: http://example.org/x\n  env: ${KEYS}/k\n"
	got := namedPaths([]byte(cfg), []string{"KEYS=/opt/keys"}, "/home/u")
	want := []string{"/home/u/.ssh/id.pub", "/etc/keys", "/srv/a", "/opt/keys/k"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("namedPaths = %q, want %q", got, want)
	}
}

func TestApplyOnlyImage(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"t", "build", "-c", "x", "--", "A=1"}, []string{"t", "build", "-c", "x", "-i", "--", "A=1"}},
		{[]string{"t", "build", "-c", "x"}, []string{"t", "build", "-c", "x", "-i"}},
	} {
		if got := onlyImage(c.in); strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("onlyImage(%q) = %q", c.in, got)
		}
	}
}

// A filesystem build that is interrupted (cancelled here; kill -9 of the
// app does the same, as the record is gone before the tool starts) leaves
// no record behind: going back to the inputs of the filesystem it was
// replacing does not reuse the half-built one.
func TestInterruptedBuildLeavesNothingToReuse(t *testing.T) {
	s := newStampedSetup(t)
	orig := mustRead(t, s.job.Config)
	if err := os.WriteFile(s.job.Config, append(append([]byte(nil), orig...), "standin_sleep: 30\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustStart(t, context.Background(), s.job, s.opts)
	ver := r.ArtefactVersion()
	if _, ok := ReadFilesystemStamp(s.job.WorkDir, ver); ok {
		t.Error("the record is still there while the filesystem is being rebuilt")
	}
	r.Cancel()
	if res := r.Wait(); res.State != Cancelled {
		t.Fatalf("state %v", res.State)
	}
	if err := os.WriteFile(s.job.Config, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	res, _, log := s.run(t)
	if res.Argv == nil || res.Reused != "" || !strings.Contains(log, "no earlier filesystem build") {
		t.Errorf("reused after an interrupted build: argv=%q\n%s", res.Argv, log)
	}
}
