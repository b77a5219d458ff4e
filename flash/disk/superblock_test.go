package disk

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
)

// mkfs makes a filesystem image of size bytes with a tool (listed in the
// Debian packages the tests need) and returns its path.
func mkfs(t *testing.T, size int64, tool string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed", tool)
	}
	p := filepath.Join(t.TempDir(), "fs.img")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, append(args, p)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return p
}

// blkid returns what util-linux says about a regular file (never a device).
func blkid(t *testing.T, p string) map[string]string {
	t.Helper()
	m := map[string]string{}
	if _, err := exec.LookPath("blkid"); err != nil {
		return m
	}
	out, _ := exec.Command("blkid", "-p", "-o", "export", p).Output()
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func probeFile(t *testing.T, p string) FSInfo {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	info, ok, err := Probe(f, st.Size())
	if err != nil || !ok {
		t.Fatalf("Probe: ok=%v err=%v", ok, err)
	}
	return info
}

func TestProbeTools(t *testing.T) {
	tests := []struct {
		name, tool string
		size       int64
		args       []string
		want       FSInfo
	}{
		{"ext4", "mke2fs", 8 << 20, []string{"-q", "-F", "-t", "ext4", "-L", "rootfs", "-U", "0b3c5e2a-1111-4a2b-9c3d-123456789abc"},
			FSInfo{"ext4", "rootfs", "0b3c5e2a-1111-4a2b-9c3d-123456789abc"}},
		{"ext3", "mke2fs", 8 << 20, []string{"-q", "-F", "-t", "ext3", "-L", "old"}, FSInfo{Type: "ext3", Label: "old"}},
		{"ext2", "mke2fs", 8 << 20, []string{"-q", "-F", "-t", "ext2"}, FSInfo{Type: "ext2"}},
		{"fat32", "mkfs.vfat", 40 << 20, []string{"-F", "32", "-n", "BOOTFS", "-i", "1234ABCD"}, FSInfo{"vfat", "BOOTFS", "1234-ABCD"}},
		{"fat16", "mkfs.vfat", 16 << 20, []string{"-F", "16", "-i", "DEADBEEF"}, FSInfo{"vfat", "", "DEAD-BEEF"}},
		{"swap", "mkswap", 4 << 20, []string{"-L", "swappy", "-U", "11111111-2222-4333-8444-555555555555"},
			FSInfo{"swap", "swappy", "11111111-2222-4333-8444-555555555555"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mkfs(t, tc.size, tc.tool, tc.args...)
			got := probeFile(t, p)
			if got.Type != tc.want.Type || got.Label != tc.want.Label || (tc.want.UUID != "" && got.UUID != tc.want.UUID) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if b := blkid(t, p); b["TYPE"] != "" && (b["TYPE"] != got.Type || b["UUID"] != got.UUID || b["LABEL"] != got.Label) {
				t.Errorf("blkid says %v, we say %+v", b, got)
			}
		})
	}
}

// synth builds a size-byte image with blobs at offsets.
func synth(size int, blobs map[int][]byte) []byte {
	b := make([]byte, size)
	for off, blob := range blobs {
		copy(b[off:], blob)
	}
	return b
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func mdSuper(name string) []byte {
	b := append(le32(mdMagic), le32(1)...)
	b = append(b, make([]byte, 8)...)
	b = append(b, bytes.Repeat([]byte{0xab}, 16)...)
	return append(b, []byte(name)...)
}

func TestProbeSynthetic(t *testing.T) {
	uuidAB := "abababab-abab-abab-abab-abababababab"
	tests := []struct {
		name string
		img  []byte
		want FSInfo
		ok   bool
	}{
		{"lvm", synth(4096, map[int][]byte{512: []byte("LABELONE"), 512 + 24: []byte("LVM2 001abcdefghijklmnopqrstuvwxyz012345")}),
			FSInfo{Type: "LVM2_member", UUID: "abcdef-ghij-klmn-opqr-stuv-wxyz-012345"}, true},
		{"md1.2", synth(64<<10, map[int][]byte{4096: mdSuper("pi:0")}), FSInfo{"linux_raid_member", "pi:0", uuidAB}, true},
		{"md1.1", synth(64<<10, map[int][]byte{0: mdSuper("x")}), FSInfo{"linux_raid_member", "x", uuidAB}, true},
		{"md1.0", synth(256<<10, map[int][]byte{256<<10 - 8192: mdSuper("end")}), FSInfo{"linux_raid_member", "end", uuidAB}, true},
		{"md0.90", synth(256<<10, map[int][]byte{256<<10 - 65536: le32(mdMagic)}), FSInfo{Type: "linux_raid_member"}, true},
		{"btrfs", synth(128<<10, map[int][]byte{0x10000 + 0x20: bytes.Repeat([]byte{0xab}, 16), 0x10040: []byte("_BHRfS_M"), 0x10000 + 0x12b: []byte("data")}),
			FSInfo{"btrfs", "data", uuidAB}, true},
		{"xfs", synth(4096, map[int][]byte{0: []byte("XFSB"), 32: bytes.Repeat([]byte{0xab}, 16), 108: []byte("xlabel")}), FSInfo{"xfs", "xlabel", uuidAB}, true},
		{"luks", synth(4096, map[int][]byte{0: []byte("LUKS\xba\xbe\x00\x01"), 168: []byte(uuidAB)}), FSInfo{Type: "crypto_LUKS", UUID: uuidAB}, true},
		{"squashfs", synth(4096, map[int][]byte{0: []byte("hsqs")}), FSInfo{Type: "squashfs"}, true},
		{"iso9660", synth(40960, map[int][]byte{32769: []byte("CD001"), 32768 + 40: []byte("DEBIAN")}), FSInfo{Type: "iso9660", Label: "DEBIAN"}, true},
		{"zeros", make([]byte, 1<<20), FSInfo{}, false},
		{"short", []byte("LABELONE"), FSInfo{}, false},
		{"empty", nil, FSInfo{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := Probe(bytes.NewReader(tc.img), int64(len(tc.img)))
			if err != nil || ok != tc.ok || got != tc.want {
				t.Errorf("got %+v ok=%v err=%v, want %+v ok=%v", got, ok, err, tc.want, tc.ok)
			}
		})
	}
}

func FuzzProbe(f *testing.F) {
	f.Add([]byte{})
	f.Add(synth(4096, map[int][]byte{512: []byte("LABELONE"), 536: []byte("LVM2 001")}))
	f.Add(synth(8192, map[int][]byte{1024 + 56: {0x53, 0xef}}))
	f.Add(synth(4096, map[int][]byte{4086: []byte("SWAPSPACE2")}))
	f.Add(synth(512, map[int][]byte{82: []byte("FAT32"), 510: {0x55, 0xaa}}))
	f.Add(synth(70000, map[int][]byte{4096: mdSuper("a")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, ok, err := Probe(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("error on an in-memory reader: %v", err)
		}
		if !ok && info != (FSInfo{}) {
			t.Fatalf("not ok but %+v", info)
		}
	})
}

// TestScanProbesFakePartitions reads superblocks of regular files standing
// in for partitions when udev has no record of them.
func TestScanProbesFakePartitions(t *testing.T) {
	ext := mkfs(t, 8<<20, "mke2fs", "-q", "-F", "-t", "ext4", "-L", "rootfs")
	b, err := os.ReadFile(ext)
	if err != nil {
		t.Fatal(err)
	}
	tr := disktest.New(t)
	tr.AddDisk(disktest.Disk{Name: "sdb", Major: 8, Minor: 16, Sectors: 1 << 21, Parent: disktest.USBParent, Removable: true,
		Parts: []disktest.Part{{Sectors: 8 << 11, Content: b}, {Sectors: 1024}}})
	// A protected disk's partitions are never opened.
	tr.AddDisk(disktest.Disk{Name: "sda", Major: 8, Minor: 0, Sectors: 1 << 21, Parent: disktest.SATAParent,
		Parts: []disktest.Part{{Sectors: 8 << 11, Content: b}}})
	var opened []string
	open := func(p string) (*os.File, error) {
		opened = append(opened, p)
		return os.Open(filepath.Join(tr.Root, p))
	}
	disks, err := Scan(ScanOptions{Root: tr.Root, Open: open})
	if err != nil {
		t.Fatal(err)
	}
	if p := disks[1].Partitions[0]; disks[1].Name != "sdb" || p.FSType != "ext4" || p.Label != "rootfs" || p.UUID == "" {
		t.Errorf("sdb1 = %+v", p)
	}
	if p := disks[0].Partitions[0]; p.FSType != "" {
		t.Errorf("protected sda1 probed: %+v", p)
	}
	if strings.Join(opened, " ") != "/dev/sdb1 /dev/sdb2" {
		t.Errorf("opened %v", opened)
	}
	// The default opener in a fake tree reads regular files only.
	disks, err = Scan(ScanOptions{Root: tr.Root})
	if err != nil {
		t.Fatal(err)
	}
	if p := disks[1].Partitions[0]; p.FSType != "ext4" {
		t.Errorf("default opener: sdb1 = %+v", p)
	}
	disks, err = Scan(ScanOptions{Root: tr.Root, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := disks[1].Partitions[0]; p.FSType != "" {
		t.Errorf("NoProbe: sdb1 = %+v", p)
	}
}
