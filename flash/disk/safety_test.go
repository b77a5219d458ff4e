package disk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
)

// TestLoopProtection: a loop device backed by a block device (or one of
// its partitions) is protected; a loop device counts as a holder of the
// disk that holds its backing file, so the stick under a live system's
// squashfs loop mounted at / holds the running system.
func TestLoopProtection(t *testing.T) {
	tr := disktest.New(t)
	tr.AddDisk(disktest.Disk{Name: "vda", Major: 252, Minor: 0, Sectors: 20e9 / 512, Parent: "pci0000:00/0000:00:04.0/virtio2",
		Parts: []disktest.Part{{Sectors: 19e9 / 512}}})
	tr.Mount("/dev/vda1", "/", "ext4")
	// losetup -f /dev/vda, losetup -f /dev/vda1
	tr.AddDisk(disktest.Disk{Name: "loop0", Major: 7, Minor: 0, Sectors: 20e9 / 512, Files: map[string]string{"loop/backing_file": "/dev/vda"}})
	tr.AddDisk(disktest.Disk{Name: "loop1", Major: 7, Minor: 1, Sectors: 19e9 / 512, Files: map[string]string{"loop/backing_file": "/dev/vda1"}})
	// A live system: the stick's partition holds the squashfs, whose loop
	// device is the root filesystem.
	tr.AddDisk(disktest.USBStick("sdb", 16, disktest.USBParent))
	tr.Mount("/dev/sdb1", "/run/live/medium", "vfat")
	tr.AddDisk(disktest.Disk{Name: "loop2", Major: 7, Minor: 2, Sectors: 2e9 / 512,
		Files: map[string]string{"loop/backing_file": "/run/live/medium/live/filesystem.squashfs"}})
	tr.Mount("/dev/loop2", "/", "squashfs")
	// A plain loop device on an image in a stick's filesystem: the stick
	// is in use by it, the loop device itself stays eligible.
	tr.AddDisk(disktest.USBStick("sdc", 32, disktest.USBParent2))
	tr.Mount("/dev/sdc2", "/media/pi/rootfs", "ext4")
	tr.AddDisk(disktest.Disk{Name: "loop3", Major: 7, Minor: 3, Sectors: 1e9 / 512,
		Files: map[string]string{"loop/backing_file": "/media/pi/rootfs/pi.img"}})

	disks, err := Scan(ScanOptions{Root: tr.Root})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Disk{}
	for _, d := range disks {
		byName[d.Name] = d
	}
	for _, tc := range []struct {
		name     string
		eligible bool
		reason   string
	}{
		{"loop0", false, "backed by block device /dev/vda"},
		{"loop1", false, "backed by block device /dev/vda1"},
		{"sdb", false, "holds / (the running system) through loop2"},
		{"sdc", false, "in use by loop3"},
		{"loop3", true, ""},
	} {
		d, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s not found", tc.name)
			continue
		}
		if d.Eligible != tc.eligible || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s: eligible=%v reason=%q, want %v %q", tc.name, d.Eligible, d.Reason, tc.eligible, tc.reason)
		}
	}
	if _, err := Guard(tr.Root, "/dev/loop0", byName["loop0"].Identity(), nil); !errors.Is(err, ErrProtected) {
		t.Errorf("Guard(loop0 on /dev/vda) = %v, want ErrProtected", err)
	}
}

// TestNestedSystemMounts: a filesystem mounted below a system path
// (/home/alice, /var/lib, /srv/x, /boot/firmware/overlays) makes its disk
// protected; other mount points do not.
func TestNestedSystemMounts(t *testing.T) {
	for _, tc := range []struct {
		mp       string
		eligible bool
		reason   string
	}{
		{"/home/alice", false, "holds /home/alice (user data)"},
		{"/var/lib", false, "holds /var/lib (system data)"},
		{"/usr/local", false, "holds /usr/local (system files)"},
		{"/srv/x", false, "holds /srv/x (served data)"},
		{"/boot/firmware/overlays", false, "holds /boot/firmware/overlays (boot files)"},
		{"/home", false, "holds /home (user data)"},
		{"/media/pi/rootfs", true, ""},
		{"/homework", true, ""},
		{"/mnt/usb", true, ""},
	} {
		t.Run(tc.mp, func(t *testing.T) {
			tr := disktest.New(t)
			tr.AddDisk(disktest.USBStick("sdb", 16, disktest.USBParent))
			tr.Mount("/dev/sdb2", tc.mp, "ext4")
			disks, err := Scan(ScanOptions{Root: tr.Root, NoProbe: true})
			if err != nil || len(disks) != 1 {
				t.Fatalf("Scan: %v, %d disks", err, len(disks))
			}
			d := disks[0]
			if d.Eligible != tc.eligible || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("eligible=%v reason=%q, want %v %q", d.Eligible, d.Reason, tc.eligible, tc.reason)
			}
		})
	}
}

// TestRealLoopOnLoop attaches a loop device to a file and a second loop
// device to the first one: the second is protected as backed by a block
// device. Only sysfs is read and the nodes are stat'ed.
func TestRealLoopOnLoop(t *testing.T) {
	disktest.NeedRoot(t)
	img := filepath.Join(t.TempDir(), "loop.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	lower := disktest.Attach(t, img).Dev
	upper := disktest.Attach(t, lower).Dev
	d, err := CheckPath(upper)
	if !errors.Is(err, ErrProtected) || !strings.Contains(d.Reason, "backed by block device "+lower) {
		t.Errorf("CheckPath(%s on %s) = %q, %v", upper, lower, d.Reason, err)
	}
	d, err = CheckPath(lower)
	if !errors.Is(err, ErrProtected) || !strings.Contains(d.Reason, "in use by "+filepath.Base(upper)) {
		t.Errorf("CheckPath(%s under %s) = %q, %v", lower, upper, d.Reason, err)
	}
}
