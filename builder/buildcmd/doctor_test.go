package buildcmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/doctor"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/cli"
)

type noDNS struct{}

func (noDNS) LookupHost(ctx context.Context, host string) ([]string, error) {
	return nil, errors.New("no such host")
}

// fakeMachine makes the doctor see a root amd64 host with binfmt, every
// package installed, no DNS and free bytes in every folder.
func fakeMachine(t *testing.T, free uint64) {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "qemu-aarch64"), []byte("enabled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := doctorMachine
	t.Cleanup(func() { doctorMachine = old })
	doctorMachine.resolver = noDNS{}
	doctorMachine.installed = func(_ context.Context, pkgs []string) (map[string]bool, error) {
		m := map[string]bool{}
		for _, p := range pkgs {
			m[p] = true
		}
		return m, nil
	}
	doctorMachine.host = runner.Host{Arch: "amd64", BinfmtDir: bin, Euid: func() int { return 0 },
		FreeSpace: func(string) (uint64, error) { return free, nil }}
}

// A build the doctor knows will fail does not start; it says why and how
// to start anyway, and then starts when told to.
func TestBuildRefusedByDoctor(t *testing.T) {
	fakeMachine(t, 100*doctor.GiB)
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	cfg := writeCfg(t, dir, "deb", "")
	args := []string{"build", "--rpi-image-gen", standinDir(t), "-B", work, "--kill-grace", "200ms",
		"--skip-check", "privileges", "--skip-check", "binfmt", "--skip-check", "workdir", "-c", cfg}
	code, _, errs := runCmd(t, context.Background(), "", args...)
	if code != 1 || !strings.Contains(errs, "this build would fail") || !strings.Contains(errs, "github.com") ||
		!strings.Contains(errs, "--skip-check doctor") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(work, ".standin")); err == nil {
		t.Error("the tool ran")
	}
	code, _, errs = runCmd(t, context.Background(), "", append(args, "--skip-check", "network")...)
	if code != 0 {
		t.Errorf("with the network checks skipped: exit %d\n%s", code, errs)
	}
}

// The doctor command: progress lines, JSON, and exit 1 on a failure.
func TestDoctorCommand(t *testing.T) {
	fakeMachine(t, 1<<20)
	work := t.TempDir()
	code, out, _ := runCmd(t, context.Background(), "", "doctor", "--rpi-image-gen", standinDir(t), "-B", work)
	if code != 1 || !strings.Contains(out, "FAIL  free space") || !strings.Contains(out, "fix: ") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, context.Background(), "", "doctor", "--rpi-image-gen", standinDir(t), "-B", work, "--json", "--skip-check", "network", "--skip-check", "space")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Checks) == 0 {
		t.Errorf("doctor --json: exit %d, %v\n%s", code, err, out)
	}
}

// A failed build's cause and fix reach stderr as well as the log.
func TestBuildFailureCauseOnStderr(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	cfg := writeCfg(t, dir, "deb", "standin_fail: generate_filesystem")
	code, out, errs := runCmd(t, context.Background(), "", buildArgs(t, work, "-c", cfg)...)
	if code != 1 || !strings.Contains(errs, "standin failure in generate_filesystem") || !strings.Contains(errs, "fix: ") {
		t.Errorf("exit %d\nstderr: %s", code, errs)
	}
	if strings.Count(out, "build failed") != 1 {
		t.Errorf("the outcome is not said exactly once:\n%s", out)
	}
}

// history shows a build in progress as running with the time so far,
// and one whose process is gone as died.
func TestHistoryRunning(t *testing.T) {
	work := t.TempDir()
	logs := filepath.Join(work, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-90 * time.Second)
	recs := map[string]runner.Record{
		"a.json": {Config: "/cfg/live.yaml", Stage: "full", Start: start, State: runner.Running, PID: os.Getpid(), Log: "a.log"},
		"b.json": {Config: "/cfg/dead.yaml", Stage: "full", Start: start.Add(time.Second), State: runner.Running, PID: 1 << 30, Log: "b.log"},
	}
	for name, r := range recs {
		b, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(logs, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, out, _ := runCmd(t, context.Background(), "", "history", "-B", work)
	lines := strings.Split(out, "\n")
	if len(lines) < 4 {
		t.Fatalf("history:\n%s", out)
	}
	live, dead := strings.Fields(lines[1]), strings.Fields(lines[3])
	if live[3] != "running" || live[4] != "-" || !strings.HasSuffix(live[5], "s+") || live[5] == "0s+" {
		t.Errorf("live row %q", lines[1])
	}
	if dead[3] != "died" || dead[4] != "-" {
		t.Errorf("dead row %q", lines[3])
	}
}

func TestCacheFlags(t *testing.T) {
	env := func(m map[string]string) *cli.Env {
		return &cli.Env{Getenv: func(k string) string { return m[k] }}
	}
	tests := []struct {
		name string
		f    buildFlags
		env  map[string]string
		want runner.Cache
	}{
		{"xdg", buildFlags{offline: "auto"}, map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, runner.Cache{Dir: "/x/pistudio", Offline: "auto"}},
		{"home", buildFlags{offline: "on"}, map[string]string{"HOME": "/h"}, runner.Cache{Dir: "/h/.cache/pistudio", Offline: "on"}},
		{"relative xdg ignored", buildFlags{}, map[string]string{"XDG_CACHE_HOME": "rel", "HOME": "/h"}, runner.Cache{Dir: "/h/.cache/pistudio"}},
		{"flag", buildFlags{cacheDir: "/c"}, map[string]string{"HOME": "/h"}, runner.Cache{Dir: "/c"}},
		{"no cache", buildFlags{noCache: true, cacheDir: "/c"}, map[string]string{"HOME": "/h"}, runner.Cache{}},
		{"nothing known", buildFlags{}, nil, runner.Cache{}},
	}
	for _, tc := range tests {
		if got := tc.f.cache(env(tc.env)); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if code, _, errs := runCmd(t, context.Background(), "", "build", "-c", "x.yaml", "--offline", "sometimes"); code != 2 || !strings.Contains(errs, "--offline") {
		t.Errorf("bad --offline: exit %d %s", code, errs)
	}
}
