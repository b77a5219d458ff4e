package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/runner/cause"
)

// A first build downloads the host tools and the cache keeps them; a
// build in another work dir then runs with IG_OFFLINE=y from the cache and
// downloads nothing. The record holds the environment that reproduces it.
func TestCacheMakesSecondBuildOffline(t *testing.T) {
	cacheDir := filepath.Join(t.TempDir(), "cache")
	opts := testOpts()
	opts.Cache = Cache{Dir: cacheDir}

	first := newJob(t, StageFilesystem, "")
	r := mustStart(t, context.Background(), first, opts)
	if res := r.Wait(); res.State != Succeeded {
		t.Fatalf("first build: %v %v", res.State, res.Err)
	}
	if got := readLinesOrNil(filepath.Join(first.WorkDir, ".standin", "downloads")); len(got) != 3 {
		t.Errorf("first build downloads = %q, want 3", got)
	}
	st, err := opts.Cache.State(first.ToolDir)
	if err != nil || !st.Complete() || len(st.Cached) != 3 {
		t.Fatalf("cache after first build: %+v %v", st, err)
	}

	second := newJob(t, StageFilesystem, "")
	r = mustStart(t, context.Background(), second, opts)
	res := r.Wait()
	if res.State != Succeeded {
		t.Fatalf("second build: %v %v", res.State, res.Err)
	}
	if got := readLinesOrNil(filepath.Join(second.WorkDir, ".standin", "downloads")); len(got) != 0 {
		t.Errorf("second build downloaded %q", got)
	}
	env := strings.Join(lines(t, filepath.Join(second.WorkDir, ".standin", "0.env")), "\n")
	if !strings.Contains(env, "\nIG_OFFLINE=y") || !strings.Contains(env, "\nPIP_NO_DEPS=1") {
		t.Error("IG_OFFLINE=y or PIP_NO_DEPS=1 not in the tool's environment")
	}
	if !contains(res.Argv, AptCacheKey+"="+opts.Cache.AptDir()) {
		t.Errorf("apt cache not passed: %q", res.Argv)
	}
	h, err := History(second.WorkDir)
	if err != nil || len(h) != 1 || h[0].Env["IG_OFFLINE"] != "y" {
		t.Errorf("record env = %+v, %v", h, err)
	}
}

// OfflineOn with an empty cache fails like the real tool offline, and the
// cause names the host tools.
func TestCacheOfflineOnEmptyCache(t *testing.T) {
	opts := testOpts()
	opts.Cache = Cache{Dir: t.TempDir(), Offline: OfflineOn}
	job := newJob(t, StageFilesystem, "")
	r := mustStart(t, context.Background(), job, opts)
	res := r.Wait()
	if res.State != Failed || res.Cause == nil || res.Cause.Kind != cause.HostToolsOffline {
		t.Fatalf("result %v cause %+v", res.State, res.Cause)
	}
}

func readLinesOrNil(p string) []string {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}
