// Package sourcetest builds the same image in every format flash/source
// reads, for the tests of the source and of the writer.
package sourcetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zip"

	"github.com/pistudio/pistudio/flash/sparse"
)

// Run runs a command, feeding it stdin, and returns its trimmed output;
// the test is skipped when the command is not installed and fails when
// the command does.
func Run(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Variants writes the raw image img (whose bytes are data) into dir in
// every format and returns their paths by name: raw, xz (multi-block),
// gzip, zstd, zip, sparse (img2simg), xz+sparse, bmap (a copy with real
// holes and its block map), xz+bmap, and sparse-dontcare (holes as
// DONT_CARE chunks and a CRC32 chunk, as genimage writes them).
func Variants(t testing.TB, dir, img string, data []byte) map[string]string {
	t.Helper()
	v := map[string]string{"raw": img}
	cp := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	Run(t, "", "xz", "-k", "-T2", "--block-size=1MiB", cp("x.img"))
	v["xz"] = filepath.Join(dir, "x.img.xz")
	Run(t, "", "gzip", "-k", cp("g.img"))
	v["gzip"] = filepath.Join(dir, "g.img.gz")
	Run(t, "", "zstd", "-q", cp("z.img"))
	v["zstd"] = filepath.Join(dir, "z.img.zst")
	ZipFile(t, filepath.Join(dir, "a.zip"), map[string][]byte{"inner.img": data})
	v["zip"] = filepath.Join(dir, "a.zip")
	Run(t, "", "img2simg", cp("s.img"), filepath.Join(dir, "s.sparse"))
	v["sparse"] = filepath.Join(dir, "s.sparse")
	Run(t, "", "xz", "-k", filepath.Join(dir, "s.sparse"))
	v["xz+sparse"] = filepath.Join(dir, "s.sparse.xz")
	bm := filepath.Join(dir, "b.img")
	Run(t, "", "cp", "--sparse=always", img, bm)
	Run(t, "", "bmaptool", "create", "-o", filepath.Join(dir, "b.img.bmap"), bm)
	v["bmap"] = bm
	Run(t, "", "xz", "-k", "-T2", bm)
	v["xz+bmap"] = bm + ".xz"
	hf, err := os.Open(bm)
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	var sb bytes.Buffer
	if err := sparse.WriteFile(&sb, hf, sparse.WriteOptions{CRC: true}); err != nil {
		t.Fatal(err)
	}
	dc := filepath.Join(dir, "dc.simg")
	if err := os.WriteFile(dc, sb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	v["sparse-dontcare"] = dc
	return v
}

// ZipFile writes a zip archive at dst holding files (name → contents).
func ZipFile(t testing.TB, dst string, files map[string][]byte) {
	t.Helper()
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, data := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
