package source

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/source/sourcetest"
	"github.com/pistudio/pistudio/flash/sparse"
)

// resetMeasures forgets every measure.
func resetMeasures() {
	measures.Lock()
	measures.m, measures.order = nil, nil
	measures.Unlock()
}

// unsizedImages writes data as images whose containers do not record the
// expanded size: gzip, zstd from a pipe, and a gzipped Android sparse
// image with DONT_CARE holes.
func unsizedImages(t *testing.T, dir string, data []byte) map[string]string {
	t.Helper()
	p := filepath.Join(dir, "d.img")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, "", "gzip", "-k", "-f", p)
	sourcetest.Run(t, "", "sh", "-c", "cat "+p+" | zstd -q -f -c > "+p+".zst")
	// The sparse image keeps the holes of a file with real holes.
	holey := filepath.Join(dir, "h.img")
	sourcetest.Run(t, "", "cp", "--sparse=always", p, holey)
	f, err := os.Open(holey)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sb bytes.Buffer
	if err := sparse.WriteFile(&sb, f, sparse.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, "s.simg")
	if err := os.WriteFile(sp, sb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, "", "gzip", "-k", "-f", sp)
	return map[string]string{"gzip": p + ".gz", "zstd without size": p + ".zst", "gzip+sparse": sp + ".gz"}
}

func testData(size int) []byte {
	data := make([]byte, size)
	rand.Read(data[:size/4])
	rand.Read(data[size/2 : size/2+size/8])
	return data
}

func TestMeasureOncePerFileVersion(t *testing.T) {
	dir := t.TempDir()
	data := testData(6 << 20)
	for name, p := range unsizedImages(t, dir, data) {
		t.Run(name, func(t *testing.T) {
			resetMeasures()
			before := decodePasses.Load()
			info, err := Inspect(p)
			if err != nil {
				t.Fatal(err)
			}
			if n := decodePasses.Load() - before; n != 1 {
				t.Fatalf("Inspect made %d decoding passes, want 1", n)
			}
			m, ok := Measured(p)
			if !ok || m.Size != info.Size || m.DataSize != info.DataSize {
				t.Fatalf("Measured = %+v, %v; Inspect said size %d, data %d", m, ok, info.Size, info.DataSize)
			}
			src, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			if n := decodePasses.Load() - before; n != 1 {
				t.Errorf("opening again made %d more decoding passes, want none", n-1)
			}
			if src.Size() != int64(len(data)) || src.DataSize() != info.DataSize {
				t.Errorf("size %d, data %d; want %d, %d", src.Size(), src.DataSize(), len(data), info.DataSize)
			}
			got, written := expand(t, src)
			src.Close()
			if !bytes.Equal(got, data) || written != info.DataSize {
				t.Errorf("content differs or %d data bytes, want %d", written, info.DataSize)
			}
		})
	}
	// A new version of a file is measured anew.
	resetMeasures()
	bigger := testData(7 << 20)
	imgs := unsizedImages(t, dir, data)
	if _, err := Inspect(imgs["gzip"]); err != nil {
		t.Fatal(err)
	}
	unsizedImages(t, dir, bigger) // rewrites the same names
	before := decodePasses.Load()
	src, err := Open(imgs["gzip"])
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if decodePasses.Load() == before {
		t.Error("a rewritten file was not measured again")
	}
	if src.Size() != int64(len(bigger)) {
		t.Errorf("size %d after the rewrite, want %d", src.Size(), len(bigger))
	}
}

func TestRemember(t *testing.T) {
	dir := t.TempDir()
	data := testData(4 << 20)
	p := unsizedImages(t, dir, data)["gzip"]
	resetMeasures()
	if _, err := Inspect(p); err != nil {
		t.Fatal(err)
	}
	m, ok := Measured(p)
	if !ok {
		t.Fatal("no measure after Inspect")
	}
	open := func() *os.File {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	cases := []struct {
		name string
		edit func(*Measure)
		ok   bool
	}{
		{"as measured", func(*Measure) {}, true},
		{"another version", func(m *Measure) { m.Key.CtimeNs++ }, false},
		{"another file", func(m *Measure) { m.Key.Ino++ }, false},
		{"more data than size", func(m *Measure) { m.DataSize = m.Size + 1 }, false},
		{"negative", func(m *Measure) { m.Size, m.DataSize = -1, -1 }, false},
		{"empty", func(m *Measure) { m.Size, m.DataSize = 0, 0 }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resetMeasures()
			mm := m
			c.edit(&mm)
			if got := Remember(open(), mm); got != c.ok {
				t.Fatalf("Remember = %v, want %v", got, c.ok)
			}
			before := decodePasses.Load()
			src, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if skipped := decodePasses.Load() == before; skipped != c.ok {
				t.Errorf("decoding pass skipped = %v, want %v", skipped, c.ok)
			}
			if src.Size() != int64(len(data)) {
				t.Errorf("size %d, want %d", src.Size(), len(data))
			}
		})
	}
	// A measure that lies about the size is caught while reading: the
	// stream does not end where the measure says.
	resetMeasures()
	lie := m
	lie.Size -= 4096
	lie.DataSize = lie.Size
	if !Remember(open(), lie) {
		t.Fatal("Remember refused a measure naming the file")
	}
	src, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := drain(src); err == nil || !strings.Contains(err.Error(), "past its recorded size") {
		t.Errorf("reading with a short measure: %v, want an error about data past the size", err)
	}
}
