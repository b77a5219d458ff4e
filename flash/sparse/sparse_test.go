package sparse

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// img assembles a sparse image by hand for tests.
type img struct {
	bs, totalBlks, totalChunks uint32
	major, fileHdr, chunkHdr   uint16
	magic                      uint32
	body                       bytes.Buffer
	n                          uint32
}

func newImg(bs, totalBlks uint32) *img {
	return &img{bs: bs, totalBlks: totalBlks, major: 1, fileHdr: 28, chunkHdr: 12, magic: Magic}
}

func (m *img) chunk(t ChunkType, blocks uint32, body []byte) *img {
	return m.chunkTotal(t, blocks, uint32(12+len(body)), body)
}

func (m *img) chunkTotal(t ChunkType, blocks, total uint32, body []byte) *img {
	var h [12]byte
	binary.LittleEndian.PutUint16(h[0:], uint16(t))
	binary.LittleEndian.PutUint32(h[4:], blocks)
	binary.LittleEndian.PutUint32(h[8:], total)
	m.body.Write(h[:])
	m.body.Write(body)
	m.n++
	return m
}

func word(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func (m *img) bytes() []byte {
	chunks := m.totalChunks
	if chunks == 0 {
		chunks = m.n
	}
	var h [28]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], m.magic)
	le.PutUint16(h[4:], m.major)
	le.PutUint16(h[8:], m.fileHdr)
	le.PutUint16(h[10:], m.chunkHdr)
	le.PutUint32(h[12:], m.bs)
	le.PutUint32(h[16:], m.totalBlks)
	le.PutUint32(h[20:], chunks)
	return append(h[:], m.body.Bytes()...)
}

// memWriterAt is an io.WriterAt over a growing byte slice.
type memWriterAt struct{ b []byte }

func (m *memWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.b)) {
		m.b = append(m.b, make([]byte, end-int64(len(m.b)))...)
	}
	copy(m.b[off:], p)
	return len(p), nil
}

func expandBytes(t testing.TB, sparse []byte) []byte {
	t.Helper()
	sr, err := NewReader(bytes.NewReader(sparse))
	if err != nil {
		t.Fatal(err)
	}
	w := &memWriterAt{b: make([]byte, sr.Size())}
	if _, err := expandFrom(w, sr); err != nil {
		t.Fatal(err)
	}
	return w.b
}

func TestCRCHelpers(t *testing.T) {
	seed := []byte("hello sparse")
	base := crc32.ChecksumIEEE(seed)
	for _, n := range []int64{0, 1, 3, 4, 4096, 12345, 1 << 20} {
		want := crc32.ChecksumIEEE(append(append([]byte(nil), seed...), make([]byte, n)...))
		if got := crcZeros(base, n); got != want {
			t.Errorf("crcZeros(%d) = %#x, want %#x", n, got, want)
		}
		pat := make([]byte, 4*n)
		for i := int64(0); i < n; i++ {
			binary.LittleEndian.PutUint32(pat[4*i:], 0xdeadbeef)
		}
		want = crc32.ChecksumIEEE(append(append([]byte(nil), seed...), pat...))
		if got := crcRepeat(base, 0xdeadbeef, n); got != want {
			t.Errorf("crcRepeat(%d) = %#x, want %#x", n, got, want)
		}
	}
}

// holeyFile writes a file of size bytes with data only at the given
// offsets (each a run of random bytes), the rest holes.
func holeyFile(t testing.TB, dir string, size int64, runs []Extent) (string, []byte) {
	t.Helper()
	p := filepath.Join(dir, "src.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range runs {
		b := make([]byte, r.Len)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(b, r.Off); err != nil {
			t.Fatal(err)
		}
		copy(want[r.Off:], b)
	}
	return p, want
}

func writeSparse(t testing.TB, src string, opts WriteOptions) []byte {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if err := WriteFile(&out, f, opts); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func chunkTypes(t testing.TB, b []byte) map[ChunkType]int {
	t.Helper()
	sr, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got := map[ChunkType]int{}
	for {
		c, _, err := sr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got[c.Type]++
	}
}

var roundTrips = []struct {
	name string
	size int64
	runs []Extent
}{
	{"empty", 0, nil},
	{"all-hole", 8 << 20, nil},
	{"dense-small", 10000, []Extent{{0, 10000}}},
	{"unaligned-tail", 3<<20 + 123, []Extent{{0, 5000}, {3 << 20, 123}}},
	{"scattered", 150 << 20, []Extent{{4096, 1 << 20}, {40 << 20, 70 << 20}, {149 << 20, 1 << 20}}},
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTrips {
		for _, crc := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				src, want := holeyFile(t, t.TempDir(), tc.size, tc.runs)
				sp := writeSparse(t, src, WriteOptions{CRC: crc})
				if !IsSparse(sp) {
					t.Fatal("IsSparse is false for our own output")
				}
				got := expandBytes(t, sp)
				// The expanded image is padded to whole blocks.
				if int64(len(got)) != (tc.size+4095)/4096*4096 {
					t.Fatalf("expanded size %d for a %d-byte source", len(got), tc.size)
				}
				if !bytes.Equal(got[:tc.size], want) || bytes.ContainsFunc(got[tc.size:], func(r rune) bool { return r != 0 }) {
					t.Fatal("expanded image differs from the source")
				}
				types := chunkTypes(t, sp)
				if tc.size > 0 && len(tc.runs) != 1 && types[DontCare] == 0 {
					t.Errorf("no DONT_CARE chunk for a holey file: %v", types)
				}
				// Holes are not stored: the sparse file is about the data's size.
				var data int64
				for _, r := range tc.runs {
					data += r.Len
				}
				if int64(len(sp)) > data+int64(len(tc.runs)+2)*(2*4096)+int64(len(sp))/1000+1024 {
					t.Errorf("sparse file is %d bytes for %d bytes of data", len(sp), data)
				}
			})
		}
	}
}

func TestSimg2imgExpandsOurOutput(t *testing.T) {
	if _, err := exec.LookPath("simg2img"); err != nil {
		t.Skip("simg2img not installed (android-sdk-libsparse-utils)")
	}
	for _, tc := range roundTrips[1:] {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src, _ := holeyFile(t, dir, tc.size, tc.runs)
			sp := filepath.Join(dir, "out.sparse")
			if err := os.WriteFile(sp, writeSparse(t, src, WriteOptions{CRC: true}), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out.img")
			if b, err := exec.Command("simg2img", sp, out).CombinedOutput(); err != nil {
				t.Fatalf("simg2img: %v: %s", err, b)
			}
			want, _ := os.ReadFile(src)
			got, _ := os.ReadFile(out)
			pad := (int64(len(want))+4095)/4096*4096 - int64(len(want))
			want = append(want, make([]byte, pad)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("simg2img output (%d bytes) differs from the source (%d bytes)", len(got), len(want))
			}
		})
	}
}

func TestReadImg2simgOutput(t *testing.T) {
	if _, err := exec.LookPath("img2simg"); err != nil {
		t.Skip("img2simg not installed (android-sdk-libsparse-utils)")
	}
	dir := t.TempDir()
	// Zero-filled (not holey) ranges: img2simg turns them into FILL chunks.
	want := make([]byte, 6<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 1 << 20; i < 2<<20; i++ {
		want[i] = byte(rng.Uint32())
	}
	for i := 4 << 20; i < 5<<20; i += 4 {
		binary.LittleEndian.PutUint32(want[i:], 0x5a5a1234)
	}
	src := filepath.Join(dir, "in.img")
	if err := os.WriteFile(src, want, 0o644); err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, "in.sparse")
	if b, err := exec.Command("img2simg", src, sp).CombinedOutput(); err != nil {
		t.Fatalf("img2simg: %v: %s", err, b)
	}
	b, err := os.ReadFile(sp)
	if err != nil {
		t.Fatal(err)
	}
	if types := chunkTypes(t, b); types[Fill] == 0 || types[Raw] == 0 {
		t.Errorf("expected RAW and FILL chunks from img2simg, got %v", types)
	}
	f, err := os.Create(filepath.Join(dir, "out.img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Expand(f, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, want) {
		t.Fatal("expanded img2simg output differs from its input")
	}
}

// TestGenimageStyle reads an image laid out as genimage writes one:
// RAW and DONT_CARE chunks and a trailing CRC32 chunk over all of it.
func TestGenimageStyle(t *testing.T) {
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 1024) // two 4 KiB blocks
	want := append(append(append([]byte(nil), data...), make([]byte, 3*4096)...), data[:4096]...)
	m := newImg(4096, 6).
		chunk(Raw, 2, data).
		chunk(DontCare, 3, nil).
		chunk(Raw, 1, data[:4096]).
		chunk(CRC32, 0, word(crc32.ChecksumIEEE(want)))
	got := expandBytes(t, m.bytes())
	if !bytes.Equal(got, want) {
		t.Fatal("expanded genimage-style image differs")
	}
	// A CRC32 chunk in the middle checks the data so far.
	m = newImg(4096, 3).
		chunk(Raw, 1, data[:4096]).
		chunk(CRC32, 0, word(crc32.ChecksumIEEE(data[:4096]))).
		chunk(Fill, 2, word(0))
	if got := expandBytes(t, m.bytes()); !bytes.Equal(got, append(data[:4096:4096], make([]byte, 8192)...)) {
		t.Fatal("mid-stream CRC image expanded wrongly")
	}
}

func TestChunksAndUnconsumedRaw(t *testing.T) {
	a := bytes.Repeat([]byte{0xaa}, 4096)
	b := bytes.Repeat([]byte{0xbb}, 8192)
	m := newImg(4096, 8).chunk(Raw, 1, a).chunk(Fill, 2, word(0x01020304)).chunk(DontCare, 1, nil).chunk(Raw, 2, b)
	sr, err := NewReader(bytes.NewReader(m.bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if sr.Size() != 8*4096 || sr.Header().TotalChunks != 4 {
		t.Fatalf("header: %+v size %d", sr.Header(), sr.Size())
	}
	want := []Chunk{
		{Raw, 0, 4096, 0},
		{Fill, 4096, 8192, 0x01020304},
		{DontCare, 3 * 4096, 4096, 0},
		{Raw, 4 * 4096, 8192, 0},
		{DontCare, 6 * 4096, 2 * 4096, 0}, // blocks the chunks leave out
	}
	for i, w := range want {
		c, rd, err := sr.Next()
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if c != w {
			t.Fatalf("chunk %d = %+v, want %+v", i, c, w)
		}
		switch {
		case i == 1:
			got, _ := io.ReadAll(rd)
			if len(got) != 8192 || !bytes.Equal(got[:8], []byte{4, 3, 2, 1, 4, 3, 2, 1}) {
				t.Fatalf("fill reader gave %d bytes starting %x", len(got), got[:8])
			}
		case i == 3:
			got, _ := io.ReadAll(rd)
			if !bytes.Equal(got, b) {
				t.Fatal("second RAW chunk data wrong (first was skipped unread)")
			}
		case c.Type == DontCare && rd != nil:
			t.Fatal("DontCare chunk came with a reader")
		}
	}
	if _, _, err := sr.Next(); err != io.EOF {
		t.Fatalf("after last chunk: %v, want io.EOF", err)
	}
}

func TestRejects(t *testing.T) {
	blk := make([]byte, 4096)
	cases := []struct {
		name string
		img  []byte
	}{
		{"bad magic", func() []byte { m := newImg(4096, 1).chunk(Raw, 1, blk); m.magic = 0x12345678; return m.bytes() }()},
		{"major 2", func() []byte { m := newImg(4096, 1).chunk(Raw, 1, blk); m.major = 2; return m.bytes() }()},
		{"file header 32", func() []byte { m := newImg(4096, 1).chunk(Raw, 1, blk); m.fileHdr = 32; return m.bytes() }()},
		{"chunk header 16", func() []byte { m := newImg(4096, 1).chunk(Raw, 1, blk); m.chunkHdr = 16; return m.bytes() }()},
		{"block size 0", newImg(0, 1).bytes()},
		{"block size 4098", newImg(4098, 1).bytes()},
		{"short header", newImg(4096, 1).bytes()[:20]},
		{"chunk past total_blks", newImg(4096, 1).chunk(Raw, 1, blk).chunk(DontCare, 1, nil).bytes()},
		{"raw past total_blks", newImg(4096, 1).chunk(Raw, 2, append(blk, blk...)).bytes()},
		{"total_sz overruns file", newImg(4096, 2).chunkTotal(Raw, 2, 12+8192, blk).bytes()},
		{"raw total_sz mismatch", newImg(4096, 1).chunkTotal(Raw, 1, 12+4000, blk[:4000]).bytes()},
		{"fill total_sz mismatch", newImg(4096, 1).chunkTotal(Fill, 1, 20, make([]byte, 8)).bytes()},
		{"dont_care with body", newImg(4096, 1).chunkTotal(DontCare, 1, 16, make([]byte, 4)).bytes()},
		{"unknown chunk type", newImg(4096, 1).chunk(0xCAC5, 1, nil).bytes()},
		{"too few chunks", func() []byte { m := newImg(4096, 2).chunk(Raw, 1, blk); m.totalChunks = 2; return m.bytes() }()},
		{"too many chunks", func() []byte {
			m := newImg(4096, 2).chunk(Raw, 1, blk).chunk(DontCare, 1, nil)
			m.totalChunks = 1
			return m.bytes()
		}()},
		{"truncated raw", newImg(4096, 1).chunk(Raw, 1, blk).bytes()[:28+12+100]},
		{"truncated fill", newImg(4096, 1).chunk(Fill, 1, word(7)).bytes()[:28+12+2]},
		{"crc mismatch", newImg(4096, 1).chunk(Raw, 1, blk).chunk(CRC32, 0, word(1)).bytes()},
		{"crc with blocks", newImg(4096, 2).chunk(Raw, 1, blk).chunk(CRC32, 1, word(crc32.ChecksumIEEE(blk))).bytes()},
		{"huge size", newImg(0x80000000, 0xFFFFFFFF).bytes()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Expand(&memWriterAt{}, bytes.NewReader(tc.img))
			if err == nil {
				t.Fatal("accepted")
			}
			var fe *FormatError
			if !errors.Is(err, ErrFormat) || !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(tc.img)) {
				t.Errorf("offset %d outside the %d-byte file", fe.Offset, len(tc.img))
			}
			t.Log(err)
		})
	}
}

func TestIsSparse(t *testing.T) {
	good := newImg(4096, 0).bytes()
	if !IsSparse(good) {
		t.Error("IsSparse(valid header) = false")
	}
	for _, b := range [][]byte{nil, good[:27], make([]byte, 28), bytes.Repeat([]byte{0x3a}, 64)} {
		if IsSparse(b) {
			t.Errorf("IsSparse(%x) = true", b)
		}
	}
}

func FuzzReader(f *testing.F) {
	blk := bytes.Repeat([]byte{9}, 512)
	f.Add(newImg(512, 4).chunk(Raw, 1, blk).chunk(Fill, 1, word(5)).chunk(DontCare, 2, nil).bytes())
	f.Add(newImg(512, 2).chunk(Raw, 1, blk).chunk(CRC32, 0, word(crc32.ChecksumIEEE(blk))).chunk(DontCare, 1, nil).bytes())
	f.Add(newImg(4096, 1).bytes())
	f.Add([]byte("not a sparse image at all, just some bytes"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := NewReader(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("header error %v is not ErrFormat", err)
			}
			return
		}
		var end int64
		for i := 0; ; i++ {
			c, rd, err := sr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("error %v is not ErrFormat", err)
				}
				return
			}
			if c.Offset != end || c.Length < 0 || c.Offset+c.Length > sr.Size() {
				t.Fatalf("chunk %d %+v out of order or range (size %d)", i, c, sr.Size())
			}
			end = c.Offset + c.Length
			if c.Type == Raw && i%2 == 0 {
				n, _ := io.Copy(io.Discard, rd)
				if n > c.Length {
					t.Fatalf("raw reader gave %d > %d bytes", n, c.Length)
				}
			}
		}
		if end != sr.Size() {
			t.Fatalf("chunks end at %d, size %d", end, sr.Size())
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	// 64 MiB image: 16 MiB of data in RAW chunks, the rest DONT_CARE.
	dir := b.TempDir()
	src, _ := holeyFile(b, dir, 64<<20, []Extent{{0, 8 << 20}, {32 << 20, 8 << 20}})
	sp := writeSparse(b, src, WriteOptions{CRC: true})
	out, err := os.Create(filepath.Join(dir, "out.img"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	b.SetBytes(16 << 20)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Expand(out, bytes.NewReader(sp)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadChunks(b *testing.B) {
	src, _ := holeyFile(b, b.TempDir(), 64<<20, []Extent{{0, 16 << 20}})
	sp := writeSparse(b, src, WriteOptions{})
	b.SetBytes(16 << 20)
	for b.Loop() {
		sr, err := NewReader(bytes.NewReader(sp))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, rd, err := sr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if rd != nil {
				io.Copy(io.Discard, rd)
			}
		}
	}
}

func TestZeroDataBecomesFill(t *testing.T) {
	dir := t.TempDir()
	src, want := holeyFile(t, dir, 8<<20, []Extent{{0, 1 << 20}, {3 << 20, 1 << 20}})
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Written zeros (data, not a hole) between the two random runs.
	if _, err := f.WriteAt(make([]byte, 2<<20), 1<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sp := writeSparse(t, src, WriteOptions{CRC: true})
	sr, err := NewReader(bytes.NewReader(sp))
	if err != nil {
		t.Fatal(err)
	}
	var got []Chunk
	for {
		c, _, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	wantChunks := []Chunk{{Raw, 0, 1 << 20, 0}, {Fill, 1 << 20, 2 << 20, 0}, {Raw, 3 << 20, 1 << 20, 0}, {DontCare, 4 << 20, 4 << 20, 0}}
	if len(got) != len(wantChunks) {
		t.Fatalf("chunks %+v, want %+v", got, wantChunks)
	}
	for i := range got {
		if got[i] != wantChunks[i] {
			t.Errorf("chunk %d = %+v, want %+v", i, got[i], wantChunks[i])
		}
	}
	if !bytes.Equal(expandBytes(t, sp), want) {
		t.Fatal("expanded image differs")
	}
	if len(sp) > 2<<20+4096 {
		t.Errorf("sparse file is %d bytes for 2 MiB of non-zero data", len(sp))
	}
}

func BenchmarkWriteFile(b *testing.B) {
	// 64 MiB file: 16 MiB of random data, 8 MiB of written zeros, holes.
	src, _ := holeyFile(b, b.TempDir(), 64<<20, []Extent{{0, 16 << 20}})
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	f.WriteAt(make([]byte, 8<<20), 32<<20)
	defer f.Close()
	b.SetBytes(24 << 20)
	for b.Loop() {
		if err := WriteFile(io.Discard, f, WriteOptions{CRC: true}); err != nil {
			b.Fatal(err)
		}
	}
}
