package helper

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/source"
)

// gzipImage writes n bytes of data gzipped: a container that does not
// record the expanded size.
func gzipImage(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.img.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientSendsMeasure checks that a client hands the helper what
// inspecting the image measured, so that the helper does not decode the
// image once more to size it.
func TestClientSendsMeasure(t *testing.T) {
	img := gzipImage(t, 1<<20)
	if _, err := source.Inspect(img); err != nil {
		t.Fatal(err)
	}
	want, ok := source.Measured(img)
	if !ok {
		t.Fatal("no measure after Inspect")
	}
	reqR, reqW := io.Pipe()
	evR, evW := io.Pipe()
	got := make(chan Request, 1)
	go func() {
		var req Request
		if err := json.NewDecoder(bufio.NewReader(reqR)).Decode(&req); err != nil {
			t.Error(err)
		}
		got <- req
		b, _ := json.Marshal(Event{ID: req.ID, Type: EventError, Error: "stop here", Kind: "request"})
		evW.Write(append(b, '\n'))
		evW.Close()
	}()
	c := NewClient(evR, reqW)
	c.Flash(context.Background(), img, flash.Target{Path: "/dev/null"}, flash.Options{})
	req := <-got
	if req.Measure == nil || *req.Measure != want {
		t.Errorf("request measure %+v, want %+v", req.Measure, want)
	}
}

// TestHelperUsesMeasureOfItsFile checks that the helper applies a measure
// only to the file it opened.
func TestHelperUsesMeasureOfItsFile(t *testing.T) {
	var size atomic.Int64
	c := pair(t, ServeOptions{UID: -1, AllowFiles: true,
		write: func(_ context.Context, src source.Source, _ flash.Target, _ flash.Options) (*flash.Result, error) {
			size.Store(src.Size())
			return &flash.Result{}, nil
		}})
	for _, tc := range []struct {
		name  string
		edit  func(*source.Measure)
		short bool
	}{
		{"this file", func(*source.Measure) {}, true},
		{"another file", func(m *source.Measure) { m.Key.Ino++ }, false},
		{"another version", func(m *source.Measure) { m.Key.MtimeNs-- }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := gzipImage(t, 1<<20)
			out := filepath.Join(t.TempDir(), "out.img")
			os.WriteFile(out, nil, 0o644)
			if _, err := source.Inspect(img); err != nil {
				t.Fatal(err)
			}
			m, ok := source.Measured(img)
			if !ok {
				t.Fatal("no measure after Inspect")
			}
			// A smaller size than the truth (which the writer would catch
			// while reading) shows whether the helper used the measure.
			m.Size, m.DataSize = m.Size-512, m.Size-512
			tc.edit(&m)
			verify := true
			var rerr error
			err := c.call(context.Background(), Request{Op: OpFlash, Image: img, Device: out, Verify: &verify, Measure: &m}, true, func(ev Event) bool {
				if ev.Type == EventError {
					rerr = ev.asError()
				}
				return ev.Type == EventResult || ev.Type == EventError
			})
			if err != nil || rerr != nil {
				t.Fatalf("flash: %v / %v", err, rerr)
			}
			want := int64(1 << 20)
			if tc.short {
				want -= 512
			}
			if size.Load() != want {
				t.Errorf("the writer saw size %d, want %d", size.Load(), want)
			}
		})
	}
}
