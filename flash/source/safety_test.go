package source

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

// TestGzipMultiMemberSize: a small gzip file of several members (cat
// a.gz b.gz) expands to all members; its trailer names only the last.
func TestGzipMultiMemberSize(t *testing.T) {
	data := make([]byte, 4<<20)
	rand.Read(data[:64<<10])
	rand.Read(data[3<<20 : 3<<20+4096])
	var gz bytes.Buffer
	for _, part := range [][]byte{data[:3<<20], data[3<<20:]} {
		zw := gzip.NewWriter(&gz)
		zw.Write(part)
		zw.Close()
	}
	p := filepath.Join(t.TempDir(), "two.img.gz")
	if err := os.WriteFile(p, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Size() != int64(len(data)) {
		t.Fatalf("size %d, want %d (both members)", src.Size(), len(data))
	}
	got, _ := expand(t, src)
	if !bytes.Equal(got, data) {
		t.Error("content differs")
	}
}

// TestBmapPathsNameTheImage: opened through its .bmap, a source names the
// image data file (and the map) as the files it reads.
func TestBmapPathsNameTheImage(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir)
	sourcetest.Run(t, "", "bmaptool", "create", "-o", img+".bmap", img)
	for _, open := range []string{img + ".bmap", img} {
		src, err := Open(open)
		if err != nil {
			t.Fatal(err)
		}
		if src.Format() != Bmap {
			t.Errorf("%s: format %s", open, src.Format())
		}
		want := []string{img, img + ".bmap"}
		if got := src.(Pather).Paths(); !slices.Equal(got, want) {
			t.Errorf("%s: Paths() = %q, want %q", open, got, want)
		}
		if got := src.(interface{ Path() string }).Path(); got != img {
			t.Errorf("%s: Path() = %q, want the image %q", open, got, img)
		}
		got, _ := expand(t, src)
		if !bytes.Equal(got[:len(data)], data) {
			t.Errorf("%s: content differs", open)
		}
		src.Close()
	}
}

// TestOpenFileReadsNoPath: a source built from opened files reads them
// even after their names are gone, and Reopen reads the same file.
func TestOpenFileReadsNoPath(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir)
	sourcetest.Run(t, "", "bmaptool", "create", "-o", img+".bmap", img)
	var opened []string
	files, err := Locate(img+".bmap", func(p string) (*os.File, error) {
		opened = append(opened, p)
		return os.Open(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	if files.ImagePath != img || files.BmapPath != img+".bmap" || !slices.Contains(opened, img) {
		t.Fatalf("Locate: %+v (opened %q)", files, opened)
	}
	// The names now point elsewhere: nothing may be read by path.
	os.Rename(img, img+".moved")
	os.WriteFile(img, []byte("not the image"), 0o644)
	os.Remove(img + ".bmap")
	src, err := OpenFiles(context.Background(), files)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, _ := expand(t, src)
	if !bytes.Equal(got[:len(data)], data) || src.Format() != Bmap {
		t.Fatal("OpenFiles read something else than the opened files")
	}
	again, err := src.(Reopener).Reopen()
	if err != nil {
		t.Fatal(err)
	}
	got, _ = expand(t, again)
	again.Close()
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("Reopen read something else than the opened file")
	}
	// Locate propagates the open function's refusal of the image.
	_, err = Locate(img+".moved", func(string) (*os.File, error) { return nil, fs.ErrPermission })
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Locate with a refusing open: %v", err)
	}
	// OpenFile takes a plain file.
	f, _ := os.Open(img + ".moved")
	s2, err := OpenFile(context.Background(), f, "moved.img", nil)
	if err != nil || s2.Size() != int64(len(data)) || s2.Format() != Raw {
		t.Fatalf("OpenFile: %v", err)
	}
	s2.Close()
}
