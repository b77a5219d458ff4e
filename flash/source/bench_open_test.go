package source

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/pistudio/pistudio/flash/sparse"
)

// benchImage writes a 256 MiB raw image with 64 MiB of data in 4 MiB
// extents (half random, half zero-padded text-like bytes) between holes.
func benchImage(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench.img")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(256 << 20); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 4<<20)
	for i := int64(0); i < 16; i++ {
		for j := range buf {
			if i%2 == 0 {
				buf[j] = byte(r.Uint32())
			} else {
				buf[j] = "pistudio "[j%9]
			}
		}
		if _, err := f.WriteAt(buf, i*16<<20); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// drainAll reads every data range of the image at p as the writer does.
func drainAll(b *testing.B, p string) int64 {
	src, err := Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	buf := make([]byte, 4<<20)
	var n int64
	for {
		_, r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		m, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
		if err != nil {
			b.Fatal(err)
		}
		n += m
	}
}

// BenchmarkSourceSparse opens an Android sparse file (with its pre-pass)
// and reads every data range: the sparse decode path of a flash. MB/s are
// of data bytes.
func BenchmarkSourceSparse(b *testing.B) {
	raw := benchImage(b)
	p := raw + ".sparse"
	in, _ := os.Open(raw)
	out, _ := os.Create(p)
	if err := sparse.WriteFile(out, in, sparse.WriteOptions{CRC: true}); err != nil {
		b.Fatal(err)
	}
	in.Close()
	out.Close()
	b.SetBytes(64 << 20)
	for b.Loop() {
		if n := drainAll(b, p); n != 64<<20 {
			b.Fatalf("read %d bytes", n)
		}
	}
}

// BenchmarkSourceZstd decodes a zstd-compressed image (MB/s of expanded bytes).
func BenchmarkSourceZstd(b *testing.B) {
	raw := benchImage(b)
	p := raw + ".zst"
	in, _ := os.Open(raw)
	out, _ := os.Create(p)
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(zw, in); err != nil {
		b.Fatal(err)
	}
	zw.Close()
	in.Close()
	out.Close()
	b.SetBytes(256 << 20)
	for b.Loop() {
		if n := drainAll(b, p); n != 256<<20 {
			b.Fatalf("read %d bytes", n)
		}
	}
}

// BenchmarkSourceRaw reads a raw image through Open (page cache).
func BenchmarkSourceRaw(b *testing.B) {
	p := benchImage(b)
	b.SetBytes(256 << 20)
	for b.Loop() {
		if n := drainAll(b, p); n != 256<<20 {
			b.Fatalf("read %d bytes", n)
		}
	}
}

// TestSparseBadCRCFailsWhileStreaming: Open sizes an uncompressed sparse
// file from its chunk headers alone, so a wrong CRC32 value is found by
// the streaming pass — before its last range ends, so before a writer
// writes the first MiB — and not by Open.
func TestSparseBadCRCFailsWhileStreaming(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "img")
	if err := os.WriteFile(raw, bytes.Repeat([]byte("pistudio"), 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	p := raw + ".sparse"
	in, _ := os.Open(raw)
	out, _ := os.Create(p)
	if err := sparse.WriteFile(out, in, sparse.WriteOptions{CRC: true}); err != nil {
		t.Fatal(err)
	}
	in.Close()
	out.Close()
	data, _ := os.ReadFile(p)
	data[len(data)-1] ^= 0xff // the CRC32 chunk's value
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(p)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer src.Close()
	if src.DataSize() != 512<<10 {
		t.Fatalf("DataSize %d", src.DataSize())
	}
	var rerr error
	for rerr == nil {
		var r io.Reader
		if _, r, rerr = src.Next(); rerr == nil {
			_, rerr = io.Copy(io.Discard, r)
		}
	}
	if !errors.Is(rerr, sparse.ErrFormat) || !strings.Contains(rerr.Error(), "CRC32") {
		t.Fatalf("streaming a bad CRC32: %v", rerr)
	}
}
