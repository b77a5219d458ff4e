package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Check is the outcome of one preflight check.
type Check struct {
	// Name identifies the check: "tool", "binfmt", "privileges", "workdir".
	Name string
	// OK is false when the build cannot work until Fix is applied.
	OK bool
	// Warning marks an OK check that still deserves attention.
	Warning bool
	// Msg says what was found.
	Msg string
	// Fix says what to do about it; empty when nothing is needed.
	Fix string
}

// The names of the preflight checks.
const (
	CheckTool       = "tool"
	CheckBinfmt     = "binfmt"
	CheckPrivileges = "privileges"
	CheckWorkDir    = "workdir"
)

// MinFreeSpace is the free space in the work dir below which the workdir
// check warns.
const MinFreeSpace = 4 << 30

// Host is what the preflight checks look at; each zero field means the
// real machine, so tests can replace any of them.
type Host struct {
	// Arch is the host architecture in GOARCH spelling.
	Arch string
	// BinfmtDir is /proc/sys/fs/binfmt_misc.
	BinfmtDir string
	// Euid returns the effective user id.
	Euid func() int
	// LookPath finds a program on PATH.
	LookPath func(string) (string, error)
	// FreeSpace returns the bytes available to us in the file system of dir.
	FreeSpace func(dir string) (uint64, error)
}

func (h Host) withDefaults() Host {
	if h.Arch == "" {
		h.Arch = runtime.GOARCH
	}
	if h.BinfmtDir == "" {
		h.BinfmtDir = "/proc/sys/fs/binfmt_misc"
	}
	if h.Euid == nil {
		h.Euid = os.Geteuid
	}
	if h.LookPath == nil {
		h.LookPath = exec.LookPath
	}
	if h.FreeSpace == nil {
		h.FreeSpace = freeSpace
	}
	return h
}

func freeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// ToolPath returns the rpi-image-gen script inside toolDir.
func ToolPath(toolDir string) string { return filepath.Join(toolDir, "rpi-image-gen") }

// Preflight checks that a build of job can start on host: the tool is
// there and runnable, arm64 binaries can run (binfmt on x86_64), we are
// root or have podman, and the work dir exists or can be created with
// enough free space. Checks named in skip are left out.
func Preflight(job Job, host Host, skip ...string) []Check {
	h := host.withDefaults()
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	var out []Check
	if !skipped[CheckTool] {
		out = append(out, checkTool(job.ToolDir))
	}
	if !skipped[CheckBinfmt] {
		out = append(out, checkBinfmt(h))
	}
	if !skipped[CheckPrivileges] {
		out = append(out, checkPrivileges(h))
	}
	if !skipped[CheckWorkDir] {
		out = append(out, checkWorkDir(job.WorkDir, h))
	}
	return out
}

func checkTool(dir string) Check {
	c := Check{Name: CheckTool}
	if dir == "" {
		c.Msg = "no rpi-image-gen directory given"
		c.Fix = "pass --rpi-image-gen DIR (a checkout of github.com/raspberrypi/rpi-image-gen) or set PISTUDIO_RPI_IMAGE_GEN"
		return c
	}
	p := ToolPath(dir)
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		c.Msg = fmt.Sprintf("rpi-image-gen not found at %s", p)
		c.Fix = "clone it: git clone https://github.com/raspberrypi/rpi-image-gen, then point --rpi-image-gen at that directory"
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		c.Msg = fmt.Sprintf("%s is not an executable file", p)
		c.Fix = "chmod +x " + p + " (or re-clone the rpi-image-gen checkout)"
	case unix.Access(p, unix.X_OK) != nil:
		c.Msg = fmt.Sprintf("%s cannot be executed by this user", p)
		c.Fix = "check the permissions of the rpi-image-gen checkout"
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, p, "help")
		cmd.Env = ToolEnv(os.Environ())
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			c.Msg = fmt.Sprintf("%s help failed (%v): %s", p, err, lastLine(string(out)))
			c.Fix = "install its host dependencies: sudo " + filepath.Join(dir, "install_deps.sh")
			return c
		}
		c.OK = true
		c.Msg = "rpi-image-gen found at " + p
	}
	return c
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return StripANSI(s)
}

func checkBinfmt(h Host) Check {
	c := Check{Name: CheckBinfmt}
	if h.Arch == "arm64" {
		c.OK = true
		c.Msg = "arm64 host: no emulation needed"
		return c
	}
	b, err := os.ReadFile(filepath.Join(h.BinfmtDir, "qemu-aarch64"))
	switch {
	case err != nil:
		c.Msg = "arm64 programs cannot run on this " + h.Arch + " host: no qemu-aarch64 binfmt handler is registered"
		c.Fix = "install qemu-user-static binfmt-support (sudo apt install qemu-user-static binfmt-support)"
	case !strings.HasPrefix(string(b), "enabled"):
		c.Msg = "the qemu-aarch64 binfmt handler is registered but disabled"
		c.Fix = "enable it: echo 1 | sudo tee " + filepath.Join(h.BinfmtDir, "qemu-aarch64")
	default:
		c.OK = true
		c.Msg = "qemu-aarch64 binfmt handler registered"
	}
	return c
}

func checkPrivileges(h Host) Check {
	c := Check{Name: CheckPrivileges}
	if h.Euid() == 0 {
		c.OK = true
		c.Msg = "running as root"
		return c
	}
	if p, err := h.LookPath("podman"); err == nil {
		c.OK = true
		c.Msg = "not root; rpi-image-gen will use podman unshare (" + p + ")"
		return c
	}
	c.Msg = "rpi-image-gen needs root or podman to build a filesystem"
	c.Fix = "run as root (sudo pistudio ...) or install podman (sudo apt install podman)"
	return c
}

func checkWorkDir(dir string, h Host) Check {
	c := Check{Name: CheckWorkDir}
	if dir == "" {
		c.Msg = "no work dir given"
		c.Fix = "pass -B DIR"
		return c
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.Msg = fmt.Sprintf("work dir %s cannot be created: %v", dir, err)
		c.Fix = "choose a writable directory with -B DIR"
		return c
	}
	free, err := h.FreeSpace(dir)
	if err != nil {
		c.OK = true
		c.Warning = true
		c.Msg = fmt.Sprintf("work dir %s: free space unknown (%v)", dir, err)
		return c
	}
	c.OK = true
	c.Msg = fmt.Sprintf("work dir %s: %.1f GiB free", dir, float64(free)/(1<<30))
	if free < MinFreeSpace {
		c.Warning = true
		c.Fix = "a build needs several GiB: free space or choose another work dir with -B DIR"
	}
	return c
}

// PreflightError is returned by Start when a preflight check fails.
type PreflightError struct {
	// Checks holds every check that ran, failing or not.
	Checks []Check
}

// Error lists the failing checks with their fixes.
func (e *PreflightError) Error() string {
	var b strings.Builder
	b.WriteString("preflight failed")
	for _, c := range e.Checks {
		if c.OK {
			continue
		}
		fmt.Fprintf(&b, "\n  %s: %s", c.Name, c.Msg)
		if c.Fix != "" {
			fmt.Fprintf(&b, "\n    fix: %s", c.Fix)
		}
	}
	return b.String()
}

// ErrPreflight is matched by errors.Is for every PreflightError.
var ErrPreflight = errors.New("preflight failed")

// Is makes errors.Is(err, ErrPreflight) true.
func (e *PreflightError) Is(target error) bool { return target == ErrPreflight }

// WithDefaults returns h with every zero field set to the real machine.
func (h Host) WithDefaults() Host { return h.withDefaults() }
