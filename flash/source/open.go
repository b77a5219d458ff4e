package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/pistudio/pistudio/flash/sparse"
)

// decoded is one pass over the expanded bytes of a compressed file.
type decoded struct {
	r     io.Reader
	close func() error
}

// decoderFunc starts a fresh decoding pass from the beginning of the file.
type decoderFunc func() (decoded, error)

// gzipExactLimit is the compressed size below which a gzip trailer's
// ISIZE cannot have wrapped (deflate expands at most ~1032:1); above it
// the size pre-pass is worth a warning.
const gzipExactLimit = (4 << 30) / 1032

// openFile builds the source for f. The source closes f when owned is
// set; on error the caller closes f.
func (o *opener) openFile(f *os.File, fsize int64, format Format, bm *BlockMap, imgPath, bmapPath string, owned bool) (_ Source, err error) {
	b := &base{format: format, path: imgPath, bmapPath: bmapPath, file: f, bm: bm, ctx: o.ctx, prepare: o.prepare, warnings: o.warnings}
	if owned {
		b.closers = append(b.closers, f.Close)
	}
	defer func() {
		if err != nil {
			if owned {
				b.closers[0] = nil // the caller closes f
			}
			b.Close() // stops a decoder already started
		}
	}()
	switch format {
	case Raw:
		return openRaw(b, f, fsize, bm)
	case Sparse:
		return openSparse(b, f, fsize, bm)
	}
	dec, sizeFn, err := o.decoderFor(b, f, fsize, format)
	if err != nil {
		return nil, err
	}
	d, err := dec()
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, d.close)
	br := bufio.NewReaderSize(d.r, 1<<20)
	d.r = br
	peek, err := br.Peek(sparse.FileHeaderSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding %s: %w", format, err)
	}
	if sparse.IsSparse(peek) {
		b.format = format + "+" + Sparse
		return o.newSparse(b, d, dec)
	}
	if bm != nil {
		b.format = format + "+" + Bmap
		return newBmapSource(b, &exactReader{r: br, remain: bm.ImageSize, size: bm.ImageSize}, bm), nil
	}
	size, err := sizeFn()
	if err != nil {
		return nil, err
	}
	return &rawSource{base: b, r: &exactReader{r: br, remain: size, size: size}, size: size}, nil
}

// openRaw opens an uncompressed raw image, through its block map when
// there is one.
func openRaw(b *base, f *os.File, fsize int64, bm *BlockMap) (Source, error) {
	sec := io.NewSectionReader(f, 0, fsize)
	if bm == nil {
		return &rawSource{base: b, r: sec, size: fsize}, nil
	}
	if bm.ImageSize != fsize {
		return nil, formatErrorf("image is %d bytes but its block map says %d", fsize, bm.ImageSize)
	}
	b.format = Bmap
	return newBmapSource(b, sec, bm), nil
}

// openSparse opens an uncompressed Android sparse image: the chunk
// headers give the data size and validate the layout without reading the
// data; CRC32 values are checked by the streaming pass before the first
// MiB is written.
func openSparse(b *base, f *os.File, fsize int64, bm *BlockMap) (Source, error) {
	if bm != nil {
		b.warn("the block map beside a sparse image is ignored")
	}
	_, data, err := sparse.ScanHeaders(f, fsize)
	if err != nil {
		return nil, err
	}
	sr, err := sparse.NewReader(io.NewSectionReader(f, 0, fsize))
	if err != nil {
		return nil, err
	}
	return &sparseSource{base: b, sr: sr, dataSize: data}, nil
}

// decoderFor returns how to decode a compressed image and how to find
// its expanded size.
func (o *opener) decoderFor(b *base, f *os.File, fsize int64, format Format) (decoderFunc, func() (int64, error), error) {
	switch format {
	case XZ:
		return xzDecoder(f, fsize, o.prepare), func() (int64, error) { return XZSize(f, fsize) }, nil
	case Gzip:
		dec := gzipDecoder(f, fsize)
		return dec, func() (int64, error) {
			// The trailer's ISIZE is the size of the last member only, and
			// modulo 4 GiB: the bytes are always counted.
			if fsize >= gzipExactLimit {
				b.warn("gzip keeps the image size only modulo 4 GiB: the size was found by decoding the file once")
			}
			return o.measuredSize(dec)
		}, nil
	case Zstd:
		dec := zstdDecoder(f, fsize, o.prepare)
		return dec, func() (int64, error) {
			n, err := ZstdSize(f, fsize)
			if errors.Is(err, errNoContentSize) {
				b.warn("a zstd frame does not record its size: the size was found by decoding the file once")
				return o.measuredSize(dec)
			}
			return n, err
		}, nil
	case Zip:
		return zipDecoder(f, fsize)
	}
	return nil, nil, fmt.Errorf("unsupported format %s", format)
}

// gzipDecoder decodes a gzip file (every member).
func gzipDecoder(f *os.File, fsize int64) decoderFunc {
	return func() (decoded, error) {
		zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, 0, fsize), 1<<20))
		if err != nil {
			return decoded{}, formatErrorf("gzip: %v", err)
		}
		return decoded{r: &formatReader{r: zr, name: "gzip"}, close: zr.Close}, nil
	}
}

// zipDecoder decodes the image entry of a zip file, whose size the
// central directory records.
func zipDecoder(f *os.File, fsize int64) (decoderFunc, func() (int64, error), error) {
	zf, err := pickZipEntry(f, fsize)
	if err != nil {
		return nil, nil, err
	}
	dec := func() (decoded, error) {
		rc, err := zf.Open()
		if err != nil {
			return decoded{}, fmt.Errorf("zip entry %s: %w", zf.Name, err)
		}
		return decoded{r: &formatReader{r: rc, name: "zip"}, close: rc.Close}, nil
	}
	size := func() (int64, error) {
		if zf.UncompressedSize64 > 1<<52 {
			return 0, formatErrorf("zip entry %s claims %d bytes", zf.Name, zf.UncompressedSize64)
		}
		return int64(zf.UncompressedSize64), nil
	}
	return dec, size, nil
}

// measuredSize returns the expanded size of a raw image in a container
// that does not record it: measured earlier for this version of the
// file, or now by decoding it once.
func (o *opener) measuredSize(dec decoderFunc) (int64, error) {
	if o.keyed {
		if m, ok := lookupMeasure(o.key); ok && m.DataSize == m.Size {
			return m.Size, nil
		}
	}
	n, err := o.countPass(dec)
	if err == nil {
		o.remember(Measure{Size: n, DataSize: n})
	}
	return n, err
}

// remember keeps what a decoding pass found for the file's version, if
// the file is still that version after the pass.
func (o *opener) remember(m Measure) {
	if !o.keyed {
		return
	}
	if k, ok := keyOfFile(o.file); !ok || k != o.key {
		return
	}
	m.Key = o.key
	storeMeasure(m)
}

// countPass decodes the file once and counts the expanded bytes.
func (o *opener) countPass(dec decoderFunc) (int64, error) {
	decodePasses.Add(1)
	d, err := dec()
	if err != nil {
		return 0, err
	}
	if d.close != nil {
		defer d.close()
	}
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := o.ctx.Err(); err != nil {
			return 0, err
		}
		m, err := d.r.Read(buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("decoding to find the image size: %w", err)
		}
	}
}

// xzDecoder decodes with the xz program when present, else in Go.
func xzDecoder(f *os.File, fsize int64, prepare func(*exec.Cmd)) decoderFunc {
	return func() (decoded, error) {
		if p, err := lookPath("xz"); err == nil {
			return startXZ(p, io.NewSectionReader(f, 0, fsize), prepare)
		}
		zr, err := xz.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, 0, fsize), 1<<20))
		if err != nil {
			return decoded{}, formatErrorf("xz: %v", err)
		}
		return decoded{r: &formatReader{r: zr, name: "xz"}}, nil
	}
}

// lookPath finds the decoding programs (tests hide them).
var lookPath = exec.LookPath

// zstdDecoder decodes with the zstd program when present (it needs less
// than half the CPU of the Go decoder on the zero runs images are full
// of, CPU the write itself competes for), else in Go. Both accept windows
// up to 2 GiB.
func zstdDecoder(f *os.File, fsize int64, prepare func(*exec.Cmd)) decoderFunc {
	return func() (decoded, error) {
		if p, err := lookPath("zstd"); err == nil {
			return startZstd(p, io.NewSectionReader(f, 0, fsize), prepare)
		}
		zr, err := zstd.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, 0, fsize), 1<<20),
			zstd.WithDecoderMaxWindow(1<<31), zstd.WithDecoderLowmem(false))
		if err != nil {
			return decoded{}, formatErrorf("zstd: %v", err)
		}
		return decoded{r: &formatReader{r: zr, name: "zstd"}, close: func() error { zr.Close(); return nil }}, nil
	}
}

func startXZ(path string, in io.Reader, prepare func(*exec.Cmd)) (decoded, error) {
	return startProc("xz", in, prepare, path, "-dc", "-T0")
}

func startZstd(path string, in io.Reader, prepare func(*exec.Cmd)) (decoded, error) {
	return startProc("zstd", in, prepare, path, "-dcq", "--no-progress", "--memory=2048MB")
}

// formatReader marks what a Go decoder finds wrong with its input (a bad
// checksum, a truncated stream) as ErrFormat naming the format; errors
// reading the file itself pass unchanged.
type formatReader struct {
	r    io.Reader
	name string
}

func (f *formatReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, ErrFormat) {
		return n, err
	}
	var pe *fs.PathError
	var errno syscall.Errno
	if errors.As(err, &pe) || errors.As(err, &errno) {
		return n, err
	}
	if msg := err.Error(); strings.HasPrefix(msg, f.name+":") {
		return n, formatErrorf("%s", msg)
	}
	return n, formatErrorf("%s: %v", f.name, err)
}

// decProc is a decoding child process (`xz -dc`, `zstd -dc`) reading in
// on its stdin; its exit status is reported at EOF.
type decProc struct {
	name     string
	cmd      *exec.Cmd
	out      *os.File
	stderr   strings.Builder
	stopping atomic.Bool // Close killed the process
	waitOnce sync.Once
	err      error // set by wait
}

// startProc starts the decoding program path; prepare, if set, adjusts
// its command first (see Files.Decoder).
func startProc(name string, in io.Reader, prepare func(*exec.Cmd), path string, args ...string) (decoded, error) {
	p := &decProc{name: name, cmd: exec.Command(path, args...)}
	if prepare != nil {
		prepare(p.cmd)
	}
	p.cmd.Stdin = in
	p.cmd.Stderr = &p.stderr
	r, w, err := os.Pipe()
	if err != nil {
		return decoded{}, fmt.Errorf("starting %s: %w", name, err)
	}
	growPipe(r)
	p.cmd.Stdout = w
	p.out = r
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return decoded{}, fmt.Errorf("starting %s: %w", name, err)
	}
	return decoded{r: p, close: p.Close}, nil
}

func (p *decProc) Read(b []byte) (int, error) {
	n, err := p.out.Read(b)
	if errors.Is(err, io.EOF) {
		if werr := p.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// wait reaps the process once, whoever asks first (a read at EOF, or
// Close while a read is still running).
func (p *decProc) wait() error {
	p.waitOnce.Do(func() {
		err := p.cmd.Wait()
		switch {
		case p.stopping.Load():
			p.err = fmt.Errorf("%s was stopped", p.name)
		case err != nil:
			p.err = formatErrorf("%s: %v: %s", p.name, err, strings.TrimSpace(p.stderr.String()))
		}
	})
	return p.err
}

// Close stops the process if it is still running and reaps it.
func (p *decProc) Close() error {
	p.stopping.Store(true)
	_ = p.cmd.Process.Kill() // fails harmlessly once it has exited
	_ = p.wait()
	return p.out.Close()
}

// pickZipEntry returns the only image inside a zip archive.
func pickZipEntry(f io.ReaderAt, fsize int64) (*zip.File, error) {
	zr, err := zip.NewReader(f, fsize)
	if err != nil {
		return nil, formatErrorf("zip: %v", err)
	}
	var files []*zip.File
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
		if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") {
			continue
		}
		files = append(files, zf)
	}
	sort.Strings(names)
	switch len(files) {
	case 1:
		return files[0], nil
	case 0:
		return nil, formatErrorf("zip archive holds no image (entries: %s)", listNames(names))
	}
	return nil, formatErrorf("zip archive holds %d files, expected exactly one image (entries: %s)", len(files), listNames(names))
}

func listNames(n []string) string {
	if len(n) == 0 {
		return "none"
	}
	if len(n) > 20 {
		return strings.Join(n[:20], ", ") + fmt.Sprintf(", … %d more", len(n)-20)
	}
	return strings.Join(n, ", ")
}

// base carries what every source shares.
type base struct {
	format   Format
	path     string // the image data file
	bmapPath string // its block map, if any
	file     *os.File
	bm       *BlockMap
	ctx      context.Context
	prepare  func(*exec.Cmd) // adjusts decoding programs (Files.Decoder)
	warnings []string
	closers  []func() error
}

func (b *base) warn(s string) { b.warnings = append(b.warnings, s) }

// Format implements Source.
func (b *base) Format() Format { return b.format }

// Warnings implements Warner.
func (b *base) Warnings() []string { return append([]string(nil), b.warnings...) }

// Reopen implements Reopener: the new source reads the same opened file
// (never the path again) and is valid while b is open.
func (b *base) Reopen() (Source, error) {
	if b.file == nil || len(b.closers) == 0 {
		return nil, errors.New("reopening image: the source is closed")
	}
	o := &opener{ctx: b.ctx, prepare: b.prepare}
	return o.fromFile(b.file, b.path, b.bm, b.bmapPath, false)
}

// Close implements Source.
func (b *base) Close() error {
	var first error
	for i := len(b.closers) - 1; i >= 0; i-- {
		if c := b.closers[i]; c != nil {
			if err := c(); err != nil && first == nil {
				first = err
			}
		}
	}
	b.closers = nil
	return first
}

// rawSource is one extent covering the whole image.
type rawSource struct {
	*base
	r    io.Reader
	size int64
	done bool
}

func (s *rawSource) Size() int64     { return s.size }
func (s *rawSource) DataSize() int64 { return s.size }

func (s *rawSource) Next() (Extent, io.Reader, error) {
	if s.done || s.size == 0 {
		return Extent{}, nil, io.EOF
	}
	s.done = true
	return Extent{0, s.size}, s.r, nil
}

// exactReader yields exactly size bytes of r and checks that r ends there.
type exactReader struct {
	r      io.Reader
	remain int64
	size   int64
	err    error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.remain == 0 {
		var b [1]byte
		for i := 0; i < 100; i++ {
			n, err := e.r.Read(b[:])
			if n > 0 {
				e.err = formatErrorf("image data continues past its recorded size of %d bytes", e.size)
				return 0, e.err
			}
			if errors.Is(err, io.EOF) {
				e.err = io.EOF
				return 0, io.EOF
			}
			if err != nil {
				e.err = err
				return 0, err
			}
		}
		return 0, io.ErrNoProgress
	}
	if int64(len(p)) > e.remain {
		p = p[:e.remain]
	}
	n, err := e.r.Read(p)
	e.remain -= int64(n)
	if errors.Is(err, io.EOF) {
		if e.remain > 0 {
			e.err = formatErrorf("image data ends at byte %d, before its recorded size of %d bytes: %v", e.size-e.remain, e.size, io.ErrUnexpectedEOF)
			return n, e.err
		}
		err = nil
	}
	if err != nil {
		e.err = err
	}
	return n, err
}

// sparseSource walks an Android sparse image.
type sparseSource struct {
	*base
	sr       *sparse.Reader
	dataSize int64
}

func (o *opener) newSparse(b *base, d decoded, again decoderFunc) (Source, error) {
	sr, err := sparse.NewReader(d.r)
	if err != nil {
		return nil, err
	}
	if o.keyed {
		if m, ok := lookupMeasure(o.key); ok && m.Size == sr.Size() {
			return &sparseSource{base: b, sr: sr, dataSize: m.DataSize}, nil
		}
	}
	// A pre-pass counts the data bytes and validates every chunk before
	// anything is written (once per version of the file: see Measure).
	decodePasses.Add(1)
	p, err := again()
	if err != nil {
		return nil, err
	}
	if p.close != nil {
		defer p.close()
	}
	if p.r == d.r {
		return nil, errors.New("sparse pre-pass needs a separate reader")
	}
	pr, err := sparse.NewReader(p.r)
	if err != nil {
		return nil, err
	}
	var data int64
	for {
		if err := o.ctx.Err(); err != nil {
			return nil, err
		}
		c, _, err := pr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if c.Type != sparse.DontCare {
			data += c.Length
		}
	}
	o.remember(Measure{Size: sr.Size(), DataSize: data})
	return &sparseSource{base: b, sr: sr, dataSize: data}, nil
}

func (s *sparseSource) Size() int64     { return s.sr.Size() }
func (s *sparseSource) DataSize() int64 { return s.dataSize }

func (s *sparseSource) Next() (Extent, io.Reader, error) {
	for {
		c, r, err := s.sr.Next()
		if err != nil {
			return Extent{}, nil, err
		}
		if c.Type == sparse.DontCare || c.Length == 0 || r == nil {
			continue
		}
		if c.Type == sparse.Fill && c.Fill == 0 {
			return Extent{c.Offset, c.Length}, &zeroReader{r: r}, nil
		}
		return Extent{c.Offset, c.Length}, r, nil
	}
}

// zeroReader is the reader of a FILL chunk of zeros.
type zeroReader struct{ r io.Reader }

func (z *zeroReader) Read(p []byte) (int, error) { return z.r.Read(p) }

// AllZeros implements Zeros.
func (z *zeroReader) AllZeros() bool { return true }

// Path returns the image data file the source reads (for a source opened
// through its .bmap, the image beside the map).
func (b *base) Path() string { return b.path }

// Paths implements Pather: the image data file and its block map.
func (b *base) Paths() []string {
	if b.bmapPath != "" {
		return []string{b.path, b.bmapPath}
	}
	return []string{b.path}
}
