package source

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

// TestStaleBmapBeside checks that a map found beside an image is used only
// when it can describe the image: an older map, or one for another size,
// is ignored with a warning and the whole image is read; a map named
// explicitly is used as given.
func TestStaleBmapBeside(t *testing.T) {
	if _, err := exec.LookPath("bmaptool"); err != nil {
		t.Skip("bmaptool not installed")
	}
	for _, tc := range []struct {
		name     string
		change   func(t *testing.T, img string)
		explicit bool
		wantMap  bool
		warn     string
	}{
		{name: "fresh", change: func(*testing.T, string) {}, wantMap: true},
		{name: "older than the image", change: func(t *testing.T, img string) {
			// Change an unmapped block and make the image newer.
			f, err := os.OpenFile(img, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("new data"), 7<<20); err != nil {
				t.Fatal(err)
			}
			f.Close()
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(img, later, later); err != nil {
				t.Fatal(err)
			}
		}, warn: "older than the image"},
		{name: "other size", change: func(t *testing.T, img string) {
			if err := os.Truncate(img, 9<<20); err != nil {
				t.Fatal(err)
			}
			earlier := time.Now().Add(-time.Minute)
			if err := os.Chtimes(img, earlier, earlier); err != nil {
				t.Fatal(err)
			}
		}, warn: "describes a 8388608-byte image"},
		{name: "older but named", change: func(t *testing.T, img string) {
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(img, later, later); err != nil {
				t.Fatal(err)
			}
		}, explicit: true, wantMap: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, _ := makeImage(t, t.TempDir())
			sourcetest.Run(t, "", "bmaptool", "create", "-o", img+".bmap", img)
			tc.change(t, img)
			want, err := os.ReadFile(img)
			if err != nil {
				t.Fatal(err)
			}
			path := img
			if tc.explicit {
				path = img + ".bmap"
			}
			src, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if got := strings.Contains(string(src.Format()), "bmap"); got != tc.wantMap {
				t.Fatalf("format %s, map used %v, want %v", src.Format(), got, tc.wantMap)
			}
			warns := strings.Join(src.(Warner).Warnings(), "\n")
			if (tc.warn == "") != (warns == "") || !strings.Contains(warns, tc.warn) {
				t.Fatalf("warnings %q, want one with %q", warns, tc.warn)
			}
			if p := src.(Pather).Paths(); tc.wantMap != (len(p) == 2) {
				t.Fatalf("paths %v", p)
			}
			if tc.wantMap {
				return
			}
			got, _ := expand(t, src)
			if !bytes.Equal(got, want) {
				t.Fatal("the expanded image differs from the file")
			}
		})
	}
}

// TestEmptyImage checks that a 0-byte image is called empty.
func TestEmptyImage(t *testing.T) {
	p := t.TempDir() + "/empty.img"
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, open := range []func(string) error{
		func(p string) error {
			s, err := Open(p)
			if err == nil {
				s.Close()
			}
			return err
		},
		func(p string) error { _, err := Inspect(p); return err },
	} {
		err := open(p)
		if err == nil || !strings.Contains(err.Error(), "empty") {
			t.Fatalf("error %v, want one saying the image is empty", err)
		}
	}
}
