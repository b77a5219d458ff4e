package sparse

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"testing"
)

// walk reads sp with a Reader, consuming every RAW chunk (FILL readers
// can be terabytes long and need no reading), and returns the data bytes
// (RAW and FILL) or the Reader's error.
func walk(sp []byte) (int64, error) {
	sr, err := NewReader(bytes.NewReader(sp))
	if err != nil {
		return 0, err
	}
	var data int64
	for {
		c, rd, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return 0, err
		}
		if c.Type == Raw {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return 0, err
			}
		}
		if c.Type != DontCare {
			data += c.Length
		}
	}
}

func TestScanHeaders(t *testing.T) {
	d := bytes.Repeat([]byte{1, 2, 3, 4}, 2048) // two 4 KiB blocks
	full := append(append(append([]byte(nil), d...), make([]byte, 3*4096)...), d[:4096]...)
	good := newImg(4096, 6).chunk(Raw, 2, d).chunk(DontCare, 3, nil).chunk(Raw, 1, d[:4096]).
		chunk(CRC32, 0, word(crc32.ChecksumIEEE(full)))
	for _, tc := range []struct {
		name string
		img  []byte
		data int64 // -1: must fail
	}{
		{"genimage style", good.bytes(), 3 * 4096},
		{"fill and trailing blocks", newImg(4096, 8).chunk(Fill, 2, word(7)).chunk(Raw, 1, d[:4096]).bytes(), 3 * 4096},
		{"empty", newImg(4096, 4).bytes(), 0},
		{"bad magic", func() []byte { m := newImg(4096, 1); m.magic = 1; return m.bytes() }(), -1},
		{"unknown type", newImg(4096, 2).chunk(0xCAC9, 1, nil).bytes(), -1},
		{"raw size mismatch", newImg(4096, 2).chunkTotal(Raw, 1, 12+100, make([]byte, 100)).bytes(), -1},
		{"past total blocks", newImg(4096, 1).chunk(Raw, 2, d).bytes(), -1},
		{"truncated body", newImg(4096, 2).chunk(Raw, 2, d).bytes()[:40], -1},
		{"truncated header", newImg(4096, 2).chunk(DontCare, 2, nil).bytes()[:34], -1},
		{"trailing data", append(newImg(4096, 2).chunk(DontCare, 2, nil).bytes(), 0), -1},
		{"count too high", func() []byte { m := newImg(4096, 2).chunk(DontCare, 2, nil); m.totalChunks = 2; return m.bytes() }(), -1},
		{"crc covering blocks", newImg(4096, 2).chunk(CRC32, 1, word(0)).bytes(), -1},
	} {
		_, data, err := ScanHeaders(bytes.NewReader(tc.img), int64(len(tc.img)))
		if tc.data < 0 {
			if !errors.Is(err, ErrFormat) {
				t.Errorf("%s: err = %v, want ErrFormat", tc.name, err)
			}
			continue
		}
		if err != nil || data != tc.data {
			t.Errorf("%s: data %d err %v, want %d", tc.name, data, err, tc.data)
		}
		if w, err := walk(tc.img); err != nil || w != data {
			t.Errorf("%s: Reader gives %d, %v; ScanHeaders %d", tc.name, w, err, data)
		}
	}
	// A wrong CRC32 value passes the scan (it needs the data); Reader
	// catches it.
	bad := newImg(4096, 2).chunk(Raw, 2, d).chunk(CRC32, 0, word(1)).bytes()
	if _, _, err := ScanHeaders(bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatalf("scan of a bad CRC value: %v", err)
	}
	if _, err := walk(bad); !errors.Is(err, ErrFormat) {
		t.Fatalf("Reader accepted a bad CRC32: %v", err)
	}
}

// FuzzScanHeaders checks ScanHeaders against Reader: whatever ScanHeaders
// accepts, Reader accepts with the same data count, unless a CRC32 value
// is wrong; whatever Reader accepts, ScanHeaders accepts.
func FuzzScanHeaders(f *testing.F) {
	d := bytes.Repeat([]byte{9}, 4096)
	f.Add(newImg(4096, 3).chunk(Raw, 1, d).chunk(DontCare, 1, nil).chunk(CRC32, 0, word(crc32.ChecksumIEEE(append(d, make([]byte, 4096)...)))).bytes())
	f.Add(newImg(4096, 3).chunk(Fill, 2, word(5)).bytes())
	f.Add(newImg(512, 1).chunk(CRC32, 0, word(0)).bytes())
	f.Fuzz(func(t *testing.T, sp []byte) {
		_, data, serr := ScanHeaders(bytes.NewReader(sp), int64(len(sp)))
		w, rerr := walk(sp)
		switch {
		case rerr == nil && serr != nil:
			t.Fatalf("Reader accepts (%d bytes), ScanHeaders: %v", w, serr)
		case rerr == nil && w != data:
			t.Fatalf("Reader counts %d data bytes, ScanHeaders %d", w, data)
		case serr == nil && rerr != nil && !bytes.Contains([]byte(rerr.Error()), []byte("CRC32 mismatch")):
			t.Fatalf("ScanHeaders accepts, Reader: %v", rerr)
		}
	})
}

// BenchmarkScanHeaders sizes a 64 MiB image with 16 MiB of RAW data from
// its headers (compare BenchmarkReadChunks, a Reader pass over the same).
func BenchmarkScanHeaders(b *testing.B) {
	src, _ := holeyFile(b, b.TempDir(), 64<<20, []Extent{{0, 16 << 20}})
	sp := writeSparse(b, src, WriteOptions{CRC: true})
	b.SetBytes(16 << 20)
	for b.Loop() {
		if _, n, err := ScanHeaders(bytes.NewReader(sp), int64(len(sp))); err != nil || n != 16<<20 {
			b.Fatal(n, err)
		}
	}
}
