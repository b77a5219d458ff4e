package source

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
)

// drainBounded reads a source like a writer would, stopping after limit
// bytes, and checks the Source contract on the way.
func drainBounded(t *testing.T, src Source, limit int64) {
	var last, n int64
	buf := make([]byte, 64<<10)
	for n < limit {
		e, r, err := src.Next()
		if err != nil {
			return
		}
		if e.Offset < last || e.Length < 0 || e.End() > src.Size() {
			t.Fatalf("extent %+v breaks the contract (last end %d, size %d)", e, last, src.Size())
		}
		last = e.End()
		for n < limit {
			m, err := r.Read(buf)
			n += int64(m)
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return
			}
		}
	}
}

// watchdog fails the fuzz run loudly when one input takes too long.
func watchdog() func() bool {
	return time.AfterFunc(5*time.Second, func() {
		buf := make([]byte, 1<<20)
		panic("fuzz input hangs:\n" + string(buf[:runtime.Stack(buf, true)]))
	}).Stop
}

func fuzzOpen(t *testing.T, name string, data []byte) {
	defer watchdog()()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := Open(p)
	if err != nil {
		return
	}
	defer src.Close()
	if src.Size() < 0 || src.DataSize() < 0 || src.DataSize() > src.Size() && src.Format() != Raw {
		t.Fatalf("sizes %d / %d", src.Size(), src.DataSize())
	}
	drainBounded(t, src, 8<<20)
}

func sparseSeed(chunks ...[]byte) []byte {
	h := []byte{0x3A, 0xFF, 0x26, 0xED, 1, 0, 0, 0, 28, 0, 12, 0, 0, 0x10, 0, 0, 4, 0, 0, 0, byte(len(chunks)), 0, 0, 0, 0, 0, 0, 0}
	for _, c := range chunks {
		h = append(h, c...)
	}
	return h
}

func FuzzSparseSource(f *testing.F) {
	raw := append([]byte{0xC1, 0xCA, 0, 0, 1, 0, 0, 0, 12, 0x10, 0, 0}, bytes.Repeat([]byte{7}, 4096)...)
	fill := []byte{0xC2, 0xCA, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 1, 2, 3, 4}
	dc := []byte{0xC3, 0xCA, 0, 0, 1, 0, 0, 0, 12, 0, 0, 0}
	f.Add(sparseSeed(raw, fill, dc))
	f.Add(sparseSeed(dc, dc))
	f.Add(sparseSeed(fill))
	f.Add([]byte{0x3A, 0xFF, 0x26, 0xED})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOpen(t, "f.sparse", data) })
}

func FuzzZipSource(f *testing.F) {
	for _, files := range []map[string][]byte{
		{"a.img": bytes.Repeat([]byte{1, 2, 3}, 1000)},
		{"a.img": []byte("x"), "b.img": []byte("y")},
		{"dir/": nil, "__MACOSX/._a": []byte("m"), "a.img": make([]byte, 5000)},
	} {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for n, d := range files {
			w, _ := zw.Create(n)
			w.Write(d)
		}
		zw.Close()
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzOpen(t, "f.zip", data) })
}

const bmapSeed = `<?xml version="1.0" ?>
<bmap version="2.0">
    <ImageSize> 10000 </ImageSize>
    <BlockSize> 4096 </BlockSize>
    <BlocksCount> 3 </BlocksCount>
    <MappedBlocksCount> 2 </MappedBlocksCount>
    <ChecksumType> sha256 </ChecksumType>
    <BlockMap>
        <Range chksum="ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7"> 0 </Range>
        <Range> 2 </Range>
    </BlockMap>
</bmap>`

func FuzzBmap(f *testing.F) {
	f.Add([]byte(bmapSeed))
	f.Add([]byte(`<bmap version="1.4"><ImageSize>1</ImageSize><BlockSize>1</BlockSize><BlocksCount>1</BlocksCount><BlockMap><Range sha1="da39a3ee5e6b4b0d3255bfef95601890afd80709">0-0</Range></BlockMap></bmap>`))
	f.Add([]byte(`<bmap><ImageSize>5</ImageSize><BlockSize>0</BlockSize></bmap>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseBmap(data)
		if err != nil {
			return
		}
		next := int64(0)
		for _, r := range m.Ranges {
			e := m.Extent(r)
			if r.First < next || e.Offset < 0 || e.Length <= 0 || e.End() > m.ImageSize {
				t.Fatalf("range %+v (extent %+v) breaks the map's bounds (image %d)", r, e, m.ImageSize)
			}
			next = r.Last + 1
		}
		if m.ImageSize > 1<<20 {
			return
		}
		img := bytes.Repeat([]byte{0}, int(m.ImageSize))
		src := newBmapSource(&base{format: Bmap}, bytes.NewReader(img), m)
		drainBounded(t, src, 4<<20)
	})
}

func FuzzXZSize(f *testing.F) {
	f.Add([]byte{0xFD, '7', 'z', 'X', 'Z', 0, 0, 4, 0xE6, 0xD6, 0xB4, 0x46, 0, 0, 0, 0, 0x1C, 0xDF, 0x44, 0x21, 0x1F, 0xB6, 0xF3, 0x7D, 1, 0, 0, 0, 0, 4, 'Y', 'Z'})
	f.Add([]byte("YZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := XZSize(bytes.NewReader(data), int64(len(data)))
		if err == nil && n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}

func FuzzZstdSize(f *testing.F) {
	f.Add([]byte{0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x03, 0x19, 0, 0, 'a', 'b', 'c'})
	f.Add([]byte{0x50, 0x2A, 0x4D, 0x18, 1, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ZstdSize(bytes.NewReader(data), int64(len(data)))
		if err == nil && n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}

func FuzzInspect(f *testing.F) {
	mbr := make([]byte, 64<<10)
	copy(mbr[446:], []byte{0x80, 0, 0, 0, 0x0c, 0, 0, 0, 0x10, 0, 0, 0, 0x40, 0, 0, 0})
	mbr[510], mbr[511] = 0x55, 0xAA
	f.Add(mbr)
	gpt := bytes.Clone(mbr)
	gpt[446+4] = 0xee
	copy(gpt[512:], "EFI PART")
	f.Add(gpt)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog()()
		p := filepath.Join(t.TempDir(), "f.img")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := Inspect(p)
		if err != nil {
			return
		}
		for _, part := range info.Partitions {
			if part.Index < 1 {
				t.Fatalf("partition %+v", part)
			}
		}
	})
}

func FuzzProbeFS(f *testing.F) {
	b := make([]byte, 8192)
	b[510], b[511] = 0x55, 0xAA
	copy(b[0x52:], "FAT32   ")
	f.Add(b)
	e := make([]byte, 8192)
	e[1024+0x38], e[1024+0x39] = 0x53, 0xEF
	f.Add(e)
	if fs, _ := probeFS(b); fs != "vfat" {
		f.Fatalf("FAT32 boot sector probed as %q", fs)
	}
	if fs, _ := probeFS(e); fs != "ext2/3" {
		f.Fatalf("ext superblock probed as %q", fs)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, label := probeFS(data)
		if fs == "" && label != "" {
			t.Fatalf("label %q without a filesystem", label)
		}
	})
}
