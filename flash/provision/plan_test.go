package provision

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
)

var (
	mmcSlot    = disk.Disk{Name: "mmcblk0", Path: "/dev/mmcblk0", SizeBytes: 32 * gb, Model: "SD32G", Bus: "mmc", Serial: "0x1234", Eligible: true, Major: 179}
	cardReader = usbDisk("sdf", 16*gb, "Generic- SD/MMC")
	readerTiny = usbDisk("sdg", 60*mib, "Multi-Card Reader")
	stick8     = disk.Disk{Name: "sdb", Path: "/dev/sdb", SizeBytes: 8 * gb, Model: "Cruzer Blade", Vendor: "SanDisk", Bus: "usb", Removable: true, Serial: "4C53", Eligible: true}
	ssd500     = usbDisk("sdc", 500*gb, "Samsung SSD 870")
	hdd1000    = usbDisk("sdd", 1000*gb, "Elements 25A2")
	hdd1000b   = usbDisk("sde", 1000*gb, "Elements 25A2")
	smallUSB   = usbDisk("sdh", 512*mib, "Tiny Stick")
	loop0      = disk.Disk{Name: "loop0", Path: "/dev/loop0", SizeBytes: 4 * gib, Bus: "loop", Serial: "/tmp/a.img", Eligible: true, Major: 7}
	loop1      = disk.Disk{Name: "loop1", Path: "/dev/loop1", SizeBytes: 8 * gib, Bus: "loop", Serial: "/tmp/b.img", Eligible: true, Major: 7, Minor: 1}
	bigStick   = disk.Disk{Name: "sdi", Path: "/dev/sdi", SizeBytes: 600 * gb, Model: "Flash Drive", Bus: "usb", Removable: true, Eligible: true}
	systemDisk = disk.Disk{Name: "sda", Path: "/dev/sda", SizeBytes: 256 * gb, Model: "INTEL SSD", Bus: "sata", Eligible: false, Reason: "holds the running system (/)"}
	nvmeSys    = disk.Disk{Name: "nvme0n1", Path: "/dev/nvme0n1", SizeBytes: 1000 * gb, Bus: "nvme", Eligible: false, Reason: "internal disk"}
)

func TestPropose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disks   []disk.Disk
		n       int
		extSize int64
		want    map[string]string // role → path, or "!substring" of the problem
		reason  map[string]string // role → substring of the reason
	}{
		{
			name:  "mmc slot and usb disks",
			disks: []disk.Disk{hdd1000, systemDisk, ssd500, mmcSlot, stick8, nvmeSys},
			n:     2, extSize: 4 * gib,
			want:   map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdb", "external2": "/dev/sdc"},
			reason: map[string]string{"sd": "SD card slot", "external1": "smallest free USB disk that fits", "external2": "Samsung SSD 870"},
		},
		{
			name:  "usb card reader, ssd is no card reader",
			disks: []disk.Disk{ssd500, hdd1000, cardReader, hdd1000b},
			n:     3, extSize: 100 * gib,
			want:   map[string]string{"sd": "/dev/sdf", "external1": "/dev/sdc", "external2": "/dev/sdd", "external3": "/dev/sde"},
			reason: map[string]string{"sd": "card reader (Generic- SD/MMC"},
		},
		{
			name:  "reader too small for the card image: smallest removable that fits",
			disks: []disk.Disk{readerTiny, hdd1000, stick8, ssd500},
			n:     2, extSize: 100 * gib,
			want:   map[string]string{"sd": "/dev/sdb", "external1": "/dev/sdc", "external2": "/dev/sdd"},
			reason: map[string]string{"sd": "smallest removable disk that fits"},
		},
		{
			name:  "none big enough names the largest and the need",
			disks: []disk.Disk{mmcSlot, smallUSB, stick8},
			n:     2, extSize: 10 * gib,
			want: map[string]string{"sd": "/dev/mmcblk0",
				"external1": "!no free disk is big enough: external1.img needs 10.0 GiB (10737418240 bytes), the largest free one is /dev/sdb (SanDisk Cruzer Blade, 7.5 GiB)",
				"external2": "!the largest free one is /dev/sdb"},
		},
		{
			name:  "only two disks for three roles",
			disks: []disk.Disk{mmcSlot, hdd1000, systemDisk},
			n:     2, extSize: 4 * gib,
			want: map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdd",
				"external2": "!only 2 eligible disks for 3 roles"},
		},
		{
			name:  "no eligible disk",
			disks: []disk.Disk{systemDisk, nvmeSys},
			n:     2, extSize: 4 * gib,
			want: map[string]string{"sd": "!no eligible disk is connected (2 disks found, all protected)",
				"external1": "!no eligible disk", "external2": "!no eligible disk"},
		},
		{
			name:  "externals never take a card reader",
			disks: []disk.Disk{mmcSlot, cardReader, hdd1000},
			n:     2, extSize: 4 * gib,
			want: map[string]string{"sd": "/dev/sdf", "external1": "/dev/sdd",
				"external2": "!no free disk suits this role (1 free eligible disks, none usable for external2)"},
		},
		{
			name:  "a removable stick before a usb ssd for the card",
			disks: []disk.Disk{bigStick, ssd500, hdd1000},
			n:     1, extSize: 4 * gib,
			want:   map[string]string{"sd": "/dev/sdi", "external1": "/dev/sdc"},
			reason: map[string]string{"sd": "smallest removable disk that fits", "external1": "smallest free USB disk"},
		},
		{
			name:  "equal sizes: stable order by path",
			disks: []disk.Disk{hdd1000b, mmcSlot, hdd1000},
			n:     2, extSize: 4 * gib,
			want: map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdd", "external2": "/dev/sde"},
		},
		{
			name:  "loop devices as a last resort",
			disks: []disk.Disk{loop1, loop0},
			n:     1, extSize: 1 * gib,
			want:   map[string]string{"sd": "/dev/loop0", "external1": "/dev/loop1"},
			reason: map[string]string{"sd": "no SD card reader or removable disk fits; /dev/loop0 (-, bus loop)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, m := sparseSet(t, 64*mib, tc.extSize, tc.n)
			p, err := Propose(m, dir, tc.disks)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Roles) != tc.n+1 || p.Roles[0].Role != "sd" {
				t.Fatalf("roles %+v", p.Roles)
			}
			ready := true
			for _, ra := range p.Roles {
				want := tc.want[ra.Role]
				if strings.HasPrefix(want, "!") {
					ready = false
					if ra.Disk != nil || !strings.Contains(ra.Problem, want[1:]) {
						t.Errorf("%s: disk %v problem %q, want problem %q", ra.Role, ra.Disk, ra.Problem, want[1:])
					}
					continue
				}
				if ra.Disk == nil || ra.Disk.Path != want {
					t.Errorf("%s: got %v (%s), want %s", ra.Role, ra.Disk, ra.Problem, want)
					continue
				}
				if ra.Reason == "" || ra.Problem != "" {
					t.Errorf("%s: reason %q problem %q", ra.Role, ra.Reason, ra.Problem)
				}
				if r := tc.reason[ra.Role]; r != "" && !strings.Contains(ra.Reason, r) {
					t.Errorf("%s: reason %q lacks %q", ra.Role, ra.Reason, r)
				}
			}
			err = p.Ready()
			if ready != (err == nil) {
				t.Errorf("Ready() = %v, want ready %v", err, ready)
			}
			if err != nil && !errors.Is(err, ErrNotReady) {
				t.Errorf("Ready error %v is not ErrNotReady", err)
			}
			if t.Failed() {
				t.Log("\n" + p.String())
			}
		})
	}
}

func TestAssign(t *testing.T) {
	dir, m := sparseSet(t, 64*mib, 4*gib, 2)
	disks := []disk.Disk{mmcSlot, stick8, ssd500, hdd1000, systemDisk, smallUSB}
	p, err := Propose(m, dir, disks)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Role("external1").Disk.Path; got != "/dev/sdb" {
		t.Fatalf("external1 proposed %s", got)
	}
	var pe *disk.ProtectedError
	if err := p.Assign("external1", "/dev/sda"); !errors.As(err, &pe) || !strings.Contains(err.Error(), "running system") {
		t.Errorf("protected disk: %v", err)
	}
	var tse *flash.TooSmallError
	if err := p.Assign("external1", "/dev/sdh"); !errors.As(err, &tse) || tse.ImageSize != 4*gib {
		t.Errorf("too small: %v", err)
	}
	if err := p.Assign("external3", "/dev/sdd"); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("unknown role: %v", err)
	}
	if err := p.Assign("external1", "/dev/sdz"); !errors.Is(err, disk.ErrNotFound) {
		t.Errorf("missing disk: %v", err)
	}
	// Taking a disk another role only had by proposal re-proposes that role.
	if err := p.Assign("external2", "sdb"); err != nil {
		t.Fatal(err)
	}
	e1, e2 := p.Role("external1"), p.Role("external2")
	if e2.Disk.Path != "/dev/sdb" || !e2.Chosen || !strings.HasPrefix(e2.Reason, "chosen by the user") {
		t.Errorf("external2 = %+v", e2)
	}
	if e1.Disk == nil || e1.Disk.Path != "/dev/sdc" || e1.Chosen {
		t.Errorf("external1 was not re-proposed: %+v", e1)
	}
	// A disk the user chose for one role cannot be chosen for another.
	if err := p.Assign("external1", "/dev/sdb"); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "external2") {
		t.Errorf("used twice: %v", err)
	}
	if err := p.Assign("sd", "/dev/sdd"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ra := range p.Roles {
		if ra.Disk == nil {
			t.Fatalf("%s empty: %s", ra.Role, ra.Problem)
		}
		if seen[ra.Disk.Path] {
			t.Fatalf("%s used twice", ra.Disk.Path)
		}
		seen[ra.Disk.Path] = true
	}
	if err := p.Ready(); err != nil {
		t.Fatal(err)
	}
	// Unassigning gives the choice back to the proposal.
	if err := p.Unassign("sd"); err != nil {
		t.Fatal(err)
	}
	if sd := p.Role("sd"); sd.Chosen || sd.Disk.Path != "/dev/mmcblk0" {
		t.Errorf("sd after Unassign: %+v", sd)
	}
}

func TestAssignSymlink(t *testing.T) {
	// A symlink to a device node (as /dev/disk/by-id/usb-...) names its disk.
	tmp := t.TempDir()
	node := tmp + "/sdx"
	if err := os.WriteFile(node, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := tmp + "/usb-Elements_25A2-0:0"
	if err := os.Symlink(node, link); err != nil {
		t.Fatal(err)
	}
	d := usbDisk("sdx", 1000*gb, "Elements 25A2")
	d.Path = node
	dir, m := sparseSet(t, 64*mib, 4*gib, 1)
	p, err := Propose(m, dir, []disk.Disk{mmcSlot, stick8, d})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Assign("external1", link); err != nil {
		t.Fatal(err)
	}
	if got := p.Role("external1").Disk.Path; got != node {
		t.Errorf("assigned %s", got)
	}
}

func TestSetDisks(t *testing.T) {
	dir, m := sparseSet(t, 64*mib, 4*gib, 2)
	p, err := Propose(m, dir, []disk.Disk{mmcSlot, stick8, ssd500})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Assign("external2", "/dev/sdb"); err != nil {
		t.Fatal(err)
	}
	if p.Role("external1").Disk.Path != "/dev/sdc" {
		t.Fatalf("plan\n%s", p)
	}
	// A disk is plugged in: the proposal uses it, the choice stays.
	p.SetDisks([]disk.Disk{mmcSlot, stick8, ssd500, hdd1000})
	if e2 := p.Role("external2"); !e2.Chosen || e2.Disk.Path != "/dev/sdb" {
		t.Errorf("choice lost: %+v", e2)
	}
	// The chosen stick is swapped for another medium: the choice is
	// dropped and external2 proposed again.
	swapped := stick8
	swapped.Serial = "OTHER"
	p.SetDisks([]disk.Disk{mmcSlot, swapped, ssd500, hdd1000})
	e1, e2 := p.Role("external1"), p.Role("external2")
	if e2.Chosen || e2.Disk == nil || e1.Disk == nil || e1.Disk.Path == e2.Disk.Path {
		t.Errorf("after swap:\n%s", p)
	}
	// Everything unplugged: nothing is ready, each role says why.
	p.SetDisks(nil)
	if err := p.Ready(); !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "no eligible disk is connected") {
		t.Errorf("Ready: %v", err)
	}
}

func TestAssignFile(t *testing.T) {
	dir, m := sparseSet(t, 64*mib, 64*mib, 2)
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Ready(); err == nil {
		t.Fatal("a plan without disks is ready")
	}
	if err := p.AssignFile("sd", dir+"/external1.img"); err == nil {
		t.Error("writing onto the set's own image was allowed")
	}
	link := t.TempDir() + "/link.img"
	if err := os.Link(dir+"/sdcard.img", link); err != nil {
		t.Fatal(err)
	}
	if err := p.AssignFile("sd", link); err == nil || !strings.Contains(err.Error(), "own file sdcard.img") {
		t.Errorf("a hard link to the set's image: %v", err)
	}
	tmp := t.TempDir()
	for _, r := range []string{"sd", "external1", "external2"} {
		if err := p.AssignFile(r, tmp+"/"+r+".img"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AssignFile("sd", tmp+"/external1.img"); !errors.Is(err, ErrInUse) {
		t.Errorf("file used twice: %v", err)
	}
	if err := p.AssignFile("sd", "/dev/null"); err == nil {
		t.Error("a device node was accepted as a file")
	}
	if err := p.Ready(); err != nil {
		t.Fatal(err)
	}
	if !p.Role("external2").IsFile() {
		t.Error("IsFile false")
	}
}

func TestProposeBadSet(t *testing.T) {
	dir, m := sparseSet(t, 64*mib, 64*mib, 2)
	m.Roles["external3"] = "missing.img"
	if _, err := Propose(m, dir, nil); !errors.Is(err, ErrSet) {
		t.Errorf("missing file: %v", err)
	}
	delete(m.Roles, "external3")
	m.Artifacts[1].Size++
	if _, err := Propose(m, dir, nil); !errors.Is(err, ErrSet) || !strings.Contains(err.Error(), "changed after it was built") {
		t.Errorf("size mismatch: %v", err)
	}
	m.Roles["x"] = "../etc/passwd"
	if _, err := Propose(m, dir, nil); !errors.Is(err, ErrSet) {
		t.Errorf("path escape: %v", err)
	}
	if _, err := Propose(nil, dir, nil); !errors.Is(err, ErrSet) {
		t.Errorf("nil manifest: %v", err)
	}
}

func TestRoleOrder(t *testing.T) {
	roles := map[string]string{"external10": "", "external2": "", "sd": "", "external1": ""}
	got := strings.Join(sortRoles(roles), " ")
	if got != "sd external1 external2 external10" {
		t.Errorf("order %s", got)
	}
}

func TestIsCardReader(t *testing.T) {
	for _, tc := range []struct {
		bus, vendor, model string
		want               bool
	}{
		{"mmc", "", "SD32G", true},
		{"usb", "Generic-", "SD/MMC", true},
		{"usb", "", "Generic-_SD_MMC_MS_PRO", true},
		{"usb", "Realtek", "RTS5129 Card Reader", true},
		{"usb", "", "USB3.0 CRW-SD", true},
		{"usb", "", "microSD Reader", true},
		{"usb", "Generic", "STORAGE DEVICE", true},
		{"usb", "Samsung", "Samsung SSD 870", false},
		{"usb", "Generic", "Flash Disk", false},
		{"usb", "SanDisk", "Cruzer Blade", false},
		{"usb", "WD", "Elements 25A2", false},
		{"sata", "", "SD card reader", false},
	} {
		d := disk.Disk{Bus: tc.bus, Vendor: tc.vendor, Model: tc.model}
		if got := isCardReader(&d); got != tc.want {
			t.Errorf("%s %q %q: %v, want %v", tc.bus, tc.vendor, tc.model, got, tc.want)
		}
	}
}

// TestProposeScan plans on a realistic fake machine: only eligible disks
// are proposed, never one twice.
func TestProposeScan(t *testing.T) {
	tr := disktest.Sample(t)
	disks, err := disk.Scan(disk.ScanOptions{Root: tr.Root, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	dir, m := sparseSet(t, 64*mib, 64*mib, 2)
	p, err := Propose(m, dir, disks)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]disk.Disk{}
	for _, d := range disks {
		byPath[d.Path] = d
	}
	seen := map[string]bool{}
	for _, ra := range p.Roles {
		if ra.Disk == nil {
			continue
		}
		if !byPath[ra.Disk.Path].Eligible {
			t.Errorf("%s: proposed protected %s", ra.Role, ra.Disk.Path)
		}
		if seen[ra.Disk.Path] {
			t.Errorf("%s proposed twice", ra.Disk.Path)
		}
		seen[ra.Disk.Path] = true
	}
	// The SD slot beats the larger USB reader; externals are USB disks,
	// smallest first; the protected ones are never proposed.
	want := map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdb", "external2": "/dev/sdf"}
	// The stick's boot partition is automounted; the 2 TB disk needs its
	// name typed: both are said.
	if r := p.Role("external1").Reason; !strings.Contains(r, "mounted at /media/pi/bootfs") {
		t.Errorf("external1 reason %q", r)
	}
	if r := p.Role("external2").Reason; !strings.Contains(r, "its name must be typed") {
		t.Errorf("external2 reason %q", r)
	}
	for _, ra := range p.Roles {
		if ra.Disk == nil || ra.Disk.Path != want[ra.Role] {
			t.Errorf("%s: got %v, want %s", ra.Role, ra.Disk, want[ra.Role])
		}
	}
	if t.Failed() {
		t.Log("\n" + p.String())
	}
}
