package disk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
)

func TestGuard(t *testing.T) {
	tr := disktest.Sample(t)
	disks, err := Scan(ScanOptions{Root: tr.Root})
	if err != nil {
		t.Fatal(err)
	}
	var sdb, nvme Disk
	for _, d := range disks {
		switch d.Name {
		case "sdb":
			sdb = d
		case "nvme0n1":
			nvme = d
		}
	}
	d, err := Guard(tr.Root, "/dev/sdb", sdb.Identity(), nil)
	if err != nil || d.Name != "sdb" || !d.Eligible {
		t.Fatalf("Guard(sdb) = %+v, %v", d, err)
	}
	tests := []struct {
		name   string
		path   string
		id     Identity
		want   error
		reason string
	}{
		{"protected", "/dev/nvme0n1", nvme.Identity(), ErrProtected, "holds / (the running system)"},
		{"gone", "/dev/sdz", sdb.Identity(), ErrNotFound, ""},
		{"partition", "/dev/sdb1", sdb.Identity(), ErrNotFound, ""},
		{"other size", "/dev/sdb", Identity{Major: 8, Minor: 16, SizeBytes: 16e9, Serial: sdb.Serial}, ErrChanged, ""},
		{"other serial", "/dev/sdb", Identity{Major: 8, Minor: 16, SizeBytes: sdb.SizeBytes, Serial: "X"}, ErrChanged, ""},
		{"other numbers", "/dev/sdb", Identity{Major: 8, Minor: 32, SizeBytes: sdb.SizeBytes, Serial: sdb.Serial}, ErrChanged, ""},
		{"bad path", "/dev/../etc/passwd", sdb.Identity(), ErrNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Guard(tr.Root, tc.path, tc.id, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var pe *ProtectedError
			if tc.reason != "" && (!errors.As(err, &pe) || !strings.Contains(pe.Reason, tc.reason) || pe.Path != tc.path) {
				t.Errorf("err = %#v, want reason %q", err, tc.reason)
			}
		})
	}

	// The card was mounted at /home since the user chose it.
	tr.Mount("/dev/sdb2", "/home", "ext4")
	_, err = Guard(tr.Root, "/dev/sdb", sdb.Identity(), nil)
	var pe *ProtectedError
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "/home") {
		t.Errorf("after mounting /home: %v", err)
	}
}

func TestDiskSeqChange(t *testing.T) {
	tr := disktest.New(t)
	tr.AddDisk(disktest.Disk{Name: "sdb", Major: 8, Minor: 16, Sectors: 1 << 20, Parent: disktest.USBParent, Files: map[string]string{"diskseq": "41"}})
	disks, err := Scan(ScanOptions{Root: tr.Root})
	if err != nil {
		t.Fatal(err)
	}
	id := disks[0].Identity()
	if id.DiskSeq != 41 {
		t.Fatalf("diskseq %d", id.DiskSeq)
	}
	// Another card of the same size and no serial in the same reader.
	tr.AddDisk(disktest.Disk{Name: "sdb", Major: 8, Minor: 16, Sectors: 1 << 20, Parent: disktest.USBParent, Files: map[string]string{"diskseq": "42"}})
	if _, err := Guard(tr.Root, "/dev/sdb", id, nil); !errors.Is(err, ErrChanged) {
		t.Errorf("err = %v, want ErrChanged", err)
	}
	id.DiskSeq = 0 // unknown on one side: not compared
	if _, err := Guard(tr.Root, "/dev/sdb", id, nil); err != nil {
		t.Errorf("err = %v", err)
	}
}

// TestRealSystem attaches a loop device to a temporary file and scans the
// running system: the loop device is eligible, the disk holding / is not.
// It reads only sysfs and procfs; no device is opened.
func TestRealSystem(t *testing.T) {
	disktest.NeedRoot(t)
	img := filepath.Join(t.TempDir(), "loop.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	lp := disktest.Attach(t, img)
	loop := lp.Dev
	// Never open a device here: other loop devices (with partitions) may
	// exist on this machine; anything else being asked for is a bug.
	noOpen := func(p string) (*os.File, error) {
		if !strings.HasPrefix(p, "/dev/loop") {
			t.Errorf("scan tried to open %s", p)
		}
		return nil, os.ErrPermission
	}
	disks, err := Scan(ScanOptions{Open: noOpen})
	if err != nil {
		t.Fatal(err)
	}
	var found, rootFound bool
	var rootMaj, rootMin uint32
	if maj, min, ok := statDev("/"); ok {
		rootMaj, rootMin = maj, min
	}
	for _, d := range disks {
		t.Logf("%s bus=%s size=%d eligible=%v reason=%q", d.Path, d.Bus, d.SizeBytes, d.Eligible, d.Reason)
		if d.Path == loop {
			found = true
			if !d.Eligible || d.Bus != "loop" || d.SizeBytes != 64<<20 {
				t.Errorf("%s: %+v", loop, d)
			}
		}
		holdsRoot := d.Major == rootMaj && d.Minor == rootMin
		for _, p := range d.Partitions {
			holdsRoot = holdsRoot || contains(p.MountPoints, "/")
		}
		if holdsRoot || strings.Contains(d.Reason, "holds / ") {
			rootFound = true
			if d.Eligible || !strings.Contains(d.Reason, "holds / (the running system)") {
				t.Errorf("root disk %s: eligible=%v reason=%q", d.Path, d.Eligible, d.Reason)
			}
		}
	}
	if !found {
		t.Errorf("%s not found", loop)
	}
	if !rootFound && rootMaj != 0 {
		t.Errorf("no disk holding / (%d:%d) found", rootMaj, rootMin)
	}
	d, err := CheckPath(loop)
	if err != nil || d.Path != loop {
		t.Errorf("CheckPath(%s) = %v, %v", loop, d.Path, err)
	}
	if _, err := Guard("/", loop, d.Identity(), nil); err != nil {
		t.Errorf("Guard(%s): %v", loop, err)
	}
	// Writing the loop device's own backing file onto it is refused.
	if _, err := Guard("/", loop, d.Identity(), []string{img}); !errors.Is(err, ErrProtected) || !strings.Contains(err.Error(), "backed by the image") {
		t.Errorf("Guard(%s, its backing file): %v", loop, err)
	}
	// Detached (an unplug): the guard refuses. (Another process may attach
	// a different file to the same loop device at once: that is ErrChanged.)
	id := d.Identity()
	lp.Detach()
	if _, err := Guard("/", loop, id, nil); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrChanged) {
		t.Errorf("Guard(%s) after detach: %v, want ErrNotFound", loop, err)
	}
}
