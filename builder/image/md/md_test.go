package md

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pistudio/pistudio/internal/golden"
)

// fixedRand is a deterministic byte stream for golden tests.
type fixedRand struct{ r *rand.ChaCha8 }

func newFixedRand() *fixedRand {
	return &fixedRand{rand.NewChaCha8([32]byte{'p', 'i', 's', 't', 'u', 'd', 'i', 'o'})}
}
func (f *fixedRand) Read(p []byte) (int, error) { return f.r.Read(p) }

var fixedTime = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestDataOffset(t *testing.T) {
	const gb = 1000 * 1000 * 1000 / 512 // sectors in a decimal GB
	cases := []struct {
		sectors, chunk, want uint64
	}{
		{1 * gb, 0, 2048},
		{(1 << 30) / 512, 0, 4096}, // exactly 1 GiB: headroom stays 1 MiB
		{(1<<30 - 8<<20) / 512, 0, 2048},
		{1 * gb, ChunkSectors, 4096},
		{200 << 11, 0, 2048}, // 200 MiB
		{8 * gb, 0, 10240},
		{32 * gb, 0, 34816},
		{128 * gb, 0, 133120},
		{256 * gb, 0, 264192},
		{1000 * gb, 0, 264192},
	}
	for _, c := range cases {
		if got := DataOffset(c.sectors, c.chunk); got != c.want {
			t.Errorf("DataOffset(%d sectors, chunk %d) = %d, want %d", c.sectors, c.chunk, got, c.want)
		}
	}
}

func TestChecksumFoldsCarry(t *testing.T) {
	sb := make([]byte, SuperblockSize)
	for i := range sb {
		sb[i] = 0xff
	}
	sb[0xDC], sb[0xDD], sb[0xDE], sb[0xDF] = 128, 0, 0, 0
	// 127 words of 0xffffffff plus max_dev (128): sum folded into 32 bits.
	var s uint64 = 127*0xffffffff + 128
	want := uint32(s&0xffffffff + s>>32)
	if got := Checksum(sb); got != want {
		t.Fatalf("Checksum = %#x, want %#x", got, want)
	}
}

func testArray(t *testing.T, level Level, n int, memberBytes int64) *Array {
	t.Helper()
	a, err := NewArray(level, n, memberBytes, "raid-device:0", UUID{}, newFixedRand(), fixedTime)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSuperblockGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level Level
		n     int
	}{{"raid1-2", RAID1, 2}, {"raid0-3", RAID0, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			a := testArray(t, tc.level, tc.n, 1016<<20)
			var got bytes.Buffer
			for i := range tc.n {
				got.Write(a.Superblock(i))
			}
			if !golden.Check(t, filepath.Join("testdata", tc.name+".sb"), got.Bytes()) {
				t.FailNow()
			}
		})
	}
}

func TestMap(t *testing.T) {
	a := testArray(t, RAID0, 3, 64<<20)
	base := int64(a.DataOffset) * 512
	ext, err := a.Map(ChunkBytes-10, 3*ChunkBytes+20)
	if err != nil {
		t.Fatal(err)
	}
	want := []Extent{
		{0, base + ChunkBytes - 10, ChunkBytes - 10, 10},
		{1, base, ChunkBytes, ChunkBytes},
		{2, base, 2 * ChunkBytes, ChunkBytes},
		{0, base + ChunkBytes, 3 * ChunkBytes, ChunkBytes},
		{1, base + ChunkBytes, 4 * ChunkBytes, 10},
	}
	if len(ext) != len(want) {
		t.Fatalf("Map = %+v", ext)
	}
	for i := range want {
		if ext[i] != want[i] {
			t.Errorf("extent %d = %+v, want %+v", i, ext[i], want[i])
		}
	}
	if _, err := a.Map(a.ArrayBytes()-1, 2); err != ErrRange {
		t.Errorf("Map past end: %v", err)
	}
	// 3 members of (64 MiB - 2 MiB data offset) in whole 512 KiB chunks.
	if got, want := a.ArrayBytes(), int64(3*(64<<20-int64(a.DataOffset)*512)); got != want {
		t.Errorf("ArrayBytes = %d, want %d", got, want)
	}
}

// TestMdadmExamine checks that mdadm reads each member as part of one clean
// array with valid checksums.
func TestMdadmExamine(t *testing.T) {
	if _, err := exec.LookPath("mdadm"); err != nil {
		t.Skip("mdadm not installed")
	}
	for _, tc := range []struct {
		level Level
		n     int
		want  []string
	}{
		{RAID1, 2, []string{"Raid Level : raid1", "Raid Devices : 2", "State : clean", "Checksum : ", "correct", "Name : raid-device:0"}},
		{RAID0, 3, []string{"Raid Level : raid0", "Raid Devices : 3", "Chunk Size : 512K", "State : clean", "correct"}},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			dir := t.TempDir()
			a := testArray(t, tc.level, tc.n, 100<<20)
			for i := range tc.n {
				p := filepath.Join(dir, "m")
				f, err := os.Create(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.Truncate(100 << 20); err != nil {
					t.Fatal(err)
				}
				if err := a.WriteMetadata(f, i); err != nil {
					t.Fatal(err)
				}
				f.Close()
				out, err := exec.Command("mdadm", "--examine", p).CombinedOutput()
				if err != nil {
					t.Fatalf("mdadm --examine: %v\n%s", err, out)
				}
				s := string(out)
				want := append(tc.want, "Array UUID : "+a.UUID.String(), "Device UUID : "+a.DeviceUUIDs[i].String())
				for _, w := range want {
					if !strings.Contains(s, w) {
						t.Errorf("member %d: %q missing from:\n%s", i, w, s)
					}
				}
				if strings.Contains(s, "expected") || strings.Contains(s, "Bad Blocks Present") {
					t.Errorf("member %d: mdadm complains:\n%s", i, s)
				}
			}
		})
	}
}
