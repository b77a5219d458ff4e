package disk

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
)

func TestScanClassification(t *testing.T) {
	tr := disktest.Sample(t)
	disks, err := Scan(ScanOptions{Root: tr.Root})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Disk{}
	for _, d := range disks {
		byName[d.Name] = d
	}
	tests := []struct {
		name     string
		eligible bool
		reason   string
		bus      string
		model    string
		typed    bool
	}{
		{"sdb", true, "", "usb", "Ultra Fit", false},
		{"sdc", true, "", "usb", "STORAGE DEVICE", false},
		{"mmcblk0", true, "", "mmc", "SN32G", false},
		{"mmcblk0boot0", false, "eMMC boot", "mmc", "SN32G", false},
		{"nvme0n1", false, "holds / (the running system)", "nvme", "Samsung SSD 980 1TB", false},
		{"sda", false, "holds /home (user data)", "sata", "WDC WD20EZAZ", false},
		{"sdd", false, "holds / (the running system) through dm-0 (vg-root)", "sata", "Crucial MX500", false},
		{"dm-0", false, "device-mapper volume", "virtual", "", false},
		{"dm-1", false, "used as swap (dm-1)", "virtual", "", false},
		{"loop0", true, "", "loop", "", false},
		{"zram0", false, "zram", "virtual", "", false},
		{"md0", false, "software RAID", "virtual", "", false},
		{"sr0", false, "optical drive", "sata", "DVD RW", false},
		{"sde", false, "read-only (write-protect switch?)", "usb", "SD Reader", false},
		{"sdf", true, "", "usb", "Expansion HDD", true},
		{"sdg", false, "empty (no medium)", "usb", "", false},
		{"sdh", false, "used as swap (sdh1)", "usb", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := byName[tc.name]
			if !ok {
				t.Fatalf("%s not found", tc.name)
			}
			if d.Eligible != tc.eligible || !strings.Contains(d.Reason, tc.reason) || (tc.eligible && d.Reason != "") {
				t.Errorf("eligible=%v reason=%q, want %v %q", d.Eligible, d.Reason, tc.eligible, tc.reason)
			}
			if d.Bus != tc.bus {
				t.Errorf("bus=%q, want %q", d.Bus, tc.bus)
			}
			if d.Model != tc.model {
				t.Errorf("model=%q, want %q", d.Model, tc.model)
			}
			if d.NeedsTypedConfirm != tc.typed {
				t.Errorf("needs typed confirm=%v, want %v", d.NeedsTypedConfirm, tc.typed)
			}
		})
	}
	if _, ok := byName["loop1"]; ok {
		t.Error("unused loop1 listed")
	}
	if len(disks) != len(tests) {
		t.Errorf("got %d disks, want %d", len(disks), len(tests))
	}
	sdb := byName["sdb"]
	if sdb.Path != "/dev/sdb" || sdb.Major != 8 || sdb.Minor != 16 || sdb.SizeBytes != 32e9 || sdb.Serial != "4C530001230" || sdb.Vendor != "SanDisk" || !sdb.Removable {
		t.Errorf("sdb = %+v", sdb)
	}
	if len(sdb.Partitions) != 2 || sdb.Partitions[0].FSType != "vfat" || sdb.Partitions[0].Label != "bootfs" ||
		sdb.Partitions[0].UUID != "1234-ABCD" || len(sdb.Partitions[0].MountPoints) != 1 || sdb.Partitions[0].MountPoints[0] != "/media/pi/bootfs" {
		t.Errorf("sdb partitions = %+v", sdb.Partitions)
	}
	if got := byName["sdd"].Holders; len(got) != 2 || got[0] != "dm-0" || got[1] != "dm-1" {
		t.Errorf("sdd holders = %v", got)
	}
	if r := byName["sdd"].Reason; !strings.Contains(r, "used as swap (dm-1) through dm-1 (vg-swap)") {
		t.Errorf("sdd reason %q lacks the swap volume", r)
	}
	if r := byName["nvme0n1"].Reason; !strings.HasPrefix(r, "holds / ") || !strings.Contains(r, "/boot/efi") || !strings.Contains(r, "internal NVMe disk") {
		t.Errorf("nvme reason %q", r)
	}
	if m := byName["mmcblk0"]; len(m.Partitions) != 2 || m.Partitions[1].Name != "mmcblk0p2" || m.Serial != "0x1a2b3c4d" {
		t.Errorf("mmcblk0 = %+v", m)
	}
	if l := byName["loop0"]; l.Serial != "/home/pi/test.img" {
		t.Errorf("loop0 serial %q", l.Serial)
	}
}

// TestImageHolder protects the disk whose filesystem holds the image file,
// found by the image's st_dev (a fake disk gets the real numbers) or, for
// numbers no disk has, through the mount table.
func TestImageHolder(t *testing.T) {
	img := filepath.Join(t.TempDir(), "os.img")
	if err := os.WriteFile(img, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	maj, min, ok := statDev(img)
	if !ok {
		t.Skip("no device numbers on this OS")
	}
	for _, viaMount := range []bool{false, true} {
		t.Run(map[bool]string{false: "st_dev", true: "mount"}[viaMount], func(t *testing.T) {
			tr := disktest.New(t)
			if !viaMount {
				if maj == 0 {
					t.Skip("image is on an anonymous device")
				}
				tr.AddDisk(disktest.Disk{Name: "sdx", Major: maj, Minor: min, Sectors: 8e9 / 512, Parent: disktest.USBParent})
			} else {
				tr.AddDisk(disktest.Disk{Name: "sdx", Major: 8, Minor: 240, Sectors: 8e9 / 512, Parent: disktest.USBParent,
					Parts: []disktest.Part{{Sectors: 8e9/512 - 2048}}})
				tr.Mount("/dev/sdx1", filepath.Dir(img), "ext4")
			}
			tr.AddDisk(disktest.USBStick("sdy", 200, disktest.USBParent2))
			disks, err := Scan(ScanOptions{Root: tr.Root, ImagePaths: []string{img}})
			if err != nil {
				t.Fatal(err)
			}
			if len(disks) != 2 {
				t.Fatalf("got %d disks", len(disks))
			}
			if d := disks[0]; d.Name != "sdx" || d.Eligible || !strings.Contains(d.Reason, "holds the image being written ("+img+")") {
				t.Errorf("sdx: eligible=%v reason=%q", d.Eligible, d.Reason)
			}
			if d := disks[1]; !d.Eligible {
				t.Errorf("sdy: %q", d.Reason)
			}
			// Without the image the same disk is eligible.
			disks, err = Scan(ScanOptions{Root: tr.Root})
			if err != nil {
				t.Fatal(err)
			}
			if !disks[0].Eligible {
				t.Errorf("sdx without image: %q", disks[0].Reason)
			}
		})
	}
}

func TestLoopBackedByImage(t *testing.T) {
	img := filepath.Join(t.TempDir(), "os.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tr := disktest.New(t)
	tr.AddDisk(disktest.Disk{Name: "loop3", Major: 7, Minor: 3, Sectors: 2048, Files: map[string]string{"loop/backing_file": img}})
	disks, err := Scan(ScanOptions{Root: tr.Root, ImagePaths: []string{img}})
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 1 || disks[0].Eligible || !strings.Contains(disks[0].Reason, "backed by the image") {
		t.Fatalf("%+v", disks)
	}
}

func TestScanErrors(t *testing.T) {
	if _, err := Scan(ScanOptions{Root: t.TempDir()}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scan of empty root: %v, want not-exist error", err)
	}
}

// TestStackedHolders follows holders recursively: LUKS on LVM on a USB
// disk's partition, and an md RAID over two USB disks.
func TestStackedHolders(t *testing.T) {
	tr := disktest.New(t)
	tr.AddDisk(disktest.Disk{Name: "sdb", Major: 8, Minor: 16, Sectors: 1 << 24, Parent: disktest.USBParent,
		Parts: []disktest.Part{{Sectors: 1 << 23, Holders: []string{"dm-0"}}}})
	tr.AddDisk(disktest.Disk{Name: "dm-0", Major: 254, Minor: 0, Sectors: 1 << 23, Holders: []string{"dm-1"}, Files: map[string]string{"dm/name": "vg-crypt"}})
	tr.AddDisk(disktest.Disk{Name: "dm-1", Major: 254, Minor: 1, Sectors: 1 << 23, Files: map[string]string{"dm/name": "luks-root"}})
	tr.Mount("/dev/mapper/luks-root", "/", "ext4")
	for i, name := range []string{"sdc", "sdd"} {
		tr.AddDisk(disktest.Disk{Name: name, Major: 8, Minor: uint32(32 + 16*i), Sectors: 1 << 24, Parent: disktest.USBParent2 + name, Holders: []string{"md0"}})
	}
	tr.AddDisk(disktest.Disk{Name: "md0", Major: 9, Minor: 0, Sectors: 1 << 24, Parts: []disktest.Part{{Sectors: 1 << 23}}})
	tr.Mount("/dev/md0p1", "/srv", "ext4")
	// An md member whose array is not mounted anywhere is still in use.
	tr.AddDisk(disktest.Disk{Name: "sde", Major: 8, Minor: 64, Sectors: 1 << 24, Parent: disktest.USBParent + "e", Holders: []string{"md1"}})
	tr.AddDisk(disktest.Disk{Name: "md1", Major: 9, Minor: 1, Sectors: 1 << 24})
	disks, err := Scan(ScanOptions{Root: tr.Root})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"sdb": "holds / (the running system) through dm-1 (luks-root)",
		"sdc": "holds /srv (served data) through md0p1",
		"sdd": "holds /srv (served data) through md0p1",
		"sde": "in use by md1",
	}
	for _, d := range disks {
		if d.Name == "sdb" && strings.Join(d.Holders, ",") != "dm-0,dm-1" {
			t.Errorf("sdb holders %v", d.Holders)
		}
		w, ok := want[d.Name]
		if !ok {
			continue
		}
		if d.Eligible || d.Reason != w {
			t.Errorf("%s: eligible=%v reason=%q, want %q", d.Name, d.Eligible, d.Reason, w)
		}
		delete(want, d.Name)
	}
	if len(want) != 0 {
		t.Errorf("not listed: %v", want)
	}
}

// TestMountInfoDevRoot reads a Raspberry Pi's own mount table, where the
// root filesystem's source is /dev/root and only mountinfo's device
// numbers tell which card it is.
func TestMountInfoDevRoot(t *testing.T) {
	tr := disktest.New(t)
	tr.AddDisk(disktest.Disk{Name: "mmcblk0", Major: 179, Minor: 0, Sectors: 1 << 26, Parent: disktest.MMCParent,
		DeviceFiles: map[string]string{"name": "SR64G"}, Parts: []disktest.Part{{Sectors: 1 << 20}, {Sectors: 1 << 25}}})
	tr.AddDisk(disktest.USBStick("sda", 0, disktest.USBParent))
	tr.Mount("/dev/root", "/", "ext4") // what proc/self/mounts says
	mi := "21 1 179:2 / / rw,noatime shared:1 - ext4 /dev/root rw\n" +
		"29 21 179:1 / /boot/firmware rw,relatime shared:2 - vfat /dev/mmcblk0p1 rw\n" +
		"30 21 8:2 / /media/pi/rootfs rw,relatime shared:3 - ext4 /dev/sda2 rw\n"
	if err := os.WriteFile(filepath.Join(tr.Root, "proc/self/mountinfo"), []byte(mi), 0o644); err != nil {
		t.Fatal(err)
	}
	disks, err := Scan(ScanOptions{Root: tr.Root})
	if err != nil {
		t.Fatal(err)
	}
	if d := disks[0]; d.Name != "mmcblk0" || d.Eligible || d.Reason != "holds / (the running system); holds /boot/firmware (boot files)" {
		t.Errorf("%s: %v %q", d.Name, d.Eligible, d.Reason)
	}
	if p := disks[0].Partitions[1]; strings.Join(p.MountPoints, ",") != "/" || p.FSType != "ext4" {
		t.Errorf("mmcblk0p2 = %+v", p)
	}
	if d := disks[1]; d.Name != "sda" || !d.Eligible || strings.Join(d.Partitions[1].MountPoints, ",") != "/media/pi/rootfs" {
		t.Errorf("sda = %+v", d)
	}
}
