package flash

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/pistudio/pistudio/flash/source"
)

// countingSource counts the bytes read from the source's readers.
type countingSource struct {
	source.Source
	read atomic.Int64
}

func (c *countingSource) Next() (source.Extent, io.Reader, error) {
	e, r, err := c.Source.Next()
	if err != nil {
		return e, r, err
	}
	return e, &countR{r: r, n: &c.read}, nil
}

type countR struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countR) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestWriteManyOneDecode writes one image to four file targets, one of
// which cannot be created: the three others are written and verified,
// and the source was read once (its data size), not once per target.
func TestWriteManyOneDecode(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir, 8<<20)
	src, err := source.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingSource{Source: src}
	targets := []Target{
		{Path: filepath.Join(dir, "a.img")},
		{Path: filepath.Join(dir, "b.img")},
		{Path: filepath.Join(dir, "missing", "c.img")},
		{Path: filepath.Join(dir, "d.img")},
	}
	var before, after atomic.Int32
	out, err := WriteMany(context.Background(), cs, targets, ManyOptions{
		ChunkSize: 256 << 10, Buffers: 3,
		Before: func(context.Context, int) error { before.Add(1); return nil },
		After:  func(context.Context, int, *Result) error { after.Add(1); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if i == 2 {
			if o.Err == nil {
				t.Error("the target in a missing directory did not fail")
			}
			continue
		}
		if o.Err != nil || !o.Result.Verified {
			t.Fatalf("target %d: %v", i, o.Err)
		}
		got, err := os.ReadFile(o.Target)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("target %d differs from the image (%v)", i, err)
		}
	}
	if n := cs.read.Load(); n != src.DataSize() {
		t.Errorf("read %d bytes from the image for a data size of %d: the image was decoded more than once", n, src.DataSize())
	}
	if before.Load() != 4 || after.Load() != 3 {
		t.Errorf("before ran %d times, after %d", before.Load(), after.Load())
	}
}

// TestWriteManyBeforeFails refuses one target in its guard; the others
// are written.
func TestWriteManyBeforeFails(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir, 4<<20)
	src, err := source.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	targets := []Target{{Path: filepath.Join(dir, "a.img")}, {Path: filepath.Join(dir, "b.img")}}
	out, err := WriteMany(context.Background(), src, targets, ManyOptions{
		Before: func(_ context.Context, i int) error {
			if i == 0 {
				return refused
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(out[0].Err, refused) {
		t.Errorf("target 0: %v", out[0].Err)
	}
	if _, err := os.Stat(targets[0].Path); !os.IsNotExist(err) {
		t.Error("a refused target was created")
	}
	if got, _ := os.ReadFile(targets[1].Path); out[1].Err != nil || !bytes.Equal(got, data) {
		t.Errorf("target 1: %v", out[1].Err)
	}
}

func TestCheckDistinct(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.img")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.img")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	if err := CheckDistinct([]string{a, filepath.Join(dir, "b.img")}); err != nil {
		t.Error(err)
	}
	if err := CheckDistinct([]string{a, link}); !errors.Is(err, ErrSameMedium) {
		t.Errorf("a file and a link to it: %v", err)
	}
	if err := CheckDistinct([]string{filepath.Join(dir, "n.img"), dir + "/./n.img"}); !errors.Is(err, ErrSameMedium) {
		t.Errorf("one new file twice: %v", err)
	}
}
