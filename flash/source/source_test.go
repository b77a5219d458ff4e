package source

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

// makeImage writes an 8 MiB image with an MBR (a FAT32 partition at 1 MiB
// labelled BOOT when mkfs.vfat is present, and a second partition), some
// random data and holes, and returns its path and bytes.
func makeImage(t testing.TB, dir string) (string, []byte) {
	t.Helper()
	p := filepath.Join(dir, "test.img")
	const size = 8 << 20
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{5 << 20, 6<<20 + 12345, size - 70000} {
		b := make([]byte, 65536)
		rand.Read(b)
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	sourcetest.Run(t, "label: dos\nstart=2048, size=6144, type=c\nstart=8192, type=83\n", "sfdisk", "--quiet", p)
	if _, err := exec.LookPath("mkfs.vfat"); err == nil {
		sourcetest.Run(t, "", "mkfs.vfat", "-F", "32", "-s", "1", "-n", "BOOT", "--offset", "2048", p, "3072")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, data
}

// expand reads a source into memory: data ranges at their offsets, zeros
// elsewhere.
func expand(t testing.TB, src Source) ([]byte, int64) {
	t.Helper()
	out := make([]byte, src.Size())
	var data, last int64
	for {
		e, r, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if e.Offset < last || e.End() > src.Size() {
			t.Fatalf("extent %+v out of order (last end %d, size %d)", e, last, src.Size())
		}
		if _, err := io.ReadFull(r, out[e.Offset:e.End()]); err != nil {
			t.Fatalf("reading extent %+v: %v", e, err)
		}
		if n, err := r.Read(make([]byte, 1)); n != 0 || (err != nil && !errors.Is(err, io.EOF)) {
			t.Fatalf("extent %+v: trailing read gave %d, %v", e, n, err)
		}
		last = e.End()
		data += e.Length
	}
	return out, data
}

func TestOpenFormats(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir)
	for name, p := range sourcetest.Variants(t, dir, img, data) {
		t.Run(name, func(t *testing.T) {
			src, err := Open(p)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer src.Close()
			if want, _, _ := strings.Cut(name, "-"); string(src.Format()) != want {
				t.Errorf("format %q, want %q", src.Format(), name)
			}
			if src.Size() != int64(len(data)) {
				t.Fatalf("size %d, want %d", src.Size(), len(data))
			}
			got, n := expand(t, src)
			if !bytes.Equal(got, data) {
				t.Fatalf("expanded image differs")
			}
			if n != src.DataSize() {
				t.Errorf("yielded %d data bytes, DataSize says %d", n, src.DataSize())
			}
			if (name == "bmap" || name == "sparse-dontcare") && n >= int64(len(data)) {
				t.Errorf("%s wrote %d bytes: holes were not skipped", name, n)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir)
	two := filepath.Join(dir, "two.zip")
	sourcetest.ZipFile(t, two, map[string][]byte{"a.img": data[:4096], "b.img": data[:4096]})
	empty := filepath.Join(dir, "empty.zip")
	sourcetest.ZipFile(t, empty, map[string][]byte{})
	trunc := filepath.Join(dir, "t.img.xz")
	sourcetest.Run(t, "", "sh", "-c", "xz -c "+img+" | head -c 100000 > "+trunc)
	badgz := filepath.Join(dir, "bad.img.gz")
	sourcetest.Run(t, "", "sh", "-c", "gzip -c "+img+" > "+badgz)
	gz, _ := os.ReadFile(badgz)
	gz[len(gz)-8] ^= 0xff // CRC32 in the trailer
	os.WriteFile(badgz, gz, 0o644)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"zip with two images", two, "a.img, b.img"},
		{"empty zip", empty, "no image"},
		{"truncated xz", trunc, "xz"},
		{"gzip checksum", badgz, "checksum"},
		{"missing", filepath.Join(dir, "nope.img"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(tc.path)
			if err == nil {
				_, err = drain(src)
				src.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func drain(src Source) (int64, error) {
	var n int64
	for {
		_, r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		m, err := io.Copy(io.Discard, r)
		n += m
		if err != nil {
			return n, err
		}
	}
}

func TestBmapChecksumMismatch(t *testing.T) {
	dir := t.TempDir()
	img, _ := makeImage(t, dir)
	sourcetest.Run(t, "", "bmaptool", "create", "-o", img+".bmap", img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xAB}, 5<<20+7) // inside a mapped range
	f.Close()
	// Named explicitly, the (now older) map is used and its checksums
	// catch the change.
	src, err := Open(img + ".bmap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = drain(src)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a *ChecksumError", err)
	}
	if ce.Extent.Offset > 5<<20+7 || ce.Extent.End() <= 5<<20+7 {
		t.Errorf("range %s %+v does not hold the changed byte", ce.Range, ce.Extent)
	}
}

func TestDetectByMagicNotExtension(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir)
	sourcetest.Run(t, "", "sh", "-c", "zstd -q -c "+img+" > "+filepath.Join(dir, "misnamed.img"))
	src, err := Open(filepath.Join(dir, "misnamed.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Format() != Zstd {
		t.Fatalf("format %s, want zstd", src.Format())
	}
	if got, _ := expand(t, src); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir)
	for name, p := range sourcetest.Variants(t, dir, img, data) {
		t.Run(name, func(t *testing.T) {
			info, err := Inspect(p)
			if err != nil {
				t.Fatal(err)
			}
			if info.Table != "mbr" || len(info.Partitions) != 2 {
				t.Fatalf("table %q partitions %+v", info.Table, info.Partitions)
			}
			p1, p2 := info.Partitions[0], info.Partitions[1]
			if p1.Index != 1 || p1.Start != 1<<20 || p1.Size != 3<<20 || p1.Type != "0x0c" {
				t.Errorf("partition 1: %+v", p1)
			}
			if p2.Index != 2 || p2.Start != 4<<20 || p2.Type != "0x83" {
				t.Errorf("partition 2: %+v", p2)
			}
			if p1.Filesystem != "vfat" || p1.Label != "BOOT" {
				t.Errorf("partition 1 filesystem %q label %q, want vfat BOOT", p1.Filesystem, p1.Label)
			}
			if info.Size != int64(len(data)) {
				t.Errorf("size %d", info.Size)
			}
		})
	}
}

func TestXZSizeMultiStream(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	os.WriteFile(a, bytes.Repeat([]byte("abc"), 100000), 0o644)
	sourcetest.Run(t, "", "sh", "-c", "xz -c "+a+" > "+a+".xz && xz -c "+a+" >> "+a+".xz && head -c 8 /dev/zero >> "+a+".xz")
	f, err := os.Open(a + ".xz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	n, err := XZSize(f, st.Size())
	if err != nil || n != 600000 {
		t.Fatalf("XZSize = %d, %v; want 600000", n, err)
	}
}

func TestInspectGPT(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gpt.img")
	if err := os.WriteFile(p, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, "label: gpt\nstart=2048, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp\nstart=6144, size=8192, type=A19D880F-05FC-4D3B-A006-743F0F84911E\n", "sfdisk", "--quiet", p)
	info, err := Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Table != "gpt" || len(info.Partitions) != 2 {
		t.Fatalf("table %q partitions %+v", info.Table, info.Partitions)
	}
	p1, p2 := info.Partitions[0], info.Partitions[1]
	if p1.Start != 1<<20 || p1.Size != 2<<20 || p1.TypeName != "EFI System" || p1.Name != "esp" {
		t.Errorf("partition 1: %+v", p1)
	}
	if p2.Index != 2 || p2.Start != 3<<20 || p2.TypeName != "Linux RAID" {
		t.Errorf("partition 2: %+v", p2)
	}
}

func TestSizeByDecoding(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 6<<20)
	rand.Read(data[:5<<20]) // incompressible: the .gz passes the ISIZE limit
	p := filepath.Join(dir, "d.img")
	os.WriteFile(p, data, 0o644)
	sourcetest.Run(t, "", "gzip", "-k", p)
	// zstd reading a pipe does not know the size: no content size.
	sourcetest.Run(t, "", "sh", "-c", "cat "+p+" | zstd -q -c > "+p+".zst")
	for _, name := range []string{p + ".gz", p + ".zst"} {
		src, err := Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if src.Size() != int64(len(data)) {
			t.Errorf("%s: size %d, want %d", name, src.Size(), len(data))
		}
		if w := src.(Warner).Warnings(); len(w) == 0 || !strings.Contains(w[0], "decoding") {
			t.Errorf("%s: warnings %q, want one about the decoding pass", name, w)
		}
		got, _ := expand(t, src)
		if !bytes.Equal(got, data) {
			t.Errorf("%s: content differs", name)
		}
		src.Close()
	}
}
