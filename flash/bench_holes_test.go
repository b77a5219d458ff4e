package flash

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/flash/sparse"
)

// holeySource is a sparse-like image held in memory: 256 MiB expanded,
// data in 4 MiB extents every 12 MiB (a third of the image), holes between.
type holeySource struct {
	data []byte // one extent's bytes, reused for every extent
	size int64
	next int64
}

const (
	holeyExtent = 4 << 20
	holeyStride = 12 << 20
	holeySize   = 256 << 20
)

func newHoleySource(data []byte) *holeySource {
	return &holeySource{data: data, size: holeySize}
}

func (h *holeySource) Format() source.Format { return source.Sparse }
func (h *holeySource) Size() int64           { return h.size }
func (h *holeySource) DataSize() int64 {
	return (h.size + holeyStride - 1) / holeyStride * holeyExtent
}
func (h *holeySource) Close() error { return nil }
func (h *holeySource) Next() (source.Extent, io.Reader, error) {
	if h.next >= h.size {
		return source.Extent{}, nil, io.EOF
	}
	e := source.Extent{Offset: h.next, Length: min(holeyExtent, h.size-h.next)}
	h.next += holeyStride
	return e, bytes.NewReader(h.data[:e.Length]), nil
}

func holeyData() []byte {
	b := make([]byte, holeyExtent)
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// discardSink accepts writes and forgets them.
type discardSink struct{}

func (discardSink) writeAt([]byte, int64) error  { return nil }
func (discardSink) readAt([]byte, int64) error   { return nil }
func (discardSink) zero(int64) error             { return nil }
func (discardSink) sync() error                  { return nil }
func (discardSink) prepareVerify() error         { return nil }
func (discardSink) finish() []string             { return nil }
func (discardSink) dropPartitions() []string     { return nil }
func (discardSink) wipe() error                  { return nil }
func (discardSink) zeroRange(int64, int64) error { return nil }
func (discardSink) close() error                 { return nil }
func (discardSink) remove()                      {}
func (discardSink) blockSize() int64             { return 512 }
func (discardSink) commit() error                { return nil }
func (discardSink) name() string                 { return "discard" }
func (discardSink) isDevice() bool               { return false }

// BenchmarkPipelineHoles runs the decoder → writer → hasher loop on an
// image that is two thirds holes (as sparse and bmap images are), with a
// sink that costs nothing. MB/s are of data written: what the hasher
// spends on the holes shows here.
func BenchmarkPipelineHoles(b *testing.B) {
	data := holeyData()
	b.SetBytes(newHoleySource(data).DataSize())
	for b.Loop() {
		w := &writer{src: newHoleySource(data), sink: discardSink{}, res: &Result{},
			opts: Options{BufferSize: 4 << 20, Buffers: 6}}
		if _, err := w.pipeline(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFileHoles is a whole Write (zero, write, verify) of the
// holey image into a file: the writer loop with a file target.
func BenchmarkWriteFileHoles(b *testing.B) {
	data := holeyData()
	out := filepath.Join(b.TempDir(), "out.img")
	b.SetBytes(newHoleySource(data).DataSize())
	for b.Loop() {
		res, err := Write(context.Background(), newHoleySource(data), Target{Path: out}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Verified {
			b.Fatal("not verified")
		}
	}
}

// TestWriteSparseBadCRCLeavesNoTarget: a sparse image whose CRC32 value
// is wrong opens (Open reads only its chunk headers) but fails the write
// before it completes, and the file target is not left behind.
func TestWriteSparseBadCRCLeavesNoTarget(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "img")
	if err := os.WriteFile(raw, holeyData()[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	sp := raw + ".sparse"
	in, _ := os.Open(raw)
	out, _ := os.Create(sp)
	if err := sparse.WriteFile(out, in, sparse.WriteOptions{CRC: true}); err != nil {
		t.Fatal(err)
	}
	in.Close()
	out.Close()
	data, _ := os.ReadFile(sp)
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(sp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(sp)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	target := filepath.Join(dir, "out.img")
	if _, err := Write(context.Background(), src, Target{Path: target}, Options{}); !errors.Is(err, sparse.ErrFormat) {
		t.Fatalf("Write of a bad CRC32: %v", err)
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("target left behind: %v", err)
	}
}
