package flash

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zip"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/sparse"
)

// makeImage writes a size-byte image with an MBR, some random data and
// holes, and returns its path and bytes.
func makeImage(t testing.TB, dir string, size int64) (string, []byte) {
	t.Helper()
	p := filepath.Join(dir, "test.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{1<<20 + 4096, size / 2, size/2 + 300000, size - 70000} {
		b := make([]byte, 65536)
		rand.Read(b)
		if _, err := f.WriteAt(b[:min(int64(len(b)), size-off)], off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	run(t, "label: dos\nstart=2048, type=83\n", "sfdisk", "--quiet", p)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, data
}

func run(t testing.TB, stdin string, name string, args ...string) string {
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

// variants builds every source format from the raw image.
func variants(t testing.TB, dir, img string, data []byte) map[string]string {
	t.Helper()
	v := map[string]string{"raw": img}
	cp := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run(t, "", "xz", "-k", "-T2", cp("x.img"))
	v["xz"] = filepath.Join(dir, "x.img.xz")
	run(t, "", "gzip", "-k", cp("g.img"))
	v["gzip"] = filepath.Join(dir, "g.img.gz")
	run(t, "", "zstd", "-q", cp("z.img"))
	v["zstd"] = filepath.Join(dir, "z.img.zst")
	zf, err := os.Create(filepath.Join(dir, "a.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	w, _ := zw.Create("inner.img")
	w.Write(data)
	zw.Close()
	zf.Close()
	v["zip"] = filepath.Join(dir, "a.zip")
	run(t, "", "img2simg", cp("s.img"), filepath.Join(dir, "s.sparse"))
	v["sparse"] = filepath.Join(dir, "s.sparse")
	bm := filepath.Join(dir, "b.img")
	run(t, "", "cp", "--sparse=always", img, bm)
	run(t, "", "bmaptool", "create", "-o", filepath.Join(dir, "b.img.bmap"), bm)
	v["bmap"] = bm
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
	run(t, "", "xz", "-k", "-T2", bm)
	v["xz+bmap"] = bm + ".xz"
	return v
}

// needRoot skips tests that need root (losetup, mount).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for losetup")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup not installed")
	}
}

// newLoop attaches a loop device over a new size-byte file filled with
// fill, detached at cleanup. It returns the device and the backing file.
func newLoop(t testing.TB, size int64, fill byte, partscan bool) (string, string) {
	t.Helper()
	needRoot(t)
	backing := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(backing, bytes.Repeat([]byte{fill}, int(size)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", "--show"}
	if partscan {
		args = append(args, "-P")
	}
	dev := run(t, "", "losetup", append(args, backing)...)
	if !strings.HasPrefix(dev, "/dev/loop") {
		t.Fatalf("losetup gave %q", dev)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v\n%s", dev, err, out)
		}
	})
	return dev, backing
}

// identity returns the identity of the loop device as the disk list has it.
func identity(t testing.TB, dev string) disk.Identity {
	t.Helper()
	d, err := disk.CheckPath(dev)
	if err != nil {
		t.Fatalf("CheckPath(%s): %v", dev, err)
	}
	return d.Identity()
}
