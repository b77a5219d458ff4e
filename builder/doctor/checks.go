package doctor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/builder/runner"
)

// Dependency is one entry of the tree's dependency list ("depends"):
// category:program:package, where an empty program means "the package
// must be installed" and an empty package means it is named like the
// program.
type Dependency struct {
	// Category is all, bootstrap or build.
	Category string
	// Program is checked on PATH first; empty for package-only entries.
	Program string
	// Package is the Debian package providing it.
	Package string
}

// DependsFile is the tree's dependency list.
func DependsFile(toolDir string) string { return filepath.Join(toolDir, "depends") }

// ParseDepends reads a dependency list in the tree's format. Comments
// (#) and blank lines are skipped; lines without a category are ignored
// as the tree ignores them.
func ParseDepends(data []byte) []Dependency {
	var out []Dependency
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		d := Dependency{Category: strings.TrimSpace(parts[0]), Program: strings.TrimSpace(parts[1]), Package: strings.TrimSpace(parts[2])}
		if d.Package == "" {
			d.Package = d.Program
		}
		if d.Category == "" || d.Package == "" || strings.ContainsAny(d.Package, " \t") {
			continue
		}
		out = append(out, d)
	}
	return out
}

// ExtraPackages are needed beyond the tree's list by the builds Pi Image
// Studio runs (the layer engine reads YAML with ruamel).
var ExtraPackages = []string{"python3-ruamel.yaml"}

func checkTool(dir string) Check {
	c := Check{ID: IDTool, Name: "rpi-image-gen"}
	if dir == "" {
		c.Status = Fail
		c.Detail = "no rpi-image-gen tree found"
		c.Fix = "get it: pistudio doctor --get-tool (clones " + UpstreamURL + " at " + UpstreamRelease + " into " + DefaultToolDirHint + "), or pass --rpi-image-gen DIR"
		c.Command = "git clone --branch " + UpstreamRelease + " --depth 1 " + UpstreamURL + " ~/rpi-image-gen"
		return c
	}
	st, err := os.Stat(runner.ToolPath(dir))
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, "no rpi-image-gen script in "+dir
		c.Fix = "point --rpi-image-gen at a checkout of " + UpstreamURL
	case st.Mode()&0o111 == 0:
		c.Status, c.Detail = Fail, runner.ToolPath(dir)+" is not executable"
		c.Command = "chmod +x " + runner.ToolPath(dir)
		c.Fix = "make it executable"
	default:
		c.Status, c.Detail = OK, dir
		if v := treeVersion(dir); v != "" {
			c.Detail += " (" + v + ")"
			if v != UpstreamRelease && !strings.HasPrefix(v, UpstreamRelease+"-") {
				c.Status = Warn
				c.Fix = "Pi Image Studio is tested with " + UpstreamRelease + "; other releases may differ"
			}
		}
	}
	return c
}

// treeVersion is `git describe --tags` of the tree, or "".
func treeVersion(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		return "" // not a clone of its own
	}
	out, err := exec.Command("git", "-C", dir, "describe", "--tags", "--always").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func checkPackages(ctx context.Context, o Options, plan Plan) Check {
	c := Check{ID: IDPackages, Name: "Debian packages"}
	var deps []Dependency
	if o.ToolDir != "" {
		b, err := os.ReadFile(DependsFile(o.ToolDir))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.Status, c.Detail = Warn, fmt.Sprintf("the tree's dependency list cannot be read: %v", err)
			return c
		}
		deps = ParseDepends(b)
	}
	if len(deps) == 0 {
		c.Status = Warn
		c.Detail = "no dependency list (no rpi-image-gen tree, or it has no depends file): checked only git and what Pi Image Studio adds"
	}
	deps = append(deps, Dependency{Category: "all", Program: "git", Package: "git"})
	for _, p := range append(ExtraPackages, plan.Packages...) {
		deps = append(deps, Dependency{Category: "all", Package: p})
	}
	ask := packageNames(deps)
	installed, err := o.Installed(ctx, ask)
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("cannot ask dpkg which packages are installed: %v", err)
		return c
	}
	c.Packages = missingPackages(deps, installed, o.Host.LookPath)
	if len(c.Packages) == 0 {
		if c.Status == "" {
			c.Status = OK
			c.Detail = fmt.Sprintf("all %d packages installed", len(ask))
		}
		return c
	}
	c.Status = Fail
	c.Detail = fmt.Sprintf("%d of %d packages missing: %s", len(c.Packages), len(ask), strings.Join(c.Packages, " "))
	c.Fix = "install them (Pi Image Studio can run apt-get through its helper)"
	c.Command = InstallCommand(c.Packages)
	return c
}

// packageNames lists the packages of deps once each, in order.
func packageNames(deps []Dependency) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range deps {
		if !seen[d.Package] {
			seen[d.Package] = true
			out = append(out, d.Package)
		}
	}
	return out
}

// missingPackages returns, sorted, the packages of deps that are not
// installed and whose program (when they name one) is not on PATH either,
// as the tree's own check decides.
func missingPackages(deps []Dependency, installed map[string]bool, lookPath func(string) (string, error)) []string {
	missing := map[string]bool{}
	for _, d := range deps {
		if installed[d.Package] {
			continue
		}
		if d.Program != "" {
			if _, err := lookPath(d.Program); err == nil {
				continue
			}
		}
		missing[d.Package] = true
	}
	out := make([]string, 0, len(missing))
	for p := range missing {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// dpkgInstalled asks dpkg-query which of pkgs are installed.
func dpkgInstalled(ctx context.Context, pkgs []string) (map[string]bool, error) {
	args := append([]string{"-W", "-f=${Package} ${db:Status-Status}\n"}, pkgs...)
	cmd := exec.CommandContext(ctx, "dpkg-query", args...)
	out, err := cmd.Output()
	// dpkg-query exits 1 when some package is unknown and still lists the others.
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return nil, fmt.Errorf("dpkg-query: %w", err)
	}
	return parseDpkgQuery(out), nil
}

// parseDpkgQuery reads "package status" lines; multi-arch names lose
// their ":arch" suffix.
func parseDpkgQuery(out []byte) map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		name, status, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ":")
		if status == "installed" {
			m[name] = true
		}
	}
	return m
}

// binfmtHandlers maps a Debian architecture to its qemu binfmt handler
// and the GOARCH values that run it natively.
var binfmtHandlers = map[string]struct {
	handler string
	native  []string
}{
	"arm64": {"qemu-aarch64", []string{"arm64"}},
	"armhf": {"qemu-arm", []string{"arm", "arm64"}},
	"armel": {"qemu-arm", []string{"arm", "arm64"}},
}

// checkBinfmts checks every architecture and reports the first that
// fails (or warns), else the first. A foreign (multiarch) architecture
// without a handler only warns: its packages rarely run programs while
// they install.
func checkBinfmts(h runner.Host, archs []string) Check {
	var first Check
	for i, a := range archs {
		c := checkBinfmt(h, a)
		if c.Status == Fail && i > 0 {
			c.Status = Warn
			c.Detail = "foreign architecture " + a + " of a multiarch layer: " + c.Detail
		}
		if c.Status != OK {
			return c
		}
		if i == 0 {
			first = c
		}
	}
	if len(archs) > 1 {
		first.Name = "binfmt (" + strings.Join(archs, ", ") + ")"
	}
	return first
}

func checkBinfmt(h runner.Host, arch string) Check {
	c := Check{ID: IDBinfmt, Name: "binfmt (" + arch + ")"}
	bh, known := binfmtHandlers[arch]
	if !known {
		c.Status, c.Detail = Warn, "unknown target architecture "+arch+": cannot tell which emulator it needs"
		return c
	}
	for _, n := range bh.native {
		if h.Arch == n {
			c.Status, c.Detail = OK, h.Arch+" host runs "+arch+" programs natively"
			return c
		}
	}
	b, err := os.ReadFile(filepath.Join(h.BinfmtDir, bh.handler))
	switch {
	case err != nil:
		c.Status = Fail
		c.Detail = fmt.Sprintf("%s programs cannot run on this %s host: no %s binfmt handler is registered", arch, h.Arch, bh.handler)
		c.Fix = "install qemu-user-static and binfmt-support"
		c.Packages = []string{"qemu-user-static", "binfmt-support"}
		c.Command = InstallCommand(c.Packages)
	case !strings.HasPrefix(string(b), "enabled"):
		c.Status = Fail
		c.Detail = "the " + bh.handler + " binfmt handler is registered but disabled"
		c.Fix = "enable it"
		c.Command = "echo 1 | sudo tee " + filepath.Join(h.BinfmtDir, bh.handler)
	default:
		c.Status, c.Detail = OK, bh.handler+" binfmt handler registered and enabled"
	}
	return c
}

func checkPrivileges(h runner.Host) Check {
	c := Check{ID: IDPrivileges, Name: "privileges"}
	if h.Euid() == 0 {
		c.Status, c.Detail = OK, "running as root"
		return c
	}
	if p, err := h.LookPath("podman"); err == nil {
		c.Status, c.Detail = OK, "not root: rpi-image-gen will use podman unshare ("+p+")"
		return c
	}
	c.Status = Fail
	c.Detail = "not root, and podman is not installed: rpi-image-gen cannot build a root filesystem"
	c.Fix = "build as root (sudo pistudio build ...) or install podman and uidmap"
	c.Packages = []string{"podman", "uidmap"}
	c.Command = InstallCommand(c.Packages)
	return c
}

// Space a build needs in the work folder besides the images themselves.
const (
	GiB            = 1 << 30
	SpaceFull      = 8 * GiB
	SpaceFS        = 6 * GiB
	SpaceImageOnly = 2 * GiB
)

// SpaceNeeded estimates the free space a build of plan's stage needs:
// the root filesystem, the build tree and the host tools, plus twice the
// images (raw and sparse) for stages that write them.
func SpaceNeeded(stage runner.Stage, plan Plan) uint64 {
	switch stage {
	case runner.StageFilesystem:
		return SpaceFS
	case runner.StageImage:
		return SpaceImageOnly + 2*plan.ImageBytes
	case runner.StageClean:
		return 0
	}
	return SpaceFull + 2*plan.ImageBytes
}

func checkSpace(o Options, plan Plan) Check {
	c := Check{ID: IDSpace, Name: "free space"}
	if o.WorkDir == "" {
		c.Status, c.Detail = Warn, "no work folder given"
		return c
	}
	dir := existingParent(o.WorkDir)
	free, err := o.Host.FreeSpace(dir)
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("free space of %s unknown: %v", dir, err)
		return c
	}
	need := SpaceNeeded(o.Stage, plan)
	c.Detail = fmt.Sprintf("%s: %.1f GiB free, a %s build needs about %.1f GiB", o.WorkDir, float64(free)/GiB, o.Stage, float64(need)/GiB)
	switch {
	case free < need:
		c.Status = Fail
		c.Fix = "free space there or choose a work folder on a bigger disk (-B DIR)"
	case free < need+need/2:
		c.Status = Warn
		c.Fix = "little room to spare: a bigger config may run out of space"
	default:
		c.Status = OK
	}
	return c
}

// existingParent returns dir or its nearest existing ancestor.
func existingParent(dir string) string {
	d := filepath.Clean(dir)
	for {
		if _, err := os.Stat(d); err == nil {
			return d
		}
		p := filepath.Dir(d)
		if p == d {
			return d
		}
		d = p
	}
}

func checkCache(o Options) (Check, bool) {
	c := Check{ID: IDCache, Name: "cache"}
	if o.Cache.Dir == "" {
		c.Status, c.Detail = OK, "no cache: each work folder downloads the host tools on its first build"
		return c, false
	}
	if o.ToolDir == "" {
		c.Status, c.Detail = OK, o.Cache.Dir+" (what it needs depends on the rpi-image-gen tree)"
		return c, false
	}
	st, err := o.Cache.State(o.ToolDir)
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("cannot read the tree's host-tool list: %v", err)
		return c, false
	}
	var names []string
	for _, t := range st.Cached {
		names = append(names, t.Archive)
	}
	held := "nothing yet"
	if len(names) > 0 {
		held = strings.Join(names, ", ")
	}
	apt := dirSize(o.Cache.AptDir())
	c.Detail = fmt.Sprintf("%s holds %s; apt cache %.0f MiB", o.Cache.Dir, held, float64(apt)/(1<<20))
	c.Status = OK
	if !st.Complete() {
		c.Detail += "; not cached yet: " + strings.Join(st.Missing, ", ") + " (the first build downloads them from GitHub, later builds run offline)"
	} else {
		c.Detail += "; builds run offline (IG_OFFLINE=y)"
	}
	if fs := stampedFilesystems(o); fs != "" {
		c.Detail += "; " + fs
	}
	return c, st.Complete()
}

// stampedFilesystems names the filesystems of the work folder that a
// build of unchanged inputs reuses ("" when none or reuse is off).
func stampedFilesystems(o Options) string {
	if o.WorkDir == "" || o.Cache.NoReuse {
		return ""
	}
	var names []string
	sts := runner.FilesystemStamps(o.WorkDir)
	for _, st := range sts {
		if st.Intact(o.WorkDir) {
			names = append(names, "chroot-"+st.Version+" (built "+st.Built.Local().Format("2006-01-02 15:04")+")")
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "reusable when nothing changed: " + strings.Join(names, ", ")
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
