package flash

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

// pistudioBin is the flash command the kill tests run (pistudio's flash
// subcommands without the desktop app, so no cgo build), built once per
// test binary.
var pistudioBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildPistudio builds the flash command into a directory removed when
// the test ends.
func buildPistudio(t *testing.T) string {
	t.Helper()
	pistudioBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "pistudio-kill-")
		if err != nil {
			pistudioBin.err = err
			return
		}
		// The go that runs this test (make puts /usr/local/go/bin first).
		goTool, err := exec.LookPath("go")
		if err != nil {
			pistudioBin.err = err
			return
		}
		p := filepath.Join(dir, "pistudio")
		cmd := exec.Command(goTool, "build", "-o", p, "github.com/pistudio/pistudio/flash/flashcmd/cmd/pistudio-flash")
		cmd.Dir = ".."
		pistudioBin.out, pistudioBin.err = cmd.CombinedOutput()
		pistudioBin.path = p
	})
	if pistudioBin.err != nil {
		t.Fatalf("building pistudio: %v\n%s", pistudioBin.err, pistudioBin.out)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(pistudioBin.path)) })
	return pistudioBin.path
}

// killMoments are the moments the writer is killed at: its phases (see
// PauseEnv) and image offsets while streaming and verifying. complete
// marks the moments after which the whole image is on the medium;
// untouched those before the first write.
var killMoments = []struct {
	pause               string
	untouched, complete bool
}{
	{pause: "open", untouched: true},
	{pause: "dropped", untouched: true},
	{pause: "zero-head"},
	{pause: "zeroed"},
	{pause: "stream@1"},
	{pause: "stream@5242880"},
	{pause: "stream@12582912"},
	{pause: "stream@18874368"},
	{pause: "cleared"},
	{pause: "head-body"},
	{pause: "head", complete: true},
	{pause: "verify@1", complete: true},
	{pause: "verify@2097152", complete: true},
	{pause: "", complete: true}, // runs to the end
}

// TestKillMatrix kills `pistudio flash` with SIGKILL at each moment, for
// raw, Android sparse and xz images written over a disk holding an older
// layout, and checks that neither the medium nor the kernel's view (its
// partitions, blkid) shows a partition table unless the write had
// completed, and that the old data is never presented as the new image.
func TestKillMatrix(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"sfdisk", "mkfs.ext4", "blkid", "partx", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	bin := buildPistudio(t)
	dir := t.TempDir()
	const diskSize, imgSize = 24 << 20, 20 << 20
	raw := filepath.Join(dir, "new.img")
	layoutFile(t, raw, imgSize, newUUID)
	want, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.img")
	layoutFile(t, old, diskSize, oldUUID)
	oldBytes, err := os.ReadFile(old)
	if err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, "", "xz", "-0", "-T1", "-k", raw)
	images := map[string]string{
		"raw":    raw,
		"sparse": sparseOf(t, raw),
		"xz":     raw + ".xz",
	}
	for _, format := range []string{"raw", "sparse", "xz"} {
		for _, m := range killMoments {
			name := format + "/" + m.pause
			if m.pause == "" {
				name = format + "/end"
			}
			t.Run(name, func(t *testing.T) {
				backing := filepath.Join(t.TempDir(), "disk.img")
				if err := os.WriteFile(backing, oldBytes, 0o644); err != nil {
					t.Fatal(err)
				}
				dev := attachAutoclear(t, backing)
				showParts(t, dev)
				out := runUntilPaused(t, bin, m.pause, images[format], dev)
				checkAfterKill(t, dev, backing, out, m.untouched, m.complete, oldBytes, want)
			})
		}
	}
}

// runUntilPaused runs `pistudio flash IMAGE DEV --yes` with the pause hook
// set to pause, kills it with SIGKILL once it paused, and returns its
// standard error. With pause "" it runs to the end and must succeed.
func runUntilPaused(t *testing.T, bin, pause, image, dev string) string {
	t.Helper()
	cmd := exec.Command(bin, "flash", image, dev, "--yes")
	cmd.Env = append(os.Environ(), PauseEnv+"="+pause)
	// A writer left paused must not outlive the test (nor hold the loop
	// device).
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	sc := bufio.NewScanner(stderr)
	stopped := false
	for sc.Scan() {
		errOut.WriteString(sc.Text() + "\n")
		if pause != "" && strings.HasPrefix(sc.Text(), "pistudio: paused at ") {
			stopped = true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill: %v", err)
			}
			break
		}
	}
	go func() { _, _ = bufio.NewReader(stderr).WriteTo(&errOut) }()
	err = cmd.Wait()
	switch {
	case pause == "" && err != nil:
		t.Fatalf("flash: %v\n%s%s", err, stdout.String(), errOut.String())
	case pause != "" && !stopped:
		t.Fatalf("the writer never paused at %s (%v)\n%s%s", pause, err, stdout.String(), errOut.String())
	}
	return stdout.String() + errOut.String()
}

// checkAfterKill checks the medium (the backing file) and the kernel's
// view of dev after the writer was killed.
func checkAfterKill(t *testing.T, dev, backing, out string, untouched, complete bool, oldBytes, want []byte) {
	t.Helper()
	got, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	parts := kernelParts(dev)
	devProbe := probe(t, dev, 0)
	fileProbe := probe(t, backing, 0)
	switch {
	case untouched:
		if !bytes.Equal(got, oldBytes) {
			t.Fatalf("killed before writing, yet the disk changed\n%s", out)
		}
	case complete:
		if !bytes.Equal(got[:len(want)], want) && !sameData(t, got, want) {
			t.Fatalf("killed after the write completed, yet the disk does not hold the image\n%s", out)
		}
		if !strings.Contains(fileProbe, "PTTYPE=dos") {
			t.Errorf("the completed disk has no partition table: %q", fileProbe)
		}
	default:
		if fileProbe != "" || devProbe != "" {
			t.Errorf("killed mid-write, blkid finds %q on the medium, %q on %s\n%s", fileProbe, devProbe, dev, out)
		}
		if got[510] == 0x55 && got[511] == 0xaa {
			t.Errorf("killed mid-write, the medium has a boot signature\n%s", out)
		}
		if len(parts) != 0 {
			t.Errorf("killed mid-write, the kernel still shows %v\n%s", parts, out)
		}
	}
	if !complete {
		// No partition node may present the old filesystem as part of a
		// new disk, nor the new one before it is whole.
		for _, p := range parts {
			if untouched {
				continue
			}
			t.Errorf("partition %s visible after a kill mid-write", p)
		}
	}
	// The old filesystem is never inside a table the disk shows.
	if s := probe(t, backing, p2Offset); strings.Contains(s, oldUUID) && !untouched && complete {
		t.Errorf("the old filesystem is inside the new table: %s", s)
	}
}

// sameData reports whether the sparse image's data ranges hold want's
// bytes: the ranges it skips hold zeros in want (they are holes in the raw
// image) and may hold cleared or old bytes on the disk, which are then
// outside every signature window.
func sameData(t *testing.T, got, want []byte) bool {
	t.Helper()
	const bs = 4096
	for off := 0; off < len(want); off += bs {
		w := want[off : off+bs]
		if bytes.Equal(got[off:off+bs], w) {
			continue
		}
		if !bytes.Equal(w, make([]byte, bs)) {
			return false
		}
	}
	return true
}

// attachAutoclear attaches a loop device with partition scanning over
// backing, like attachScanned, and also holds it open with the kernel's
// autoclear flag set, so that the device goes away with this process
// even if it is killed before its cleanup runs.
func attachAutoclear(t *testing.T, backing string) string {
	t.Helper()
	fd := -1
	// Registered before Attach, so that it runs after the detach.
	t.Cleanup(func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	})
	dev := attachScanned(t, backing)
	var err error
	fd, err = unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening %s: %v", dev, err)
	}
	info, err := unix.IoctlLoopGetStatus64(fd)
	if err != nil {
		t.Fatalf("loop status of %s: %v", dev, err)
	}
	info.Flags |= unix.LO_FLAGS_AUTOCLEAR
	if err := unix.IoctlLoopSetStatus64(fd, info); err != nil {
		t.Fatalf("setting autoclear on %s: %v", dev, err)
	}
	return dev
}
