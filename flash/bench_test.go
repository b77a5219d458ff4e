package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"path/filepath"
	"testing"

	"github.com/zeebo/xxh3"

	"github.com/pistudio/pistudio/flash/source"
)

// memSource is a raw image held in memory.
type memSource struct {
	data []byte
	done bool
}

func (m *memSource) Format() source.Format { return source.Raw }
func (m *memSource) Size() int64           { return int64(len(m.data)) }
func (m *memSource) DataSize() int64       { return int64(len(m.data)) }
func (m *memSource) Close() error          { return nil }
func (m *memSource) Next() (source.Extent, io.Reader, error) {
	if m.done {
		return source.Extent{}, nil, io.EOF
	}
	m.done = true
	return source.Extent{Length: int64(len(m.data))}, bytes.NewReader(m.data), nil
}

// nullSink accepts writes and forgets them.
type nullSink struct{}

func (nullSink) writeAt([]byte, int64) error  { return nil }
func (nullSink) readAt([]byte, int64) error   { return nil }
func (nullSink) zero(int64) error             { return nil }
func (nullSink) sync() error                  { return nil }
func (nullSink) prepareVerify() error         { return nil }
func (nullSink) finish() []string             { return nil }
func (nullSink) dropPartitions() []string     { return nil }
func (nullSink) wipe() error                  { return nil }
func (nullSink) zeroRange(int64, int64) error { return nil }
func (nullSink) close() error                 { return nil }
func (nullSink) remove()                      {}
func (nullSink) commit() error                { return nil }
func (nullSink) name() string                 { return "null" }
func (nullSink) isDevice() bool               { return false }
func (nullSink) blockSize() int64             { return 512 }

func benchData() []byte {
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = byte(i * 7 / 5)
	}
	return b
}

// BenchmarkPipeline measures the decoder → writer → hasher loop with a
// sink that costs nothing: the overhead Write adds to the disk's own speed.
func BenchmarkPipeline(b *testing.B) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w := &writer{src: &memSource{data: data}, sink: nullSink{}, res: &Result{},
			opts: Options{BufferSize: 4 << 20, Buffers: 6}}
		if _, err := w.pipeline(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteFile measures a whole Write into a file, verify included.
func BenchmarkWriteFile(b *testing.B) {
	data := benchData()
	out := filepath.Join(b.TempDir(), "out.img")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Write(context.Background(), &memSource{data: data}, Target{Path: out}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashSHA256(b *testing.B) {
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		sha256.Sum256(buf)
	}
}

func BenchmarkHashXXH3(b *testing.B) {
	buf := make([]byte, 4<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for off := 0; off < len(buf); off += verifyBlock {
			xxh3.Hash(buf[off : off+verifyBlock])
		}
	}
}
