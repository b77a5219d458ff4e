package flash

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/source/sourcetest"
	"github.com/pistudio/pistudio/flash/sparse"
)

// The layout of the disks and images of these tests: p1 (FAT type) over
// MiB 1-4, p2 (Linux, ext4) from MiB 4 to the end of the image.
const (
	layoutTable = "label: dos\nstart=2048, size=6144, type=c\nstart=8192, type=83\n"
	p2Offset    = 4 << 20
	oldUUID     = "01d01d00-0000-4000-8000-000000000001"
	newUUID     = "00000000-4e55-4000-8000-000000000002"
)

// layoutFile makes a size-byte file (holes where nothing was written)
// with the test layout and, when uuid is set, an ext4 with that UUID in p2.
func layoutFile(t testing.TB, path string, size int64, uuid string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sourcetest.Run(t, layoutTable, "sfdisk", "--quiet", path)
	if uuid != "" {
		fsSize := (size - p2Offset) >> 10
		sourcetest.Run(t, "", "mkfs.ext4", "-q", "-F", "-U", uuid, "-E", "offset=4194304", path, strconv.FormatInt(fsSize, 10)+"k")
	}
}

// oldDisk attaches (with partition scanning) a loop device over a disk
// holding the test layout with an old ext4 in p2, and returns the device
// and its backing file.
func oldDisk(t testing.TB, size int64) (string, string) {
	t.Helper()
	needRoot(t)
	backing := filepath.Join(t.TempDir(), "disk.img")
	layoutFile(t, backing, size, oldUUID)
	dev := attachScanned(t, backing)
	showParts(t, dev)
	return dev, backing
}

// showParts makes the kernel show the partitions of the table on dev
// (partx -a: BLKPG adds, as udev or a desktop would have them; some
// kernels have no partition table parsers at all).
func showParts(t testing.TB, dev string) {
	t.Helper()
	if len(kernelParts(dev)) > 0 {
		return
	}
	sourcetest.Run(t, "", "partx", "-a", dev)
}

// kernelParts lists the partitions the kernel shows for the loop device.
func kernelParts(dev string) []string {
	n := filepath.Base(dev)
	m, _ := filepath.Glob(filepath.Join("/sys/class/block", n, n+"p*"))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// probe returns what blkid finds at byte off of path ("" when nothing).
func probe(t testing.TB, path string, off int64) string {
	t.Helper()
	out, err := exec.Command("blkid", "-p", "-o", "export", "-O", strconv.FormatInt(off, 10), path).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return ""
	}
	if err != nil {
		t.Fatalf("blkid -p -O %d %s: %v", off, path, err)
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "TYPE=") || strings.HasPrefix(l, "PTTYPE=") || strings.HasPrefix(l, "UUID=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, " ")
}

// TestPartitionsDroppedWhileWriting checks that the kernel shows no
// partition of the old layout from the moment writing starts: a disk with
// p1 and p2 known to the kernel has none while the image streams, and the
// new ones once it is written.
func TestPartitionsDroppedWhileWriting(t *testing.T) {
	dev, _ := oldDisk(t, 24<<20)
	if p := kernelParts(dev); len(p) != 2 {
		t.Fatalf("the old disk shows partitions %v, want 2", p)
	}
	img := filepath.Join(t.TempDir(), "new.img")
	layoutFile(t, img, 20<<20, newUUID)
	var seen [][]string
	opts := Options{BufferSize: 1 << 20, Progress: func(p Progress) {
		if p.Phase == Writing {
			seen = append(seen, kernelParts(dev))
		}
	}}
	if _, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, opts); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 {
		t.Fatal("no progress while writing")
	}
	for _, p := range seen {
		if len(p) != 0 {
			t.Fatalf("while writing the kernel showed partitions %v", p)
		}
	}
}

// TestVerifyFailureErasesTable checks that a disk that fails the verify is
// left without a partition table, on the medium and in the kernel's view,
// and that the error says so.
func TestVerifyFailureErasesTable(t *testing.T) {
	dev, backing := oldDisk(t, 24<<20)
	img := filepath.Join(t.TempDir(), "new.img")
	layoutFile(t, img, 20<<20, newUUID)
	const bad = 12<<20 + 5
	opts := Options{beforeVerify: func(string) error {
		// The new table is complete: let the kernel show it, as udev
		// would, then corrupt the medium.
		showParts(t, dev)
		return flipByte(backing, bad)
	}}
	_, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, opts)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Offset != bad || !ve.Wiped || !strings.Contains(err.Error(), "partition table was erased") {
		t.Fatalf("error %v, want a *VerifyError at %d saying the table was erased", err, bad)
	}
	got, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]byte, 1<<20)
	if !bytes.Equal(got[:1<<20], z) || !bytes.Equal(got[len(got)-1<<20:], z) {
		t.Error("the first or last MiB is not zero after a failed verify")
	}
	if p := kernelParts(dev); len(p) != 0 {
		t.Errorf("after a failed verify the kernel shows %v", p)
	}
	if s := probe(t, dev, 0); s != "" {
		t.Errorf("blkid finds %s on the disk", s)
	}
}

// TestSkippedRangesHoldNoStaleSignature writes images that leave ranges
// unwritten over a disk whose old ext4 sits where the new p2 starts: the
// old filesystem must not be found inside the new table, the result says
// what was skipped and cleared, and the write verifies.
func TestSkippedRangesHoldNoStaleSignature(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		make func(t *testing.T, raw string) string
	}{
		{"sparse dont-care", func(t *testing.T, raw string) string {
			return sparseOf(t, raw)
		}},
		{"bmap holes", func(t *testing.T, raw string) string {
			sourcetest.Run(t, "", "bmaptool", "create", "-o", raw+".bmap", raw)
			return raw
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev, backing := oldDisk(t, 24<<20)
			if s := probe(t, backing, p2Offset); !strings.Contains(s, "TYPE=ext4") {
				t.Fatalf("the old disk has no ext4 in p2: %q", s)
			}
			// Only the first MiB (the table) holds data.
			raw := filepath.Join(t.TempDir(), "new.img")
			layoutFile(t, raw, 20<<20, "")
			img := tc.make(t, raw)
			res, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Verified || res.Skipped < 18<<20 || res.Cleared == 0 || res.Written+res.Skipped != 20<<20 {
				t.Fatalf("result %+v: want verified, skipped and cleared ranges", res)
			}
			if s := probe(t, backing, p2Offset); s != "" {
				t.Errorf("blkid finds the old %s inside the new p2", s)
			}
			if s := probe(t, dev+"p2", 0); s != "" {
				t.Errorf("blkid finds the old %s on %sp2", s, dev)
			}
		})
	}
}

// sparseOf writes raw as an Android sparse image (holes as DONT_CARE).
func sparseOf(t testing.TB, raw string) string {
	t.Helper()
	in, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(raw + ".simg")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := sparse.WriteFile(out, in, sparse.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return out.Name()
}

// attachScanned attaches a loop device with partition scanning over
// backing (a file the test created), detached at cleanup.
func attachScanned(t testing.TB, backing string) string {
	t.Helper()
	return disktest.Attach(t, backing, "-P").Dev
}

// TestVerifyCancelSaysWritten checks that a verify cancelled on a disk
// says that the image is fully written but not verified, and leaves it.
func TestVerifyCancelSaysWritten(t *testing.T) {
	dev, backing := oldDisk(t, 24<<20)
	img := filepath.Join(t.TempDir(), "new.img")
	layoutFile(t, img, 20<<20, newUUID)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := Options{BufferSize: 1 << 20, Progress: func(p Progress) {
		if p.Phase == Verifying {
			cancel()
		}
	}}
	_, err := Write(ctx, open(t, img), Target{Path: dev, Identity: identity(t, dev)}, opts)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "fully written") || !strings.Contains(err.Error(), "not verified") {
		t.Fatalf("error %v, want a cancelled verify saying the image is fully written", err)
	}
	if s := probe(t, backing, 0); !strings.Contains(s, "PTTYPE=dos") {
		t.Errorf("a cancelled verify left no table: %q", s)
	}
}

// TestEmptyImageRefused checks that an image that expands to nothing is
// called empty before the target is touched.
func TestEmptyImageRefused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "empty.img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, "", "xz", "-k", p)
	out := filepath.Join(dir, "out.img")
	_, err := Write(context.Background(), open(t, p+".xz"), Target{Path: out}, Options{})
	if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("error %v, want ErrEmpty", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was created", out)
	}
}
