package buildcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/cli"
)

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func standinDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "runner", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeCfg(t *testing.T, dir, name, extra string) string {
	t.Helper()
	p := filepath.Join(dir, name+".yaml")
	body := "device:\n  layer: rpi5\nimage:\n  layer: image-rpios\n  name: " + name + "\n"
	if extra != "" {
		// The stand-in reads "standin_<name>: value" lines at any
		// indentation; a section keeps the config valid (rpi-image-gen
		// refuses scalar top-level sections).
		body += "standin:\n  " + extra
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(t *testing.T, ctx context.Context, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	env := &cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := cli.Main(ctx, env, Commands(), args)
	return code, out.String(), errb.String()
}

func buildArgs(t *testing.T, work string, rest ...string) []string {
	args := []string{"build", "--rpi-image-gen", standinDir(t), "-B", work, "--kill-grace", "200ms",
		"--skip-check", "binfmt", "--skip-check", "privileges", "--skip-check", "workdir", "--skip-check", "doctor"}
	return append(args, rest...)
}

func TestBuildEndToEnd(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	cfg := writeCfg(t, dir, "deb", "")
	code, out, errs := runCmd(t, context.Background(), "", buildArgs(t, work, "-c", cfg, "--", "IGconf_device_user1=pi")...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, tail(out), errs)
	}
	for _, want := range []string{"==> generate_filesystem", "==> generate_images", "[pistudio] stage deploy done",
		"[pistudio] build succeeded", "artifacts:", "disk-image", "deb.img", "android-sparse"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(work, "logs", "*-full.log"))
	recs, _ := filepath.Glob(filepath.Join(work, "logs", "*-full.json"))
	if len(logs) != 1 || len(recs) != 1 {
		t.Fatalf("logs %v records %v", logs, recs)
	}
	argv, err := os.ReadFile(filepath.Join(work, ".standin", "0.argv"))
	if err != nil || !strings.Contains(string(argv), "\n--\nIGconf_artefact_version=") || !strings.HasSuffix(string(argv), "IGconf_device_user1=pi\n") {
		t.Errorf("argv seen by the tool:\n%s", argv)
	}

	code, out, _ = runCmd(t, context.Background(), "", "history", "-B", work)
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, cfg) {
		t.Errorf("history: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, context.Background(), "", "history", "-B", work, "--json")
	var hist []runner.Record
	if code != 0 || json.Unmarshal([]byte(out), &hist) != nil || len(hist) != 1 || hist[0].State != runner.Succeeded {
		t.Errorf("history --json: %d\n%s", code, out)
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

func TestBuildUsageAndStatus(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	cfg := writeCfg(t, dir, "x", "standin_exit: 3\n")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no config", buildArgs(t, work), 2},
		{"-f and -i", buildArgs(t, work, "-c", cfg, "-f", "-i"), 2},
		{"bad override", buildArgs(t, work, "-c", cfg, "--", "--help"), 2},
		{"tool status propagates", buildArgs(t, work, "-c", cfg, "-f"), 3},
		{"die exits 1", buildArgs(t, work, "-c", writeCfg(t, dir, "y", "standin_fail: collect_layers\n"), "-f"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCmd(t, context.Background(), "", tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s\n%s", code, tc.code, tail(out), errs)
			}
		})
	}
}

func TestBuildBatchSummary(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	a := writeCfg(t, dir, "a", "")
	b := writeCfg(t, dir, "b", "standin_fail: generate_images\n")
	c := writeCfg(t, dir, "c", "")
	code, out, errs := runCmd(t, context.Background(), "", buildArgs(t, work, "-c", a, "-c", b, "-c", c)...)
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, errs)
	}
	_, summary, ok := strings.Cut(out, "\nsummary:\n")
	if !ok {
		t.Fatalf("no summary:\n%s", tail(out))
	}
	re := regexp.MustCompile(`(?m)^  (SUCCESS|FAILED|CANCELLED) +(\S+)`)
	var got []string
	for _, m := range re.FindAllStringSubmatch(summary, -1) {
		got = append(got, m[1]+" "+filepath.Base(m[2]))
	}
	want := []string{"SUCCESS a.yaml", "FAILED b.yaml", "SUCCESS c.yaml"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("summary = %v, want %v\n%s", got, want, summary)
	}
	if !strings.Contains(summary, filepath.Join(work, "image-a", "a.img")) {
		t.Errorf("summary does not name a's image:\n%s", summary)
	}
}

func TestBuildCancelExits130(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	cfg := writeCfg(t, dir, "slow", "standin_sleep: 60\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(filepath.Join(work, ".standin", "pids")); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel() // as SIGINT does through main's context
	}()
	code, out, errs := runCmd(t, ctx, "", buildArgs(t, work, "-c", cfg)...)
	if code != 130 {
		t.Errorf("exit %d, want 130: %s", code, errs)
	}
	// The interrupted stage is reported as cancelled, not as a failure.
	if all := out + errs; strings.Contains(all, " FAILED in ") || !regexp.MustCompile(`stage \S+ cancelled in `).MatchString(all) {
		t.Errorf("stage line should say cancelled:\n%s", all)
	}
	b, _ := os.ReadFile(filepath.Join(work, ".standin", "pids"))
	for _, f := range strings.Fields(string(b)) {
		var pid int
		for _, c := range f {
			pid = pid*10 + int(c-'0')
		}
		if runner.Alive(pid) {
			t.Errorf("pid %d still alive", pid)
		}
	}
}

func TestClean(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	cfg := writeCfg(t, dir, "cl", "")
	if code, out, errs := runCmd(t, context.Background(), "", buildArgs(t, work, "-c", cfg)...); code != 0 {
		t.Fatalf("build: %d\n%s\n%s", code, tail(out), errs)
	}
	img := filepath.Join(work, "image-cl")
	cleanArgs := []string{"clean", "-c", cfg, "-B", work, "--rpi-image-gen", standinDir(t), "--skip-check", "privileges", "--skip-check", "workdir"}
	code, _, _ := runCmd(t, context.Background(), "n\n", cleanArgs...)
	if _, err := os.Stat(img); code != 1 || err != nil {
		t.Errorf("declined clean: exit %d, image dir: %v", code, err)
	}
	code, out, errs := runCmd(t, context.Background(), "y\n", cleanArgs...)
	if _, err := os.Stat(img); code != 0 || err == nil {
		t.Errorf("confirmed clean: exit %d, image dir still there\n%s\n%s", code, tail(out), errs)
	}
	argv, _ := os.ReadFile(filepath.Join(work, ".standin", "1.argv"))
	if !strings.Contains(string(argv), "\nclean\n") {
		t.Errorf("clean argv: %s", argv)
	}
	if logs, _ := filepath.Glob(filepath.Join(work, "logs", "*-clean.log")); len(logs) != 1 {
		t.Errorf("clean logs %v", logs)
	}
}

// A second build of an unchanged config reuses the first one's filesystem
// and says so; history shows it; --rebuild builds it again.
func TestBuildReusesFilesystem(t *testing.T) {
	dir := t.TempDir()
	// a local apt repository the stand-in's filesystem names, with the
	// InRelease apt would have fetched from it
	repo, lists := filepath.Join(dir, "repo"), filepath.Join(dir, "lists")
	for _, d := range []string{repo, lists} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{filepath.Join(repo, "InRelease"), filepath.Join(lists, strings.ReplaceAll(repo, "/", "_")+"_._InRelease")} {
		if err := os.WriteFile(f, []byte("Origin: local\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sources := filepath.Join(dir, "sources.list")
	if err := os.WriteFile(sources, []byte("deb [trusted=yes] file:"+repo+" ./\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STANDIN_SOURCES", sources)
	t.Setenv("STANDIN_LISTS", lists)
	work := filepath.Join(dir, "work")
	cfg := writeCfg(t, dir, "deb", "")
	args := buildArgs(t, work, "--cache", filepath.Join(dir, "cache"), "-c", cfg)
	if code, out, errs := runCmd(t, context.Background(), "", args...); code != 0 || !strings.Contains(out, "filesystem: stamped chroot-") {
		t.Fatalf("first build: exit %d\n%s\n%s", code, tail(out), errs)
	}
	code, out, errs := runCmd(t, context.Background(), "", args...)
	if code != 0 || !strings.Contains(out, "filesystem: reusing chroot-") || strings.Contains(out, "==> generate_filesystem") ||
		!strings.Contains(out, "[pistudio] stage generate_filesystem reused (") ||
		!strings.Contains(out, "==> generate_images") {
		t.Fatalf("second build: exit %d\n%s\n%s", code, tail(out), errs)
	}
	_, out, _ = runCmd(t, context.Background(), "", "history", "-B", work)
	if strings.Count(out, "filesystem reused from ") != 1 {
		t.Errorf("history:\n%s", out)
	}
	code, out, _ = runCmd(t, context.Background(), "", append(args, "--rebuild")...)
	if code != 0 || strings.Contains(out, "filesystem: reusing") || !strings.Contains(out, "==> generate_filesystem") {
		t.Errorf("--rebuild: exit %d\n%s", code, tail(out))
	}
}
