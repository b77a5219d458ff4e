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
	b := uint64(bs)
	totalBlks := (uint64(size) + b - 1) / b
	if totalBlks > 0xFFFFFFFF {
		return fmt.Errorf("sparse: %s has %d blocks of %d bytes, more than a sparse image can hold", src.Name(), totalBlks, bs)
	}
	exts, err := DataExtents(src, size)
	if err != nil {
		return err
	}
	// Plan the chunks: data extents rounded out to whole blocks and merged,
	// then read once to find all-zero blocks.
	var plan []plannedChunk
	var next uint64
	buf := make([]byte, min(int64(maxRawChunk), max(int64(bufSize), int64(bs))))
	maxBlocks := uint64(maxRawChunk) / b
	addData := func(from, to uint64) error {
		var typ ChunkType
		var start uint64
		flush := func(end uint64) {
			for start < end {
				n := end - start
				if typ == Raw {
					n = min(n, maxBlocks)
				}
				plan = append(plan, plannedChunk{typ, start, n})
				start += n
			}
		}
		start = from
		blocksPerBuf := uint64(len(buf)) / b
		for blk := from; blk < to; {
			n := min(to-blk, blocksPerBuf)
			p := buf[:n*b]
			got, err := src.ReadAt(p, int64(blk*b))
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("sparse: reading %s at %d: %w", src.Name(), blk*b, err)
			}
			clear(p[got:])
			for i := uint64(0); i < n; i++ {
				t := Raw
				if allZero(p[i*b : (i+1)*b]) {
					t = Fill
				}
				if blk+i == from {
					typ = t
				} else if t != typ {
					flush(blk + i)
					typ = t
				}
			}
			blk += n
		}
		flush(to)
		return nil
	}
	var runStart, runEnd uint64
	inRun := false
	emit := func() error {
		if runStart > next {
			plan = append(plan, plannedChunk{DontCare, next, runStart - next})
		}
		next = runEnd
		return addData(runStart, runEnd)
	}
	for _, e := range exts {
		s := uint64(e.Off) / b
		t := (uint64(e.Off+e.Len) + b - 1) / b
		if inRun && s <= runEnd {
			runEnd = max(runEnd, t)
			continue
		}
		if inRun {
			if err := emit(); err != nil {
				return err
			}
		}
		runStart, runEnd, inRun = s, t, true
	}
	if inRun {
		if err := emit(); err != nil {
			return err
		}
	}
	if next < totalBlks {
		plan = append(plan, plannedChunk{DontCare, next, totalBlks - next})
	}
	nChunks := len(plan)
	if opts.CRC {
		nChunks++
	}

	w := bufio.NewWriterSize(dst, 1<<20)
	le := binary.LittleEndian
	var hdr [FileHeaderSize]byte
	le.PutUint32(hdr[0:], Magic)
	le.PutUint16(hdr[4:], 1)
	le.PutUint16(hdr[6:], 0)
	le.PutUint16(hdr[8:], FileHeaderSize)
	le.PutUint16(hdr[10:], ChunkHeaderSize)
	le.PutUint32(hdr[12:], bs)
	le.PutUint32(hdr[16:], uint32(totalBlks))
	le.PutUint32(hdr[20:], uint32(nChunks))
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("sparse: writing header: %w", err)
	}
	chunkHdr := func(t ChunkType, blocks uint64, body int64) error {
		var c [ChunkHeaderSize]byte
		le.PutUint16(c[0:], uint16(t))
		le.PutUint32(c[4:], uint32(blocks))
		le.PutUint32(c[8:], uint32(ChunkHeaderSize+body))
		_, err := w.Write(c[:])
		return err
	}
	var crc uint32
	for _, c := range plan {
		length := int64(c.blocks * b)
		switch c.typ {
		case DontCare:
			if err := chunkHdr(DontCare, c.blocks, 0); err != nil {
				return fmt.Errorf("sparse: writing chunk: %w", err)
			}
			crc = crcZeros(crc, length)
			continue
		case Fill:
			if err := chunkHdr(Fill, c.blocks, 4); err != nil {
				return fmt.Errorf("sparse: writing chunk: %w", err)
			}
			if _, err := w.Write(make([]byte, 4)); err != nil {
				return fmt.Errorf("sparse: writing chunk: %w", err)
			}
			crc = crcZeros(crc, length)
			continue
		}
		if err := chunkHdr(Raw, c.blocks, length); err != nil {
			return fmt.Errorf("sparse: writing chunk: %w", err)
		}
		off := int64(c.block * b)
		for remain := length; remain > 0; {
			n := min(remain, int64(len(buf)))
			p := buf[:n]
			got, err := src.ReadAt(p, off)
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("sparse: reading %s at %d: %w", src.Name(), off, err)
			}
			clear(p[got:]) // zero padding past the end of the file
			if opts.CRC {
				crc = crc32.Update(crc, crc32.IEEETable, p)
			}
			if _, err := w.Write(p); err != nil {
				return fmt.Errorf("sparse: writing: %w", err)
			}
			off += n
			remain -= n
		}
	}
	if opts.CRC {
		if err := chunkHdr(CRC32, 0, 4); err != nil {
			return fmt.Errorf("sparse: writing chunk: %w", err)
		}
		var v [4]byte
		le.PutUint32(v[:], crc)
		if _, err := w.Write(v[:]); err != nil {
			return fmt.Errorf("sparse: writing: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("sparse: writing: %w", err)
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
