package sparse

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// WriteOptions tune WriteFile.
type WriteOptions struct {
	// BlockSize of the sparse image; 0 means 4096. Must be a multiple of 4.
	BlockSize uint32
	// CRC appends a CRC32 chunk over the whole expanded image.
	CRC bool
}

// maxRawChunk bounds the body of one RAW chunk.
const maxRawChunk = 64 << 20

// Extent is a byte range [Off, Off+Len) of a file.
type Extent struct{ Off, Len int64 }

// DataExtents returns the ranges of f below size that hold data, found
// with SEEK_DATA/SEEK_HOLE. On a filesystem without hole reporting the
// whole file is one extent.
func DataExtents(f *os.File, size int64) ([]Extent, error) {
	var out []Extent
	for off := int64(0); off < size; {
		d, err := f.Seek(off, unix.SEEK_DATA)
		if err != nil {
			if errors.Is(err, unix.ENXIO) {
				break
			}
			if errors.Is(err, unix.EINVAL) && off == 0 {
				return []Extent{{0, size}}, nil
			}
			return nil, fmt.Errorf("sparse: finding data in %s: %w", f.Name(), err)
		}
		if d >= size {
			break
		}
		h, err := f.Seek(d, unix.SEEK_HOLE)
		if err != nil {
			return nil, fmt.Errorf("sparse: finding holes in %s: %w", f.Name(), err)
		}
		h = min(h, size)
		out = append(out, Extent{d, h - d})
		off = h
	}
	return out, nil
}

type plannedChunk struct {
	typ    ChunkType
	block  uint64
	blocks uint64
}

// WriteFile writes src as a sparse image to dst: holes of src become
// DONT_CARE chunks (a flasher leaves those ranges alone), data extents RAW
// chunks of at most 64 MiB, except all-zero blocks inside data extents,
// which become FILL chunks of zeros (written as zeros, stored in 16 bytes).
// When src's size is not a multiple of the block size the last block is
// padded with zeros. With opts.CRC a CRC32 chunk ends the image. The data
// is read twice: once to plan the chunks (the header counts them), once to
// write them.
func WriteFile(dst io.Writer, src *os.File, opts WriteOptions) error {
	bs := opts.BlockSize
	if bs == 0 {
		bs = 4096
	}
	if bs%4 != 0 || bs > maxRawChunk {
		return fmt.Errorf("sparse: block size %d is not a multiple of 4 up to %d", bs, maxRawChunk)
	}
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("sparse: %w", err)
	}
	size := fi.Size()
	totalBlks := (uint64(size) + uint64(bs) - 1) / uint64(bs)
	if totalBlks > 0xFFFFFFFF {
		return fmt.Errorf("sparse: %s has %d blocks of %d bytes, more than a sparse image can hold", src.Name(), totalBlks, bs)
	}
	exts, err := DataExtents(src, size)
	if err != nil {
		return err
	}
	p := &planner{src: src, b: uint64(bs), buf: make([]byte, min(int64(maxRawChunk), max(int64(bufSize), int64(bs))))}
	if err := p.plan(exts, totalBlks); err != nil {
		return err
	}
	cw := &chunkWriter{w: bufio.NewWriterSize(dst, 1<<20), src: src, b: uint64(bs), buf: p.buf, crcOn: opts.CRC}
	return cw.write(p.chunks, totalBlks)
}

// planner plans the chunks of a sparse image: data extents rounded out to
// whole blocks and merged, then read once to find all-zero blocks.
type planner struct {
	src    *os.File
	b      uint64 // block size
	buf    []byte
	chunks []plannedChunk
	next   uint64 // first block not planned yet
}

// plan plans the chunks for the data extents exts of an image of
// totalBlks blocks.
func (p *planner) plan(exts []Extent, totalBlks uint64) error {
	var runStart, runEnd uint64
	inRun := false
	for _, e := range exts {
		s := uint64(e.Off) / p.b
		t := (uint64(e.Off+e.Len) + p.b - 1) / p.b
		if inRun && s <= runEnd {
			runEnd = max(runEnd, t)
			continue
		}
		if inRun {
			if err := p.run(runStart, runEnd); err != nil {
				return err
			}
		}
		runStart, runEnd, inRun = s, t, true
	}
	if inRun {
		if err := p.run(runStart, runEnd); err != nil {
			return err
		}
	}
	if p.next < totalBlks {
		p.chunks = append(p.chunks, plannedChunk{DontCare, p.next, totalBlks - p.next})
	}
	return nil
}

// run plans the data blocks [from, to), after a DONT_CARE chunk for the
// gap before them.
func (p *planner) run(from, to uint64) error {
	if from > p.next {
		p.chunks = append(p.chunks, plannedChunk{DontCare, p.next, from - p.next})
	}
	p.next = to
	return p.data(from, to)
}

// data plans the blocks [from, to) as RAW and FILL (all-zero) chunks.
func (p *planner) data(from, to uint64) error {
	typ, start := ChunkType(0), from
	blocksPerBuf := uint64(len(p.buf)) / p.b
	for blk := from; blk < to; {
		n := min(to-blk, blocksPerBuf)
		buf := p.buf[:n*p.b]
		got, err := p.src.ReadAt(buf, int64(blk*p.b))
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("sparse: reading %s at %d: %w", p.src.Name(), blk*p.b, err)
		}
		clear(buf[got:])
		for i := uint64(0); i < n; i++ {
			t := Raw
			if allZero(buf[i*p.b : (i+1)*p.b]) {
				t = Fill
			}
			if blk+i == from {
				typ = t
			} else if t != typ {
				p.add(typ, start, blk+i)
				typ, start = t, blk+i
			}
		}
		blk += n
	}
	p.add(typ, start, to)
	return nil
}

// add plans chunks of type typ over blocks [start, end), RAW ones of at
// most maxRawChunk bytes.
func (p *planner) add(typ ChunkType, start, end uint64) {
	maxBlocks := uint64(maxRawChunk) / p.b
	for start < end {
		n := end - start
		if typ == Raw {
			n = min(n, maxBlocks)
		}
		p.chunks = append(p.chunks, plannedChunk{typ, start, n})
		start += n
	}
}

// chunkWriter writes the planned chunks of a sparse image.
type chunkWriter struct {
	w     *bufio.Writer
	src   *os.File
	b     uint64 // block size
	buf   []byte
	crcOn bool
	crc   uint32
}

// write writes the file header, the chunks and, when asked, the CRC32
// chunk.
func (cw *chunkWriter) write(plan []plannedChunk, totalBlks uint64) error {
	n := len(plan)
	if cw.crcOn {
		n++
	}
	h := Header{Major: 1, FileHdrSz: FileHeaderSize, ChunkHdrSz: ChunkHeaderSize,
		BlkSz: uint32(cw.b), TotalBlks: uint32(totalBlks), TotalChunks: uint32(n)}
	hb, _ := h.MarshalBinary()
	if _, err := cw.w.Write(hb); err != nil {
		return fmt.Errorf("sparse: writing header: %w", err)
	}
	for _, c := range plan {
		if err := cw.chunk(c); err != nil {
			return err
		}
	}
	if cw.crcOn {
		var v [4]byte
		binary.LittleEndian.PutUint32(v[:], cw.crc)
		if err := cw.header(CRC32, 0, v[:]); err != nil {
			return err
		}
	}
	if err := cw.w.Flush(); err != nil {
		return fmt.Errorf("sparse: writing: %w", err)
	}
	return nil
}

// header writes a chunk header and a small body.
func (cw *chunkWriter) header(t ChunkType, blocks uint64, body []byte) error {
	return cw.headerSized(t, blocks, int64(len(body)), body)
}

// headerSized writes a chunk header for a body of size bytes, and body.
func (cw *chunkWriter) headerSized(t ChunkType, blocks uint64, size int64, body []byte) error {
	hb, _ := ChunkHeader{Type: t, Blocks: uint32(blocks), TotalSize: uint32(ChunkHeaderSize + size)}.MarshalBinary()
	if _, err := cw.w.Write(hb); err != nil {
		return fmt.Errorf("sparse: writing chunk: %w", err)
	}
	if _, err := cw.w.Write(body); err != nil {
		return fmt.Errorf("sparse: writing chunk: %w", err)
	}
	return nil
}

// chunk writes one planned chunk.
func (cw *chunkWriter) chunk(c plannedChunk) error {
	length := int64(c.blocks * cw.b)
	switch c.typ {
	case DontCare:
		cw.crc = crcZeros(cw.crc, length)
		return cw.header(DontCare, c.blocks, nil)
	case Fill:
		cw.crc = crcZeros(cw.crc, length)
		return cw.header(Fill, c.blocks, make([]byte, 4))
	}
	if err := cw.headerSized(Raw, c.blocks, length, nil); err != nil {
		return err
	}
	off := int64(c.block * cw.b)
	for remain := length; remain > 0; {
		n := min(remain, int64(len(cw.buf)))
		p := cw.buf[:n]
		got, err := cw.src.ReadAt(p, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("sparse: reading %s at %d: %w", cw.src.Name(), off, err)
		}
		clear(p[got:]) // zero padding past the end of the file
		if cw.crcOn {
			cw.crc = crc32.Update(cw.crc, crc32.IEEETable, p)
		}
		if _, err := cw.w.Write(p); err != nil {
			return fmt.Errorf("sparse: writing: %w", err)
		}
		off += n
		remain -= n
	}
	return nil
}

// allZero reports whether b (a multiple of 8 bytes long) is all zeros.
func allZero(b []byte) bool {
	for len(b) >= 64 {
		le := binary.LittleEndian
		if le.Uint64(b)|le.Uint64(b[8:])|le.Uint64(b[16:])|le.Uint64(b[24:])|
			le.Uint64(b[32:])|le.Uint64(b[40:])|le.Uint64(b[48:])|le.Uint64(b[56:]) != 0 {
			return false
		}
		b = b[64:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
