package disk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
)

func TestSameMedium(t *testing.T) {
	file := &LoopBacking{DevMajor: 8, DevMinor: 1, Inode: 42}
	other := &LoopBacking{DevMajor: 8, DevMinor: 1, Inode: 43}
	onSdb := &LoopBacking{DevMajor: 0, DevMinor: 5, Inode: 9, RdevMajor: 8, RdevMinor: 16}
	onSdb2 := &LoopBacking{DevMajor: 0, DevMinor: 5, Inode: 10, RdevMajor: 8, RdevMinor: 16}
	sdb := Disk{Path: "/dev/sdb", Major: 8, Minor: 16, Serial: "S1", SizeBytes: 16e9, Bus: "usb"}
	for _, tc := range []struct {
		name string
		a, b Disk
		same bool
		why  string
	}{
		{"same file, other paths", Disk{Path: "/dev/loop1", Major: 7, Minor: 1, Bus: "loop", Serial: "/a/x.img", Loop: file},
			Disk{Path: "/dev/loop5", Major: 7, Minor: 5, Bus: "loop", Serial: "/b/link.img", Loop: file}, true, "same file"},
		{"other files", Disk{Path: "/dev/loop1", Major: 7, Minor: 1, Bus: "loop", Serial: "/a/x.img", Loop: file},
			Disk{Path: "/dev/loop5", Major: 7, Minor: 5, Bus: "loop", Serial: "/a/y.img", Loop: other}, false, ""},
		{"same block device", Disk{Path: "/dev/loop1", Major: 7, Minor: 1, Bus: "loop", Loop: onSdb},
			Disk{Path: "/dev/loop2", Major: 7, Minor: 2, Bus: "loop", Loop: onSdb2}, true, "block device 8:16"},
		{"loop on the disk", Disk{Path: "/dev/loop1", Major: 7, Minor: 1, Bus: "loop", Loop: onSdb}, sdb, true, "backed by the other"},
		{"same device", sdb, sdb, true, "same device"},
		{"same WWN", Disk{Path: "/dev/sdc", Major: 8, Minor: 32, WWN: "0x5000"}, Disk{Path: "/dev/sdd", Major: 8, Minor: 48, WWN: "0x5000"}, true, "World Wide Name"},
		{"same serial and size", sdb, Disk{Path: "/dev/sdc", Major: 8, Minor: 32, Serial: "S1", SizeBytes: 16e9}, true, "serial"},
		{"same serial, other size", sdb, Disk{Path: "/dev/sdc", Major: 8, Minor: 32, Serial: "S1", SizeBytes: 32e9}, false, ""},
		{"no serials", Disk{Path: "/dev/sdc", Major: 8, Minor: 32}, Disk{Path: "/dev/sdd", Major: 8, Minor: 48}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			same, why := SameMedium(tc.a, tc.b)
			if same != tc.same || !strings.Contains(why, tc.why) {
				t.Errorf("SameMedium = %v %q, want %v %q", same, why, tc.same, tc.why)
			}
			err := CheckDistinct([]Disk{tc.a, tc.b})
			var sm *SameMediumError
			if tc.same != errors.As(err, &sm) || tc.same != errors.Is(err, ErrSameMedium) {
				t.Fatalf("CheckDistinct = %v, want same medium %v", err, tc.same)
			}
			if tc.same && (sm.A != tc.a.Path || sm.B != tc.b.Path || !strings.Contains(err.Error(), tc.a.Path) || !strings.Contains(err.Error(), tc.b.Path)) {
				t.Errorf("error %q does not name %s and %s", err, tc.a.Path, tc.b.Path)
			}
		})
	}
}

// TestTwoLoopsOneFile: two loop devices attached to one file through
// different paths (hard links) are one medium, from the kernel's numbers.
func TestTwoLoopsOneFile(t *testing.T) {
	disktest.NeedRoot(t)
	img := sparseFile(t, 8<<20)
	link := filepath.Join(t.TempDir(), "link.img")
	if err := os.Link(img, link); err != nil {
		t.Fatal(err)
	}
	a := disktest.Attach(t, img)
	b := disktest.Attach(t, link)
	c := disktest.Attach(t, sparseFile(t, 8<<20))
	da, db, dc := scanFor(t, a.Dev), scanFor(t, b.Dev), scanFor(t, c.Dev)
	if err := CheckDistinct([]Disk{dc, da, db}); !errors.Is(err, ErrSameMedium) || !strings.Contains(err.Error(), a.Dev) || !strings.Contains(err.Error(), b.Dev) {
		t.Errorf("CheckDistinct(%s, %s, %s) = %v, want ErrSameMedium naming %s and %s", c.Dev, a.Dev, b.Dev, err, a.Dev, b.Dev)
	}
	if err := CheckDistinct([]Disk{da, dc}); err != nil {
		t.Errorf("CheckDistinct(%s, %s) = %v, want nil", a.Dev, c.Dev, err)
	}
}

// TestTargetOutsideDev: a disk named by a path outside /dev is refused
// with what it is, not "disk not found".
func TestTargetOutsideDev(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "stick")
	if err := os.Symlink("/dev/null", link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
		msg  string
	}{
		{link, ErrNotDevPath, "is a symlink outside /dev (to /dev/null)"},
		{file, ErrNotDevPath, "is not in /dev"},
		{filepath.Join(dir, "missing"), ErrNotFound, "disk not found"},
	} {
		_, err := CheckPath(tc.path)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("CheckPath(%s) = %v, want %v saying %q", tc.path, err, tc.want, tc.msg)
		}
		if _, err := Guard("/", tc.path, Identity{}, nil); !errors.Is(err, tc.want) {
			t.Errorf("Guard(%s) = %v, want %v", tc.path, err, tc.want)
		}
	}
}
