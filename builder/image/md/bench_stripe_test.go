package md

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// memMember is a member image held in memory.
type memMember []byte

func (m memMember) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }

// stripe copies src (array bytes from 0) onto the members as the native
// image stage does: Map each 4 MiB buffer, write every extent.
func stripe(b *testing.B, a *Array, src []byte, put func(member int, p []byte, off int64) error) {
	const buf = 4 << 20
	for off := 0; off < len(src); off += buf {
		p := src[off:min(off+buf, len(src))]
		exts, err := a.Map(int64(off), int64(len(p)))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range exts {
			if err := put(e.Member, p[e.ArrayOff-int64(off):e.ArrayOff-int64(off)+e.Len], e.MemberOff); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchArray(b *testing.B, level Level, n int) (*Array, []byte) {
	a, err := NewArray(level, n, 256<<20, "bench:0", UUID{}, newFixedRand(), fixedTime)
	if err != nil {
		b.Fatal(err)
	}
	src := make([]byte, 64<<20)
	newFixedRand().Read(src)
	return a, src
}

// BenchmarkStripeRAID0 measures RAID0 striping of 64 MiB into in-memory
// members (Map plus the copies): the CPU cost of the native stage's
// copy loop, without the disk.
func BenchmarkStripeRAID0(b *testing.B) {
	for _, n := range []int{2, 4} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			a, src := benchArray(b, RAID0, n)
			members := make([]memMember, n)
			for i := range members {
				members[i] = make(memMember, int64(a.DataOffset)*512+int64(len(src)))
			}
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				stripe(b, a, src, func(m int, p []byte, off int64) error {
					_, err := members[m].WriteAt(p, off)
					return err
				})
			}
		})
	}
}

// BenchmarkMirrorRAID1 is the same for a two-way mirror (every byte is
// written to both members).
func BenchmarkMirrorRAID1(b *testing.B) {
	a, src := benchArray(b, RAID1, 2)
	members := make([]memMember, 2)
	for i := range members {
		members[i] = make(memMember, int64(a.DataOffset)*512+int64(len(src)))
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		stripe(b, a, src, func(m int, p []byte, off int64) error {
			_, err := members[m].WriteAt(p, off)
			return err
		})
	}
}

// BenchmarkStripeRAID0Files stripes onto member files (page cache): the
// native stage's loop with its pwrite per chunk.
func BenchmarkStripeRAID0Files(b *testing.B) {
	a, src := benchArray(b, RAID0, 2)
	dir := b.TempDir()
	files := make([]*os.File, 2)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("m%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		stripe(b, a, src, func(m int, p []byte, off int64) error {
			_, err := files[m].WriteAt(p, off)
			return err
		})
	}
}
