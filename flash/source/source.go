// Package source opens disk images in the formats people download or
// build — raw, Android sparse, xz, gzip, zstd, zip and raw with a bmaptool
// block map — and presents each as a stream of data ranges of the expanded
// image. Everything is streamed: nothing is decompressed to a temporary
// file, and the expanded size is known before the first byte is written.
//
// How the expanded size is found without writing:
//   - raw: the file size; with a .bmap beside it: the map's ImageSize.
//   - Android sparse: the file header (total blocks × block size).
//   - xz: the stream index at the end of the file (every stream of a
//     multi-stream file is summed).
//   - zstd: the frame content size of every frame, walking the block
//     headers from frame to frame; a frame without a content size makes
//     Open decode the file once (a pre-pass, ~500 MiB/s).
//   - zip: the entry's uncompressed size in the central directory.
//   - gzip: the trailer keeps only the size of the last member, modulo
//     4 GiB (ISIZE), so Open always decodes the file once to count the
//     bytes (~190 MiB/s), and warns that it did when the file is large
//     enough for ISIZE to have wrapped.
//
// xz is decoded by the xz program (`xz -dc -T0`) when it is on PATH — it
// decodes at ~110 MiB/s on two cores against ~26 MiB/s for the pure Go
// decoder, which is slower than a USB 3 disk — and by
// github.com/ulikunitz/xz otherwise. zstd likewise by the zstd program
// when present (it needs less than half the CPU of the Go decoder), and
// by github.com/klauspost/compress otherwise.
//
// A size found by decoding is kept for that version of the file (see
// Measure), so that opening the image again in the same process, as a
// write after Inspect does, does not decode it once more.
//
// A block map found beside an image is used only when it is not older
// than the image and, for a raw image, names the image's size; otherwise
// it is ignored with a warning and the whole image is read. A map named
// explicitly (its path given instead of the image's) is always used.
//
// Every reader returned by Next yields exactly the extent's Length bytes;
// a stream that turns out longer or shorter than its recorded size, a
// failed container checksum, or a bmap range whose checksum does not match
// is an error from that reader.
package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Format names the container and content of an image file.
type Format string

// Formats Open recognises. A compressed file holding an Android sparse
// image or described by a block map reports a compound format such as
// "xz+sparse" or "gzip+bmap".
const (
	Raw    Format = "raw"
	Sparse Format = "sparse"
	Bmap   Format = "bmap"
	XZ     Format = "xz"
	Gzip   Format = "gzip"
	Zstd   Format = "zstd"
	Zip    Format = "zip"
)

// Extent is a range of the expanded image: Length bytes from Offset.
type Extent struct {
	// Offset is the byte offset in the expanded image.
	Offset int64
	// Length is the number of bytes.
	Length int64
}

// End returns the offset just past the extent.
func (e Extent) End() int64 { return e.Offset + e.Length }

// Source is an opened image.
type Source interface {
	// Format names the image format.
	Format() Format
	// Size is the expanded image size in bytes, known before writing.
	Size() int64
	// DataSize is the number of bytes Next will yield in total: the bytes
	// that will be written.
	DataSize() int64
	// Next returns the next data range and a reader yielding exactly its
	// Length bytes. Ranges ascend and do not overlap; bytes outside them
	// are not written. At the end Next returns io.EOF. A reader left
	// unconsumed is skipped by the following Next.
	Next() (Extent, io.Reader, error)
	// Close releases the file and any decoder.
	Close() error
}

// Zeros is implemented by the reader of an extent that holds only zero
// bytes (an Android sparse FILL chunk of zeros): a writer may zero the
// range on the target (a device's write-zeroes) instead of copying it.
// Reading it still yields the zeros.
type Zeros interface {
	io.Reader
	// AllZeros reports whether every byte of the extent is zero.
	AllZeros() bool
}

// Reopener is implemented by sources that can open a fresh copy of
// themselves, positioned at the start (every Source Open returns does).
// The writer uses it to find the exact byte of a verify mismatch.
type Reopener interface {
	Reopen() (Source, error)
}

// Warner is implemented by sources that have something to tell the user
// about how they were read (for example a size found by a decoding pass).
type Warner interface {
	Warnings() []string
}

// ErrEmpty is matched (errors.Is) by the error for an image file of 0
// bytes.
var ErrEmpty = errors.New("the image is empty (0 bytes)")

// ErrFormat is matched (errors.Is) by errors about malformed image files.
var ErrFormat = errors.New("malformed image")

// formatErrorf returns an error wrapping ErrFormat.
func formatErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

var (
	magicXZ     = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}
	magicGzip   = []byte{0x1F, 0x8B}
	magicZstd   = []byte{0x28, 0xB5, 0x2F, 0xFD}
	magicZip    = []byte{'P', 'K', 0x03, 0x04}
	magicZipEnd = []byte{'P', 'K', 0x05, 0x06}
	magicSparse = []byte{0x3A, 0xFF, 0x26, 0xED}
)

// Detect names the container format of the file whose first bytes are
// head, by magic bytes alone: Raw when nothing matches.
func Detect(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, magicXZ):
		return XZ
	case bytes.HasPrefix(head, magicGzip):
		return Gzip
	case bytes.HasPrefix(head, magicZstd):
		return Zstd
	case bytes.HasPrefix(head, magicZip), bytes.HasPrefix(head, magicZipEnd):
		return Zip
	case bytes.HasPrefix(head, magicSparse):
		return Sparse
	}
	return Raw
}

// Open opens the image at path, detecting its format by magic bytes.
// A path naming a .bmap file opens the image beside it with that map; an
// image with a "NAME.bmap" beside it (for "NAME", "NAME.xz", …) is opened
// with its map.
func Open(path string) (Source, error) {
	return OpenContext(context.Background(), path)
}

// OpenContext is Open with a context that cancels a size pre-pass.
func OpenContext(ctx context.Context, path string) (Source, error) {
	fs, err := Locate(path, nil)
	if err != nil {
		return nil, err
	}
	return OpenFiles(ctx, fs)
}

// Pather is implemented by sources that know the files they read: the
// image data file first, then its block map if there is one. A writer
// refuses to write onto any of them.
type Pather interface {
	Paths() []string
}

// Files are an opened image file and its optional block map, as Locate
// finds them.
type Files struct {
	// Image is the image data file and ImagePath its name.
	Image     *os.File
	ImagePath string
	// Bmap is the block map (nil when there is none) and BmapPath its name.
	Bmap     *os.File
	BmapPath string
	// BmapFound is set when Locate found the map beside the image rather
	// than being given its path: such a map is used only if it is not
	// older than the image and, for a raw image, describes the image's
	// size; otherwise it is ignored with a warning.
	BmapFound bool
	// Decoder, if set, adjusts the command of a decoding program (xz,
	// zstd) before it starts: the privileged helper runs them as the
	// user the image belongs to.
	Decoder func(*exec.Cmd)
}

// Close closes the files.
func (fs *Files) Close() error {
	var err error
	if fs.Bmap != nil {
		err = fs.Bmap.Close()
	}
	if fs.Image != nil {
		if e := fs.Image.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Locate resolves path as Open does — a .bmap path names the image beside
// it; an image may have a map beside it — and opens every file it uses
// with open (os.Open when nil), so that a caller acting for another user
// opens them with that user's permissions. Each file must be a regular
// file. Errors from open for the image itself are returned wrapped; a map
// candidate that open refuses is skipped.
func Locate(path string, open func(name string) (*os.File, error)) (*Files, error) {
	if open == nil {
		open = os.Open
	}
	openReg := func(p string) (*os.File, error) {
		f, err := open(p)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !st.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("%s: not a regular file", p)
		}
		return f, nil
	}
	fs := &Files{}
	if strings.HasSuffix(path, ".bmap") {
		m, err := openReg(path)
		if err != nil {
			return nil, fmt.Errorf("opening block map: %w", err)
		}
		fs.Bmap, fs.BmapPath = m, path
		base := strings.TrimSuffix(path, ".bmap")
		for _, ext := range []string{"", ".img", ".xz", ".gz", ".zst"} {
			if f, err := openReg(base + ext); err == nil {
				fs.Image, fs.ImagePath = f, base+ext
				return fs, nil
			}
		}
		m.Close()
		return nil, fmt.Errorf("block map %s: no image beside it (looked for %s)", path, base)
	}
	f, err := openReg(path)
	if err != nil {
		return nil, fmt.Errorf("opening image: %w", err)
	}
	fs.Image, fs.ImagePath = f, path
	base := path
	for _, ext := range []string{".xz", ".gz", ".zst"} {
		base = strings.TrimSuffix(base, ext)
	}
	cands := []string{base + ".bmap"}
	if b := strings.TrimSuffix(base, filepath.Ext(base)); b != base {
		cands = append(cands, b+".bmap")
	}
	for _, c := range cands {
		if m, err := openReg(c); err == nil {
			fs.Bmap, fs.BmapPath, fs.BmapFound = m, c, true
			break
		}
	}
	return fs, nil
}

// OpenFile opens the image in the already opened file f (named name in
// messages and by Paths), with the block map in bmap when it is not nil.
// Nothing is opened by path: a privileged caller opens the files with the
// user's permissions and hands them over. The source takes ownership of
// f and bmap (Close closes them, also when OpenFile fails).
func OpenFile(ctx context.Context, f *os.File, name string, bmap *os.File) (Source, error) {
	fs := &Files{Image: f, ImagePath: name, Bmap: bmap}
	if bmap != nil {
		fs.BmapPath = bmap.Name()
	}
	return OpenFiles(ctx, fs)
}

// OpenFiles is OpenFile for the files Locate returned. It takes ownership
// of them (they are closed with the source, or when OpenFiles fails).
func OpenFiles(ctx context.Context, fs *Files) (Source, error) {
	if fs == nil || fs.Image == nil {
		return nil, errors.New("opening image: no file")
	}
	var bm *BlockMap
	var warns []string
	if fs.Bmap != nil && fs.BmapFound {
		if why := staleMap(fs); why != "" {
			warns = append(warns, fmt.Sprintf("the block map %s was ignored: %s; the whole image is written (name the map itself to use it)", fs.BmapPath, why))
			fs.Bmap.Close()
			fs.Bmap, fs.BmapPath = nil, ""
		}
	}
	if fs.Bmap != nil {
		data, err := io.ReadAll(io.LimitReader(fs.Bmap, 64<<20))
		fs.Bmap.Close()
		fs.Bmap = nil
		if err != nil {
			fs.Image.Close()
			return nil, fmt.Errorf("reading block map %s: %w", fs.BmapPath, err)
		}
		if bm, err = ParseBmap(data); err != nil {
			fs.Image.Close()
			return nil, fmt.Errorf("block map %s: %w", fs.BmapPath, err)
		}
	}
	if bm != nil && fs.BmapFound {
		if why := mapSizeMismatch(fs.Image, bm); why != "" {
			warns = append(warns, fmt.Sprintf("the block map %s was ignored: %s; the whole image is written (name the map itself to use it)", fs.BmapPath, why))
			bm, fs.BmapPath = nil, ""
		}
	}
	o := &opener{ctx: ctx, prepare: fs.Decoder, warnings: warns}
	return o.fromFile(fs.Image, fs.ImagePath, bm, fs.BmapPath, true)
}

// staleMap says why the map beside an image cannot describe it: it was
// last changed before the image was ("" when it is not older).
func staleMap(fs *Files) string {
	ist, err1 := fs.Image.Stat()
	mst, err2 := fs.Bmap.Stat()
	if err1 != nil || err2 != nil {
		return ""
	}
	if mst.ModTime().Before(ist.ModTime()) {
		return fmt.Sprintf("it is older than the image (%s, the image %s)",
			mst.ModTime().UTC().Format("2006-01-02 15:04:05"), ist.ModTime().UTC().Format("2006-01-02 15:04:05"))
	}
	return ""
}

// mapSizeMismatch says why bm cannot describe the raw image in f: it
// names another size ("" for a matching size or a compressed image,
// whose size the decoder checks).
func mapSizeMismatch(f *os.File, bm *BlockMap) string {
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	if Detect(head[:n]) != Raw || st.Size() == bm.ImageSize {
		return ""
	}
	return fmt.Sprintf("it describes a %d-byte image but the image has %d bytes", bm.ImageSize, st.Size())
}

type opener struct {
	ctx     context.Context
	prepare func(*exec.Cmd) // Files.Decoder
	// warnings are given to the source opened.
	warnings []string
	// file is the image file being opened and key its version as it was
	// opened, when keyed is set.
	file  *os.File
	key   FileKey
	keyed bool
}

// fromFile opens the image in f; when owned, the source (or, on error,
// fromFile) closes f.
func (o *opener) fromFile(f *os.File, imgPath string, bm *BlockMap, bmapPath string, owned bool) (_ Source, err error) {
	defer func() {
		if err != nil && owned {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening image %s: %w", imgPath, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("opening image %s: not a regular file", imgPath)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("image %s: %w", imgPath, ErrEmpty)
	}
	// The version of the file whose size this is: a size found by
	// decoding is kept for it (see Measure).
	o.file = f
	o.key, o.keyed = fileKey(st)
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading image header of %s: %w", imgPath, err)
	}
	head = head[:n]
	src, err := o.openFile(f, st.Size(), Detect(head), bm, imgPath, bmapPath, owned)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(imgPath), err)
	}
	return src, nil
}
