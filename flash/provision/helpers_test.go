package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/internal/manifest"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
	gb  = int64(1e9)
)

// sparseSet writes a set directory with an sd image of sdSize and n
// external images of extSize, as holes only (for plan tests), and returns
// the directory and its manifest.
func sparseSet(t testing.TB, sdSize, extSize int64, n int) (string, *manifest.Manifest) {
	t.Helper()
	dir := t.TempDir()
	m := &manifest.Manifest{Layout: manifest.LayoutRAID, Name: "plan-test", Level: "RAID1", Devices: n,
		ArrayUUID: "0badc0de:01234567:89abcdef:00112233", Roles: map[string]string{}}
	add := func(role, file string, size int64) {
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		m.Roles[role] = file
		m.Artifacts = append(m.Artifacts, manifest.Artifact{File: file, Kind: manifest.KindDisk, Role: role, Size: size})
	}
	add(RoleSD, "sdcard.img", sdSize)
	for i := 1; i <= n; i++ {
		add(fmt.Sprintf("external%d", i), fmt.Sprintf("external%d.img", i), extSize)
	}
	return dir, m
}

// dataSet writes a set with random images (a fake MBR at the start so a
// partition table is visible) and their SHA-256 in the manifest.
func dataSet(t testing.TB, size int64, n int, seed uint64) (string, *manifest.Manifest) {
	t.Helper()
	dir, m := sparseSet(t, size, size, n)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range m.Artifacts {
		a := &m.Artifacts[i]
		b := make([]byte, size)
		for j := 0; j < len(b); j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < len(b); k++ {
				b[j+k] = byte(v >> (8 * k))
			}
		}
		// Leave holes of zeros too.
		clear(b[size/2 : size/2+size/8])
		b[510], b[511] = 0x55, 0xaa
		if err := os.WriteFile(filepath.Join(dir, a.File), b, 0o644); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		a.SHA256 = hex.EncodeToString(h[:])
	}
	return dir, m
}

func usbDisk(name string, size int64, model string) disk.Disk {
	return disk.Disk{Name: name, Path: "/dev/" + name, SizeBytes: size, Model: model, Bus: "usb",
		Serial: "S-" + name, Eligible: true, Major: 8, Minor: uint32(name[2]-'a') * 16}
}

func hasMBR(t testing.TB, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [512]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return false
	}
	return b[510] == 0x55 && b[511] == 0xaa
}
