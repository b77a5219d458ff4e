package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/builder/runner"
)

// fakeResolver resolves the hosts in ok and fails the others.
type fakeResolver struct {
	mu    sync.Mutex
	ok    map[string]bool
	asked []string
}

func (f *fakeResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	f.mu.Lock()
	f.asked = append(f.asked, host)
	f.mu.Unlock()
	if f.ok[host] {
		return []string{"192.0.2.1"}, nil
	}
	return nil, &netError{host}
}

type netError struct{ host string }

func (e *netError) Error() string { return "lookup " + e.host + ": no such host" }

func installedOnly(pkgs ...string) func(context.Context, []string) (map[string]bool, error) {
	return func(context.Context, []string) (map[string]bool, error) {
		m := map[string]bool{}
		for _, p := range pkgs {
			m[p] = true
		}
		return m, nil
	}
}

// fakeHost is an x86_64 non-root host without podman, with binfmt as given.
func fakeHost(t *testing.T, binfmt map[string]string, free uint64) runner.Host {
	t.Helper()
	dir := t.TempDir()
	for name, body := range binfmt {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return runner.Host{
		Arch:      "amd64",
		BinfmtDir: dir,
		Euid:      func() int { return 1000 },
		LookPath: func(p string) (string, error) {
			if p == "realpath" {
				return "/usr/bin/realpath", nil
			}
			return "", errors.New("not found")
		},
		FreeSpace: func(string) (uint64, error) { return free, nil },
	}
}

func byID(r Report) map[string]Check {
	m := map[string]Check{}
	for _, c := range r.Checks {
		m[c.ID] = c
	}
	return m
}

// A newcomer's laptop: packages missing, no binfmt, not root, offline.
// Every failure says what to do, the missing packages are listed once.
func TestRunFreshLaptop(t *testing.T) {
	tree, _ := filepath.Abs(filepath.Join("testdata", "tree"))
	res := &fakeResolver{ok: map[string]bool{"deb.debian.org": true, "archive.example.org": true}}
	plan, err := PlanFromConfig(filepath.Join("testdata", "sbom-on.yaml"), tree, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var progressed []string
	rep := Run(context.Background(), Options{
		ToolDir: tree, WorkDir: t.TempDir(), Plan: &plan, Stage: runner.StageFull,
		Resolver: res, Installed: installedOnly("python3", "git"),
		Host:     fakeHost(t, nil, 100*GiB),
		Progress: func(c Check) { progressed = append(progressed, c.ID) },
	})
	got := byID(rep)
	want := map[string]Status{
		IDTool: OK, IDPackages: Fail, "binfmt": Fail, IDPrivileges: Fail, IDSpace: OK, IDCache: OK,
		"network:github.com": Fail, "network:deb.debian.org": OK, "network:archive.example.org": OK, "network:get.anchore.io": Fail,
	}
	for id, st := range want {
		if got[id].Status != st {
			t.Errorf("%s: %s (%s), want %s", id, got[id].Status, got[id].Detail, st)
		}
	}
	if len(rep.Checks) != len(want) {
		t.Errorf("%d checks, want %d: %v", len(rep.Checks), len(want), progressed)
	}
	if !reflect.DeepEqual(progressed, ids(rep)) {
		t.Errorf("progress order %v, report %v", progressed, ids(rep))
	}
	if pk := got[IDPackages].Packages; !reflect.DeepEqual(pk, []string{"dosfstools", "mmdebstrap", "python3-debian", "python3-ruamel.yaml"}) {
		t.Errorf("missing packages = %v (realpath is on PATH, coreutils need not be installed)", pk)
	}
	wantAll := []string{"binfmt-support", "dosfstools", "mmdebstrap", "podman", "python3-debian", "python3-ruamel.yaml", "qemu-user-static", "uidmap"}
	if m := rep.MissingPackages(); !reflect.DeepEqual(m, wantAll) {
		t.Errorf("MissingPackages = %v", m)
	}
	if !strings.Contains(got["binfmt"].Detail, "qemu-arm ") || !strings.Contains(got["binfmt"].Name, "armhf") {
		t.Errorf("binfmt check not for the config's armhf: %+v", got["binfmt"])
	}
	if !strings.Contains(got["network:get.anchore.io"].Fix, "IGconf_sbom_enable") {
		t.Errorf("SBOM host fix = %q", got["network:get.anchore.io"].Fix)
	}
	for _, c := range rep.Failures() {
		if c.Fix == "" {
			t.Errorf("%s fails without a fix", c.ID)
		}
	}
	if !rep.Failed() || !strings.Contains(rep.String(), "FAIL") {
		t.Errorf("report:\n%s", rep)
	}
}

func ids(r Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.ID)
	}
	return out
}

// A ready machine: SBOM off, host tools cached (GitHub is not asked),
// binfmt registered, root, packages installed.
func TestRunReady(t *testing.T) {
	tree, _ := filepath.Abs(filepath.Join("testdata", "tree"))
	cache := runner.Cache{Dir: t.TempDir()}
	if err := os.MkdirAll(cache.HostToolsDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache.HostToolsDir(), "genimage-19.tar.gz"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanFromConfig(filepath.Join("testdata", "sbom-off.yaml"), tree, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan.Hosts = []string{"deb.debian.org"}
	res := &fakeResolver{ok: map[string]bool{"deb.debian.org": true}}
	host := fakeHost(t, map[string]string{"qemu-arm": "enabled\ninterpreter /usr/libexec/qemu-binfmt/arm-binfmt-P\n"}, 100*GiB)
	host.Euid = func() int { return 0 }
	all := []string{"coreutils", "python3", "python3-debian", "mmdebstrap", "dosfstools", "git", "python3-ruamel.yaml"}
	rep := Run(context.Background(), Options{
		ToolDir: tree, WorkDir: filepath.Join(t.TempDir(), "not-yet"), Plan: &plan, Cache: cache,
		Resolver: res, Installed: installedOnly(all...), Host: host,
	})
	for _, c := range rep.Checks {
		if c.Status == Fail {
			t.Errorf("%s failed: %s", c.ID, c.Detail)
		}
	}
	for _, h := range res.asked {
		if h == "github.com" || h == "get.anchore.io" {
			t.Errorf("asked for %s", h)
		}
	}
	// the tree lists genimage only, and the cache holds it
	if c := byID(rep)[IDCache]; !strings.Contains(c.Detail, "genimage-19.tar.gz") || !strings.Contains(c.Detail, "IG_OFFLINE=y") {
		t.Errorf("cache detail: %s", c.Detail)
	}
}

// No tree at all: the tool check fails and offers to get it.
func TestRunNoTree(t *testing.T) {
	rep := Run(context.Background(), Options{
		WorkDir: t.TempDir(), Resolver: &fakeResolver{}, Installed: installedOnly(), Host: fakeHost(t, nil, GiB),
	})
	c := byID(rep)[IDTool]
	if c.Status != Fail || !strings.Contains(c.Command, "--branch "+UpstreamRelease) {
		t.Errorf("tool check = %+v", c)
	}
	if s := byID(rep)[IDSpace]; s.Status != Fail {
		t.Errorf("1 GiB free for a full build: %+v", s)
	}
}

func TestSpaceNeeded(t *testing.T) {
	raid := Plan{ImageBytes: 3 * GiB}
	tests := []struct {
		stage runner.Stage
		plan  Plan
		want  uint64
	}{
		{runner.StageFull, Plan{}, SpaceFull},
		{runner.StageFull, raid, SpaceFull + 6*GiB},
		{runner.StageFilesystem, raid, SpaceFS},
		{runner.StageImage, raid, SpaceImageOnly + 6*GiB},
		{runner.StageClean, raid, 0},
	}
	for _, tc := range tests {
		if got := SpaceNeeded(tc.stage, tc.plan); got != tc.want {
			t.Errorf("SpaceNeeded(%s, %d) = %d, want %d", tc.stage, tc.plan.ImageBytes, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]uint64{"200M": 200 << 20, "1G": 1 << 30, "4096": 4096, "8s": 4096, "2k": 2048, "": 0, "x": 0, "G": 0, "-1M": 0, "99999999999999G": 0}
	for in, want := range tests {
		if got := parseSize(in); got != want {
			t.Errorf("parseSize(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPlanFromConfig(t *testing.T) {
	tree, _ := filepath.Abs(filepath.Join("testdata", "tree"))
	tests := []struct {
		config    string
		overrides []string
		sbom      bool
	}{
		{"sbom-on.yaml", nil, true},
		{"sbom-off.yaml", nil, false},
		{"sbom-off.yaml", []string{"IGconf_sbom_enable=y"}, true},
		{"sbom-on.yaml", []string{"IGconf_sbom_enable=n"}, false},
	}
	for _, tc := range tests {
		p, err := PlanFromConfig(filepath.Join("testdata", tc.config), tree, nil, tc.overrides)
		if err != nil {
			t.Fatal(err)
		}
		if p.SBOM != tc.sbom || p.Arch != "armhf" || !reflect.DeepEqual(p.Hosts, []string{"archive.example.org", "deb.debian.org"}) {
			t.Errorf("%s %v: %+v", tc.config, tc.overrides, p)
		}
	}
}

// A multiarch layer ("arm64 armhf") needs both handlers on x86_64.
func TestBinfmtMultiarch(t *testing.T) {
	tests := []struct {
		name     string
		handlers map[string]string
		want     Status
	}{
		{"both", map[string]string{"qemu-aarch64": "enabled\n", "qemu-arm": "enabled\n"}, OK},
		{"foreign missing", map[string]string{"qemu-aarch64": "enabled\n"}, Warn},
		{"primary missing", map[string]string{"qemu-arm": "enabled\n"}, Fail},
		{"primary disabled", map[string]string{"qemu-aarch64": "disabled\n", "qemu-arm": "enabled\n"}, Fail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t, tc.handlers, GiB)
			if c := checkBinfmts(h, []string{"arm64", "armhf"}); c.Status != tc.want {
				t.Errorf("%+v, want %s", c, tc.want)
			}
		})
	}
}

func TestLayersArchAndHostsMultiarch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "l.yaml")
	if err := os.WriteFile(p, []byte("# METABEGIN\n# METAEND\n---\nmmdebstrap:\n  architectures:\n    - arm64 armhf\n  mirrors:\n    - deb http://deb.example.org/x trixie main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archs, hosts := layersArchAndHosts([]*layers.Layer{{Name: "l", File: p}, {Name: "embedded", File: "/nonexistent"}}, dir)
	if !reflect.DeepEqual(archs, []string{"arm64", "armhf"}) || !reflect.DeepEqual(hosts, []string{"deb.example.org"}) {
		t.Errorf("archs %q hosts %q", archs, hosts)
	}
}

func TestParseDepends(t *testing.T) {
	got := ParseDepends([]byte("# c\nall:realpath:coreutils\nall::python3\n\nbuild:mmdebstrap\n:x:y\nbuild:a b:c d\n  build:pv  \n"))
	want := []Dependency{
		{"all", "realpath", "coreutils"}, {"all", "", "python3"}, {"build", "mmdebstrap", "mmdebstrap"}, {"build", "pv", "pv"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseDepends = %+v", got)
	}
}

func FuzzParseDepends(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "tree", "depends"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("a:b:c:d\n::\n:"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ParseDepends(data) {
			if d.Category == "" || d.Package == "" || strings.ContainsAny(d.Package, " \t\n") {
				t.Fatalf("bad entry %+v", d)
			}
		}
	})
}

func TestParseDpkgQuery(t *testing.T) {
	got := parseDpkgQuery([]byte("git installed\nlibc6:amd64 installed\npodman not-installed\nbroken\n"))
	want := map[string]bool{"git": true, "libc6": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseDpkgQuery = %v", got)
	}
}

func TestInstallArgv(t *testing.T) {
	got := InstallArgv([]string{"a", "b"})
	want := []string{"apt-get", "install", "-y", "--no-install-recommends", "a", "b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("InstallArgv = %q", got)
	}
}

func TestForJob(t *testing.T) {
	tree, _ := filepath.Abs(filepath.Join("testdata", "tree"))
	cfg := filepath.Join("testdata", "sbom-off.yaml")
	tests := []struct {
		name     string
		job      runner.Job
		skips    []string
		planArch string
	}{
		{"full", runner.Job{Config: cfg, ToolDir: tree, Stage: runner.StageFull}, nil, "armhf"},
		{"image", runner.Job{Config: cfg, ToolDir: tree, Stage: runner.StageImage}, []string{IDBinfmt, "network", IDPackages}, "armhf"},
		{"native image alone", runner.Job{Config: cfg, Stage: runner.StageImage}, []string{IDBinfmt, "network", IDPackages, IDTool}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ForJob(tc.job, Options{Skip: []string{"x"}})
			if !reflect.DeepEqual(o.Skip, append([]string{"x"}, tc.skips...)) {
				t.Errorf("skip = %q", o.Skip)
			}
			arch := ""
			if o.Plan != nil {
				arch = o.Plan.Arch
			}
			if arch != tc.planArch {
				t.Errorf("plan arch %q, want %q", arch, tc.planArch)
			}
		})
	}
}

// Host-tool tarballs already in the work folder, where the tree looks
// before it downloads (<work>/cache or <work>/build/<package>/), count as
// cached without a pistudio cache: GitHub is not asked; a tarball with
// another digest does not count.
func TestRunToolsInWorkFolder(t *testing.T) {
	tree, _ := filepath.Abs(filepath.Join("testdata", "tree"))
	plan, err := PlanFromConfig(filepath.Join("testdata", "sbom-off.yaml"), tree, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan.Hosts = nil
	for _, tc := range []struct {
		name, rel, body string
		github          bool
	}{
		{"cache folder", "cache/genimage-19.tar.gz", "x", false},
		{"package build folder", "build/genimage/genimage-19.tar.gz", "x", false},
		{"another digest", "cache/genimage-19.tar.gz", "y", true},
		{"nothing", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			if tc.rel != "" {
				p := filepath.Join(work, tc.rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res := &fakeResolver{ok: map[string]bool{}}
			rep := Run(context.Background(), Options{
				ToolDir: tree, WorkDir: work, Plan: &plan, Stage: runner.StageFull,
				Resolver: res, Installed: installedOnly("python3"), Host: fakeHost(t, nil, 100*GiB),
			})
			_, asked := byID(rep)["network:github.com"]
			if asked != tc.github {
				t.Errorf("github.com checked = %v, want %v (asked %v)", asked, tc.github, res.asked)
			}
		})
	}
}

// The cache check names the work folder's filesystems that a build of
// unchanged inputs reuses, unless reusing is off.
func TestCacheNamesReusableFilesystems(t *testing.T) {
	tree, _ := filepath.Abs(filepath.Join("testdata", "tree"))
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, ".pistudio"), 0o755); err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(work, "chroot-2026-12-07-raid", "filesystem", "var", "lib", "dpkg", "status")
	stamp := fmt.Sprintf(`{"artefact_version": "2026-12-07-raid", "built": "2026-12-07T10:00:00Z", "dpkg_status": {"size": 4, "mtime": %q}}`,
		"2026-12-07T09:59:00Z")
	if err := os.WriteFile(runner.FilesystemStampFile(work, "2026-12-07-raid"), []byte(stamp), 0o644); err != nil {
		t.Fatal(err)
	}
	// a stamp whose filesystem is gone (cleaned) is not reusable
	if c, _ := checkCache(Options{ToolDir: tree, WorkDir: work, Cache: runner.Cache{Dir: t.TempDir()}}); strings.Contains(c.Detail, "reusable") {
		t.Errorf("filesystem gone: %q", c.Detail)
	}
	if err := os.MkdirAll(filepath.Dir(status), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(status, []byte("pkgs"), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2026, 12, 7, 9, 59, 0, 0, time.UTC)
	if err := os.Chtimes(status, mt, mt); err != nil {
		t.Fatal(err)
	}
	for _, noReuse := range []bool{false, true} {
		c, _ := checkCache(Options{ToolDir: tree, WorkDir: work, Cache: runner.Cache{Dir: t.TempDir(), NoReuse: noReuse}})
		if got := strings.Contains(c.Detail, "reusable when nothing changed: chroot-2026-12-07-raid (built 2026-12-07"); got == noReuse {
			t.Errorf("NoReuse %v: detail %q", noReuse, c.Detail)
		}
	}
}
