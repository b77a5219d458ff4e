package flash

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

// makeImage writes a size-byte image with an MBR, some random data and
// holes, and returns its path and bytes.
func makeImage(t testing.TB, dir string, size int64) (string, []byte) {
	t.Helper()
	p := filepath.Join(dir, "test.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{1<<20 + 4096, size / 2, size/2 + 300000, size - 70000} {
		b := make([]byte, 65536)
		rand.Read(b)
		if _, err := f.WriteAt(b[:min(int64(len(b)), size-off)], off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	sourcetest.Run(t, "label: dos\nstart=2048, type=83\n", "sfdisk", "--quiet", p)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, data
}

// needRoot skips tests that need root (losetup, mount).
func needRoot(t testing.TB) {
	t.Helper()
	disktest.NeedRoot(t)
}

// newLoop attaches a loop device over a new size-byte file filled with
// fill, detached at cleanup. It returns the device and the backing file.
func newLoop(t testing.TB, size int64, fill byte, partscan bool) (string, string) {
	t.Helper()
	needRoot(t)
	backing := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(backing, bytes.Repeat([]byte{fill}, int(size)), 0o644); err != nil {
		t.Fatal(err)
	}
	var flags []string
	if partscan {
		flags = append(flags, "-P")
	}
	return disktest.Attach(t, backing, flags...).Dev, backing
}

// identity returns the identity of the loop device as the disk list has it.
func identity(t testing.TB, dev string) disk.Identity {
	t.Helper()
	d, err := disk.CheckPath(dev)
	if err != nil {
		t.Fatalf("CheckPath(%s): %v", dev, err)
	}
	return d.Identity()
}
