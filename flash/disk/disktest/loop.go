package disktest

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/disk/internal/devscope"
)

// A test binary that uses this package opens (scans, probes) only the
// loop devices its tests attached: other loop devices on the machine may
// belong to someone else.
func init() { devscope.Restrict() }

// loopDev is what a loop device node looks like.
var loopDev = regexp.MustCompile(`^/dev/loop[0-9]+$`)

// NeedRoot skips the test unless it runs as root with losetup and the
// other tools named installed.
func NeedRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (losetup)")
	}
	for _, tool := range append([]string{"losetup"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// Loop is a loop device a test attached; it is detached when the test
// ends.
type Loop struct {
	// Dev is the device node, /dev/loopN.
	Dev string
	// Backing is what it was attached to.
	Backing string

	t        testing.TB
	attached bool
}

// Attach attaches a free loop device to backing (`losetup -f --show
// [flags] BACKING`) and detaches it at cleanup. backing must be a regular
// file the test created, or a loop device it attached: no other block
// device is ever handed to losetup. A loop device node may lie outside
// /dev (made with mknod in a test's directory); it must not be a link.
// It skips the test when not root. The disk scan of the test binary may
// open the device while it is attached (see devscope).
func Attach(t testing.TB, backing string, flags ...string) *Loop {
	t.Helper()
	NeedRoot(t)
	st, err := os.Lstat(backing)
	if err != nil {
		t.Fatalf("loop backing %s: %v", backing, err)
	}
	if !st.Mode().IsRegular() && !isLoopDevice(backing, st) {
		t.Fatalf("refusing to attach %s: not a regular file or a loop device", backing)
	}
	args := append(append([]string{"-f", "--show"}, flags...), backing)
	out, err := exec.Command("losetup", args...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		t.Fatalf("losetup %s: %v %s", strings.Join(args, " "), err, msg)
	}
	l := &Loop{Dev: strings.TrimSpace(string(out)), Backing: backing, t: t, attached: true}
	if !loopDev.MatchString(l.Dev) {
		t.Fatalf("losetup gave %q, not a loop device", l.Dev)
	}
	devscope.Allow(l.Dev)
	t.Cleanup(l.Detach)
	return l
}

// loopMajor is the block major number of loop devices.
const loopMajor = 7

// isLoopDevice reports whether path (not a link) is a loop device node:
// /dev/loopN, or a node of major 7 a test made elsewhere.
func isLoopDevice(path string, st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && st.Mode()&os.ModeDevice != 0 &&
		st.Mode()&os.ModeCharDevice == 0 && unix.Major(uint64(sys.Rdev)) == loopMajor
}

// Detach detaches the device now (an unplug); later calls do nothing.
func (l *Loop) Detach() {
	if !l.attached {
		return
	}
	l.attached = false
	defer devscope.Forget(l.Dev)
	if out, err := exec.Command("losetup", "-d", l.Dev).CombinedOutput(); err != nil {
		l.t.Errorf("losetup -d %s: %v %s", l.Dev, err, out)
	}
}
