//go:build linux

package flash

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

// assertNoTemp fails if a temporary file of a write is left in dir.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".pistudio-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestDeviceTargetRefusesOthers: a target that must be a device (an
// identity or RequireDevice) is never created, followed or written when
// the path is a file, a symlink or nothing.
func TestDeviceTargetRefusesOthers(t *testing.T) {
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 2<<20)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(victim, link)
	missing := filepath.Join(dir, "missing")
	for _, tgt := range []Target{
		{Path: victim, RequireDevice: true},
		{Path: link, RequireDevice: true},
		{Path: missing, RequireDevice: true},
		{Path: victim, Identity: disk.Identity{Major: 7, Minor: 0, SizeBytes: 2 << 20}},
		{Path: link, Identity: disk.Identity{Major: 7, Minor: 0, SizeBytes: 2 << 20}},
		{Path: missing, Identity: disk.Identity{Major: 7, Minor: 0, SizeBytes: 2 << 20}},
	} {
		if _, err := Write(context.Background(), open(t, img), tgt, Options{}); err == nil {
			t.Errorf("Write to %+v succeeded", tgt)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the file behind the target was changed (%d bytes now)", len(b))
	}
	if _, err := os.Lstat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a device target created %s", missing)
	}
	assertNoTemp(t, dir)
}

// TestFileTargetSymlinkRefused: a file target that is a symlink is not
// followed.
func TestFileTargetSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 2<<20)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o600)
	link := filepath.Join(dir, "out.img")
	os.Symlink(victim, link)
	if _, err := Write(context.Background(), open(t, img), Target{Path: link}, Options{}); err == nil {
		t.Fatal("writing through a symlink succeeded")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the symlink was followed (%d bytes now)", len(b))
	}
	assertNoTemp(t, dir)
}

// failSource yields half its data and then fails.
type failSource struct{ memSource }

func (f *failSource) Next() (source.Extent, io.Reader, error) {
	if f.done {
		return source.Extent{}, nil, io.EOF
	}
	f.done = true
	r := io.MultiReader(bytes.NewReader(f.data[:len(f.data)/2]), errReader{})
	return source.Extent{Length: int64(len(f.data))}, r, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk read error") }

// TestFileTargetAtomic: an existing file survives a failed write intact;
// a successful write replaces it (keeping its mode); while writing, a new
// target does not exist yet.
func TestFileTargetAtomic(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.img")
	old := bytes.Repeat([]byte("old "), 1000)
	os.WriteFile(out, old, 0o600)
	data := bytes.Repeat([]byte{0xAB}, 3<<20)
	_, err := Write(context.Background(), &failSource{memSource{data: data}}, Target{Path: out}, Options{BufferSize: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "disk read error") {
		t.Fatalf("error %v, want the source's error", err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, old) {
		t.Fatalf("a failed write changed the existing file (%d bytes now)", len(b))
	}
	assertNoTemp(t, dir)

	res, err := Write(context.Background(), &memSource{data: data}, Target{Path: out}, Options{
		beforeVerify: func(written string) error {
			if written == out {
				t.Error("the target itself is being written")
			}
			if b, _ := os.ReadFile(out); !bytes.Equal(b, old) {
				t.Error("the target changed before the write was verified")
			}
			return nil
		}})
	if err != nil || !res.Verified {
		t.Fatalf("Write: %v", err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
		t.Fatal("the target was not replaced")
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want the old file's 0600", st.Mode().Perm())
	}
	assertNoTemp(t, dir)

	// A new file does not exist until the write is done.
	fresh := filepath.Join(dir, "new.img")
	_, err = Write(context.Background(), &memSource{data: data}, Target{Path: fresh}, Options{
		beforeVerify: func(string) error {
			if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
				t.Error("the new target exists before the write is complete")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fresh); !bytes.Equal(b, data) {
		t.Fatal("new file differs")
	}
}

// TestBmapOntoItsImage: an image opened through its .bmap is not written
// onto itself nor onto its map.
func TestBmapOntoItsImage(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir, 4<<20)
	sourcetest.Run(t, "", "bmaptool", "create", "-o", img+".bmap", img)
	bm, _ := os.ReadFile(img + ".bmap")
	for _, tgt := range []string{img, img + ".bmap"} {
		if _, err := Write(context.Background(), open(t, img+".bmap"), Target{Path: tgt}, Options{}); err == nil || !strings.Contains(err.Error(), "onto itself") {
			t.Errorf("writing %s.bmap onto %s: %v", img, tgt, err)
		}
	}
	if got, _ := os.ReadFile(img); !bytes.Equal(got, data) {
		t.Fatal("the image was changed")
	}
	if got, _ := os.ReadFile(img + ".bmap"); !bytes.Equal(got, bm) {
		t.Fatal("the block map was changed")
	}
}

// TestReadErrorNamesImage: a broken image's read error names the file.
func TestReadErrorNamesImage(t *testing.T) {
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 2<<20)
	sourcetest.Run(t, "", "xz", "-k", img)
	xzf := img + ".xz"
	b, _ := os.ReadFile(xzf)
	for i := len(b) / 3; i < len(b)/2; i++ {
		b[i] ^= 0x55 // the compressed data, not the index
	}
	os.WriteFile(xzf, b, 0o644)
	src, err := source.Open(xzf)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = Write(context.Background(), src, Target{Path: filepath.Join(dir, "out.img")}, Options{})
	if err == nil || !strings.Contains(err.Error(), "reading image "+xzf) {
		t.Fatalf("error %v does not name %s", err, xzf)
	}
}

// TestRootIgnoredForDevices: a fake Root in which the disk looks
// eligible does not get a real, protected device written.
func TestRootIgnoredForDevices(t *testing.T) {
	needRoot(t)
	backing := filepath.Join(t.TempDir(), "ro.img")
	os.WriteFile(backing, make([]byte, 8<<20), 0o644)
	dev := disktest.Attach(t, backing, "-r").Dev
	d, err := disk.CheckPath(dev)
	if !errors.Is(err, disk.ErrProtected) {
		t.Fatalf("read-only loop device: %v", err)
	}
	id := d.Identity()
	tr := disktest.New(t)
	tr.AddDisk(disktest.Disk{Name: d.Name, Major: d.Major, Minor: d.Minor, Sectors: d.SizeBytes / 512,
		Files: map[string]string{"loop/backing_file": d.Serial}})
	img, _ := makeImage(t, t.TempDir(), 2<<20)
	_, err = Write(context.Background(), open(t, img), Target{Path: dev, Identity: id}, Options{Root: tr.Root})
	if !errors.Is(err, disk.ErrProtected) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("error %v, want the real guard's read-only refusal", err)
	}
}

// TestGuardAgainAfterOpen: the disk is guarded once more after it is held
// exclusively (here it turns read-only in between).
func TestGuardAgainAfterOpen(t *testing.T) {
	dev, backing := newLoop(t, 8<<20, 0x11, false)
	if _, err := exec.LookPath("blockdev"); err != nil {
		t.Skip("blockdev not installed")
	}
	t.Cleanup(func() { exec.Command("blockdev", "--setrw", dev).Run() })
	img, _ := makeImage(t, t.TempDir(), 2<<20)
	opts := Options{afterOpen: func(string) error {
		sourcetest.Run(t, "", "blockdev", "--setro", dev)
		return nil
	}}
	_, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, opts)
	if !errors.Is(err, disk.ErrProtected) {
		t.Fatalf("error %v, want ErrProtected from the second guard", err)
	}
	if got, _ := os.ReadFile(backing); !bytes.Equal(got, bytes.Repeat([]byte{0x11}, 8<<20)) {
		t.Fatal("the device was written")
	}
}

// TestCheckOpenedDiskSeq: the opened node's media sequence number must
// be the chosen disk's.
func TestCheckOpenedDiskSeq(t *testing.T) {
	dev, _ := newLoop(t, 4<<20, 0, false)
	id := identity(t, dev)
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	seq, ok, err := diskSeq(fd)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Skip("no BLKGETDISKSEQ on this kernel")
	}
	if id.DiskSeq != 0 && id.DiskSeq != seq {
		t.Fatalf("sysfs diskseq %d, ioctl %d", id.DiskSeq, seq)
	}
	id.DiskSeq = seq
	if err := checkOpened(fd, dev, id); err != nil {
		t.Fatalf("checkOpened: %v", err)
	}
	id.DiskSeq = seq + 1
	if err := checkOpened(fd, dev, id); !errors.Is(err, disk.ErrChanged) {
		t.Fatalf("checkOpened with another diskseq: %v, want ErrChanged", err)
	}
	id.DiskSeq = 0 // unknown: not compared
	if err := checkOpened(fd, dev, id); err != nil {
		t.Fatalf("checkOpened without diskseq: %v", err)
	}
}

// TestUnmountBusyNamesMountPoint: a busy filesystem is not lazily
// detached: the write fails naming the mount point, which stays mounted.
func TestUnmountBusyNamesMountPoint(t *testing.T) {
	dev, _ := newLoop(t, 16<<20, 0, false)
	sourcetest.Run(t, "", "mke2fs", "-q", "-F", "-t", "ext4", dev)
	mp := t.TempDir()
	sourcetest.Run(t, "", "mount", dev, mp)
	t.Cleanup(func() { exec.Command("umount", mp).Run() })
	f, err := os.Create(filepath.Join(mp, "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _ := makeImage(t, t.TempDir(), 4<<20)
	_, err = Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, Options{AllowUnmount: true})
	if !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), mp) {
		t.Fatalf("error %v, want EBUSY naming %s", err, mp)
	}
	if !isMounted(t, mp) {
		t.Fatal("the busy filesystem was detached")
	}
}
