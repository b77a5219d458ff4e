package flash

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/pistudio/pistudio/flash/source"
)

type ext = source.Extent

// x is the extent of n bytes at off.
func x(off, n int64) ext { return ext{Offset: off, Length: n} }

func TestSkippedIn(t *testing.T) {
	for _, tc := range []struct {
		name         string
		win, written []ext
		want         []ext
	}{
		{"all written", []ext{x(0, 10)}, []ext{x(0, 10)}, nil},
		{"nothing written", []ext{x(0, 10), x(20, 5)}, nil, []ext{x(0, 10), x(20, 5)}},
		{"gaps", []ext{x(0, 100)}, []ext{x(10, 10), x(50, 10)}, []ext{x(0, 10), x(20, 30), x(60, 40)}},
		{"written across windows", []ext{x(0, 10), x(20, 10)}, []ext{x(5, 20)}, []ext{x(0, 5), x(25, 5)}},
		{"written past", []ext{x(10, 10)}, []ext{x(0, 5), x(30, 5)}, []ext{x(10, 10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := skippedIn(tc.win, tc.written); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// mbrHead returns a first MiB with an MBR of the given (start, sectors)
// entries.
func mbrHead(parts ...[2]uint32) []byte {
	h := make([]byte, 1<<20)
	for i, p := range parts {
		e := h[446+16*i:]
		e[4] = 0x83
		binary.LittleEndian.PutUint32(e[8:], p[0])
		binary.LittleEndian.PutUint32(e[12:], p[1])
	}
	h[510], h[511] = 0x55, 0xaa
	return h
}

func TestSignatureWindows(t *testing.T) {
	const mib = 1 << 20
	gpt := mbrHead([2]uint32{1, 1<<32 - 1})
	gpt[446+4] = 0xee
	copy(gpt[512:], "EFI PART")
	binary.LittleEndian.PutUint64(gpt[512+72:], 2)
	binary.LittleEndian.PutUint32(gpt[512+80:], 128)
	binary.LittleEndian.PutUint32(gpt[512+84:], 128)
	e := gpt[1024:]
	e[0] = 1 // a type GUID
	binary.LittleEndian.PutUint64(e[32:], 8192)
	binary.LittleEndian.PutUint64(e[40:], 16383)
	for _, tc := range []struct {
		name string
		head []byte
		size int64
		want []ext
	}{
		{"no table", nil, 64 * mib, []ext{x(0, mib), x(63*mib, mib)}},
		{"mbr", mbrHead([2]uint32{2048, 6144}, [2]uint32{16384, 40960}), 64 * mib,
			[]ext{x(0, 2*mib), x(3*mib, mib), x(8*mib, mib), x(27*mib, mib), x(63*mib, mib)}},
		{"partition past the image", mbrHead([2]uint32{16384, 1 << 30}), 16 * mib,
			[]ext{x(0, mib), x(8*mib, mib), x(15*mib, mib)}},
		{"gpt", gpt, 64 * mib, []ext{x(0, mib), x(4*mib, mib), x(7*mib, mib), x(63*mib, mib)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := signatureWindows(tc.head, tc.size); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzPartitionRanges checks that any first MiB yields ranges inside the
// image.
func FuzzPartitionRanges(f *testing.F) {
	f.Add(mbrHead([2]uint32{2048, 6144})[:4096], int64(64<<20))
	f.Fuzz(func(t *testing.T, head []byte, size int64) {
		if size <= 0 {
			return
		}
		for _, e := range partitionRanges(head, size) {
			if e.Offset < 0 || e.Length <= 0 || e.End() > size {
				t.Fatalf("range %v outside a %d-byte image", e, size)
			}
		}
		win := signatureWindows(head, size)
		for i, w := range win {
			if w.Offset < 0 || w.End() > size || (i > 0 && w.Offset <= win[i-1].End()) {
				t.Fatalf("window %v of %v", w, win)
			}
		}
	})
}
