// Package sparse reads and writes Android sparse images (the `*.sparse`
// files rpi-image-gen and genimage produce, and that simg2img expands).
//
// It is the one leaf package that builder and flash share: builder/image
// writes sparse images with it and flash reads them, and neither imports
// the other. It depends on nothing of the project.
//
// A sparse image is a 28-byte file header followed by chunks. Each chunk
// covers a whole number of blocks of the expanded image and is one of RAW
// (the data follows), FILL (a 4-byte pattern repeated), DONT_CARE (the range
// is not written) or CRC32 (the CRC32 of the expanded image so far, with
// DONT_CARE ranges counted as zeros). All integers are little-endian.
//
// Reader walks the chunks of a stream and validates everything it reads;
// Expand writes the expanded image to an io.WriterAt without touching
// DONT_CARE ranges; WriteFile turns a (possibly holey) file into a sparse
// image, its holes becoming DONT_CARE chunks.
package sparse

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Magic is the first word of every sparse image.
const Magic uint32 = 0xED26FF3A

// Sizes of the only header layout this package knows (version 1.0).
const (
	FileHeaderSize  = 28
	ChunkHeaderSize = 12
)

// maxSize bounds the expanded size of an image this package accepts
// (1 EiB), keeping every offset computation far from int64 overflow.
const maxSize = int64(1) << 60

// ChunkType is the type field of a chunk header.
type ChunkType uint16

// Chunk types.
const (
	Raw      ChunkType = 0xCAC1
	Fill     ChunkType = 0xCAC2
	DontCare ChunkType = 0xCAC3
	CRC32    ChunkType = 0xCAC4
)

// String names the chunk type as the format does.
func (t ChunkType) String() string {
	switch t {
	case Raw:
		return "RAW"
	case Fill:
		return "FILL"
	case DontCare:
		return "DONT_CARE"
	case CRC32:
		return "CRC32"
	}
	return fmt.Sprintf("ChunkType(%#04x)", uint16(t))
}

// Header is the decoded file header of a sparse image.
type Header struct {
	Major, Minor, FileHdrSz, ChunkHdrSz     uint16
	BlkSz, TotalBlks, TotalChunks, Checksum uint32
}

// Chunk describes one chunk of the expanded image.
type Chunk struct {
	// Type is Raw, Fill or DontCare (CRC32 chunks are checked, not returned).
	Type ChunkType
	// Offset is the chunk's byte offset in the expanded image.
	Offset int64
	// Length is the number of expanded bytes the chunk covers.
	Length int64
	// Fill is the little-endian fill pattern of a Fill chunk.
	Fill uint32
}

// ErrFormat is matched (errors.Is) by every *FormatError.
var ErrFormat = errors.New("sparse: invalid sparse image")

// FormatError reports a malformed sparse image.
type FormatError struct {
	// Offset is the byte offset in the sparse file where the problem is.
	Offset int64
	// Msg says what is wrong.
	Msg string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("sparse: invalid sparse image at byte %d: %s", e.Offset, e.Msg)
}

// Is makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

func formatErr(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// IsSparse reports whether header (the first bytes of a file, at least 28)
// starts a sparse image this package can read.
func IsSparse(header []byte) bool {
	if len(header) < FileHeaderSize {
		return false
	}
	le := binary.LittleEndian
	return le.Uint32(header[0:]) == Magic && le.Uint16(header[4:]) == 1 &&
		le.Uint16(header[8:]) == FileHeaderSize && le.Uint16(header[10:]) == ChunkHeaderSize
}

// Reader walks the chunks of a sparse image read from a stream.
type Reader struct {
	r     *bufio.Reader
	hdr   Header
	pos   int64 // bytes consumed from the sparse stream
	chunk uint32
	block uint64 // expanded blocks covered so far
	crc   uint32 // CRC32 of the expanded data so far
	raw   *rawReader
	err   error // sticky error
	done  bool
}

// NewReader reads and validates the file header of the sparse image r.
func NewReader(r io.Reader) (*Reader, error) {
	sr := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	var b [FileHeaderSize]byte
	if n, err := io.ReadFull(sr.r, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, formatErr(int64(n), "file header truncated (%d of %d bytes)", n, FileHeaderSize)
		}
		return nil, fmt.Errorf("sparse: reading header: %w", err)
	}
	sr.pos = FileHeaderSize
	var h Header
	if err := h.UnmarshalBinary(b[:]); err != nil {
		return nil, err
	}
	switch {
	case h.Major != 1:
		return nil, formatErr(4, "unsupported major version %d", h.Major)
	case h.FileHdrSz != FileHeaderSize:
		return nil, formatErr(8, "unknown file header size %d (want %d)", h.FileHdrSz, FileHeaderSize)
	case h.ChunkHdrSz != ChunkHeaderSize:
		return nil, formatErr(10, "unknown chunk header size %d (want %d)", h.ChunkHdrSz, ChunkHeaderSize)
	case h.BlkSz == 0 || h.BlkSz%4 != 0:
		return nil, formatErr(12, "block size %d is not a positive multiple of 4", h.BlkSz)
	case uint64(h.TotalBlks)*uint64(h.BlkSz) > uint64(maxSize):
		return nil, formatErr(16, "expanded size %d blocks of %d bytes is too large", h.TotalBlks, h.BlkSz)
	}
	sr.hdr = h
	return sr, nil
}

// Header returns the file header.
func (r *Reader) Header() Header { return r.hdr }

// Size returns the size of the expanded image in bytes.
func (r *Reader) Size() int64 { return int64(r.hdr.TotalBlks) * int64(r.hdr.BlkSz) }

// Next returns the next chunk of the expanded image. For a Raw chunk the
// returned reader yields exactly Length bytes (whatever is not consumed is
// skipped by the following Next); for Fill it yields the repeated pattern;
// for DontCare it is nil. CRC32 chunks are verified against the data read so
// far and not returned. When the chunks cover fewer blocks than the header's
// total, a final DontCare chunk stands for the rest. After the last chunk
// Next returns io.EOF.
func (r *Reader) Next() (Chunk, io.Reader, error) {
	if r.err != nil {
		return Chunk{}, nil, r.err
	}
	c, rd, err := r.next()
	if err != nil {
		r.err = err
	}
	return c, rd, err
}

func (r *Reader) next() (Chunk, io.Reader, error) {
	if r.raw != nil {
		if err := r.raw.drain(); err != nil {
			return Chunk{}, nil, err
		}
		r.raw = nil
	}
	for {
		if r.chunk == r.hdr.TotalChunks {
			return r.finish()
		}
		hdrOff := r.pos
		var b [ChunkHeaderSize]byte
		n, err := io.ReadFull(r.r, b[:])
		r.pos += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return Chunk{}, nil, formatErr(hdrOff, "file ends after %d of %d chunks", r.chunk, r.hdr.TotalChunks)
			}
			return Chunk{}, nil, fmt.Errorf("sparse: reading chunk header: %w", err)
		}
		r.chunk++
		var ch ChunkHeader
		if err := ch.UnmarshalBinary(b[:]); err != nil {
			return Chunk{}, nil, err
		}
		typ, blocks, total := ch.Type, ch.Blocks, ch.TotalSize
		bodyLen := int64(total) - ChunkHeaderSize
		length := int64(blocks) * int64(r.hdr.BlkSz)
		c := Chunk{Type: typ, Offset: int64(r.block) * int64(r.hdr.BlkSz), Length: length}
		if typ != CRC32 && r.block+uint64(blocks) > uint64(r.hdr.TotalBlks) {
			return Chunk{}, nil, formatErr(hdrOff, "chunk %d (%v) ends at block %d, past the image's %d blocks",
				r.chunk-1, typ, r.block+uint64(blocks), r.hdr.TotalBlks)
		}
		var want int64
		switch typ {
		case Raw:
			want = length
		case Fill, CRC32:
			want = 4
		case DontCare:
			want = 0
		default:
			return Chunk{}, nil, formatErr(hdrOff, "chunk %d has unknown type %#04x", r.chunk-1, uint16(typ))
		}
		if bodyLen != want {
			return Chunk{}, nil, formatErr(hdrOff+8, "chunk %d (%v, %d blocks) has total size %d, want %d",
				r.chunk-1, typ, blocks, total, want+ChunkHeaderSize)
		}
		switch typ {
		case Raw:
			r.block += uint64(blocks)
			r.raw = &rawReader{r: r, remain: length, start: r.pos}
			return c, r.raw, nil
		case Fill:
			v, err := r.readWord(hdrOff)
			if err != nil {
				return Chunk{}, nil, err
			}
			r.block += uint64(blocks)
			c.Fill = v
			r.crc = crcRepeat(r.crc, v, length/4)
			return c, newFillReader(v, length), nil
		case DontCare:
			r.block += uint64(blocks)
			r.crc = crcZeros(r.crc, length)
			return c, nil, nil
		case CRC32:
			if blocks != 0 {
				return Chunk{}, nil, formatErr(hdrOff+4, "CRC32 chunk %d covers %d blocks, want 0", r.chunk-1, blocks)
			}
			v, err := r.readWord(hdrOff)
			if err != nil {
				return Chunk{}, nil, err
			}
			if v != r.crc {
				return Chunk{}, nil, formatErr(r.pos-4, "CRC32 mismatch: image says %#08x, data gives %#08x", v, r.crc)
			}
		}
	}
}

// finish handles the end of the chunk list: a synthetic DontCare chunk for
// uncovered trailing blocks, then a check that no data follows.
func (r *Reader) finish() (Chunk, io.Reader, error) {
	if r.done {
		return Chunk{}, nil, io.EOF
	}
	if r.block < uint64(r.hdr.TotalBlks) {
		c := Chunk{Type: DontCare, Offset: int64(r.block) * int64(r.hdr.BlkSz),
			Length: int64(uint64(r.hdr.TotalBlks)-r.block) * int64(r.hdr.BlkSz)}
		r.crc = crcZeros(r.crc, c.Length)
		r.block = uint64(r.hdr.TotalBlks)
		return c, nil, nil
	}
	r.done = true
	if _, err := r.r.ReadByte(); err == nil {
		return Chunk{}, nil, formatErr(r.pos, "data after the last of %d chunks (chunk count does not match)", r.hdr.TotalChunks)
	} else if !errors.Is(err, io.EOF) {
		return Chunk{}, nil, fmt.Errorf("sparse: reading past last chunk: %w", err)
	}
	return Chunk{}, nil, io.EOF
}

func (r *Reader) readWord(hdrOff int64) (uint32, error) {
	var w [4]byte
	n, err := io.ReadFull(r.r, w[:])
	r.pos += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, formatErr(hdrOff, "chunk %d truncated", r.chunk-1)
		}
		return 0, fmt.Errorf("sparse: reading chunk: %w", err)
	}
	return binary.LittleEndian.Uint32(w[:]), nil
}

// rawReader yields the body of a RAW chunk and keeps the running CRC.
type rawReader struct {
	r      *Reader
	remain int64
	start  int64
	err    error
}

func (rr *rawReader) Read(p []byte) (int, error) {
	if rr.err != nil {
		return 0, rr.err
	}
	if rr.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > rr.remain {
		p = p[:rr.remain]
	}
	n, err := rr.r.r.Read(p)
	rr.remain -= int64(n)
	rr.r.pos += int64(n)
	rr.r.crc = crc32.Update(rr.r.crc, crc32.IEEETable, p[:n])
	if err != nil {
		if errors.Is(err, io.EOF) {
			if rr.remain > 0 {
				err = formatErr(rr.r.pos, "RAW chunk %d truncated: %d bytes missing", rr.r.chunk-1, rr.remain)
			}
		} else {
			err = fmt.Errorf("sparse: reading RAW chunk: %w", err)
		}
		if rr.remain > 0 {
			rr.err = err
			return n, err
		}
	}
	return n, nil
}

// drain reads what the caller left of the chunk.
func (rr *rawReader) drain() error {
	if rr.remain == 0 {
		return rr.err
	}
	buf := make([]byte, 256<<10)
	for rr.remain > 0 {
		if _, err := rr.Read(buf); err != nil {
			return err
		}
	}
	return nil
}

// fillReader yields a 4-byte pattern repeated.
type fillReader struct {
	pat    [4]byte
	remain int64
	phase  int
}

func newFillReader(v uint32, n int64) *fillReader {
	f := &fillReader{remain: n}
	binary.LittleEndian.PutUint32(f.pat[:], v)
	return f
}

func (f *fillReader) Read(p []byte) (int, error) {
	if f.remain == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.remain {
		p = p[:f.remain]
	}
	for i := range p {
		p[i] = f.pat[(f.phase+i)&3]
	}
	f.phase = (f.phase + len(p)) & 3
	f.remain -= int64(len(p))
	return len(p), nil
}
