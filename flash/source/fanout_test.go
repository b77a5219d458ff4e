package source

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memSource serves extents of data and counts what is read from it.
type memSource struct {
	data   []byte
	exts   []Extent
	i      int
	read   atomic.Int64
	closed atomic.Bool
}

func (m *memSource) Format() Format { return Raw }
func (m *memSource) Size() int64    { return int64(len(m.data)) }
func (m *memSource) DataSize() int64 {
	var n int64
	for _, e := range m.exts {
		n += e.Length
	}
	return n
}
func (m *memSource) Next() (Extent, io.Reader, error) {
	if m.i == len(m.exts) {
		return Extent{}, nil, io.EOF
	}
	e := m.exts[m.i]
	m.i++
	end := min(e.End(), int64(len(m.data))) // an extent past the data reads short
	return e, &countReader{r: bytes.NewReader(m.data[e.Offset:end]), n: &m.read}, nil
}
func (m *memSource) Close() error { m.closed.Store(true); return nil }

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func newMem(size int) *memSource {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	// Three extents with holes between them.
	return &memSource{data: data, exts: []Extent{{0, int64(size / 4)}, {int64(size / 2), int64(size / 8)}, {int64(size * 3 / 4), int64(size / 4)}}}
}

// drain reads a Source to the end into an image-sized buffer.
func fanDrain(s Source, delay func()) ([]byte, error) {
	out := make([]byte, s.Size())
	for {
		e, r, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, out[e.Offset:e.End()]); err != nil {
			return nil, err
		}
		if delay != nil {
			delay()
		}
	}
}

func expanded(m *memSource) []byte {
	out := make([]byte, len(m.data))
	for _, e := range m.exts {
		copy(out[e.Offset:e.End()], m.data[e.Offset:e.End()])
	}
	return out
}

// TestFanoutDecodesOnce gives four readers the same bytes from one pass
// over the source: the bytes read from it equal its data size, not four
// times that.
func TestFanoutDecodesOnce(t *testing.T) {
	m := newMem(3 << 20)
	f := Fanout(m, 4, FanoutOptions{ChunkSize: 64 << 10, Buffers: 3})
	var wg sync.WaitGroup
	got := make([][]byte, 4)
	errs := make([]error, 4)
	for i, s := range f.Sources() {
		wg.Go(func() {
			var delay func()
			if i == 2 {
				delay = func() { time.Sleep(time.Millisecond) } // a slower target
			}
			got[i], errs[i] = fanDrain(s, delay)
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := expanded(m)
	for i := range got {
		if errs[i] != nil || !bytes.Equal(got[i], want) {
			t.Errorf("reader %d: %v, equal=%v", i, errs[i], bytes.Equal(got[i], want))
		}
	}
	if n := m.read.Load(); n != m.DataSize() || f.SourceBytes() != n {
		t.Errorf("read %d bytes from the source (fan counted %d) for a data size of %d: more than one pass", n, f.SourceBytes(), m.DataSize())
	}
	if f.SourceNexts() != int64(len(m.exts)) {
		t.Errorf("%d extents taken, want %d", f.SourceNexts(), len(m.exts))
	}
	if !m.closed.Load() {
		t.Error("source not closed")
	}
}

// TestFanoutFailedDropsOut closes one reader midway (its write failed):
// the others still get every byte.
func TestFanoutFailedDropsOut(t *testing.T) {
	m := newMem(2 << 20)
	f := Fanout(m, 3, FanoutOptions{ChunkSize: 32 << 10, Buffers: 2})
	srcs := f.Sources()
	if _, _, err := srcs[1].Next(); err != nil {
		t.Fatal(err)
	}
	srcs[1].Close() // fails after one chunk and never reads again
	var wg sync.WaitGroup
	got := make([][]byte, 3)
	for _, i := range []int{0, 2} {
		wg.Go(func() {
			var err error
			if got[i], err = fanDrain(srcs[i], nil); err != nil {
				t.Errorf("reader %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if _, _, err := srcs[1].Next(); !errors.Is(err, ErrDropped) {
		t.Errorf("closed reader: %v, want ErrDropped", err)
	}
	want := expanded(m)
	if !bytes.Equal(got[0], want) || !bytes.Equal(got[2], want) {
		t.Error("the live readers did not get the image")
	}
	f.Close()
}

// TestFanoutStalledDropsOut has a reader that never reads: once the
// shared buffers are full it is dropped and the others finish.
func TestFanoutStalledDropsOut(t *testing.T) {
	m := newMem(1 << 20)
	f := Fanout(m, 2, FanoutOptions{ChunkSize: 16 << 10, Buffers: 2, Stall: 20 * time.Millisecond})
	srcs := f.Sources()
	got, err := fanDrain(srcs[0], nil)
	if err != nil || !bytes.Equal(got, expanded(m)) {
		t.Fatalf("live reader: %v", err)
	}
	if _, _, err := srcs[1].Next(); !errors.Is(err, ErrDropped) {
		t.Errorf("stalled reader: %v, want ErrDropped", err)
	}
	f.Close()
}

// TestFanoutSourceError passes a decoding error to every reader.
func TestFanoutSourceError(t *testing.T) {
	m := newMem(1 << 20)
	m.exts = append(m.exts, Extent{Offset: int64(len(m.data)) - 10, Length: 100}) // past the data: short read
	f := Fanout(m, 2, FanoutOptions{ChunkSize: 64 << 10})
	var wg sync.WaitGroup
	for i, s := range f.Sources() {
		wg.Go(func() {
			if _, err := fanDrain(s, nil); err == nil || errors.Is(err, ErrDropped) {
				t.Errorf("reader %d: %v, want the read error", i, err)
			}
		})
	}
	wg.Wait()
	f.Close()
}
