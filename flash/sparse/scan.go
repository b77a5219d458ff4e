package sparse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ScanHeaders walks the chunk headers of the sparse image r of size bytes
// without reading the bodies of RAW chunks, and returns the file header and
// the number of expanded bytes the RAW and FILL chunks hold (the bytes a
// writer will write). It validates the layout as Reader does — header,
// chunk types and total sizes, block totals, chunk count, nothing after the
// last chunk — but not the values of CRC32 chunks, which need the data:
// Reader checks those while the data streams.
//
// A writer uses it to size its work in milliseconds where a Reader pass
// would read (and CRC) the whole file.
func ScanHeaders(r io.ReaderAt, size int64) (Header, int64, error) {
	sr, err := NewReader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return Header{}, 0, err
	}
	h := sr.Header()
	le := binary.LittleEndian
	off := int64(FileHeaderSize)
	var blocks uint64
	var data int64
	var b [ChunkHeaderSize]byte
	for i := uint32(0); i < h.TotalChunks; i++ {
		if off+ChunkHeaderSize > size {
			return h, 0, formatErr(off, "file ends after %d of %d chunks", i, h.TotalChunks)
		}
		if _, err := r.ReadAt(b[:], off); err != nil && !(errors.Is(err, io.EOF) && off+ChunkHeaderSize == size) {
			return h, 0, fmt.Errorf("sparse: reading chunk header: %w", err)
		}
		typ := ChunkType(le.Uint16(b[0:]))
		n := le.Uint32(b[4:])
		total := int64(le.Uint32(b[8:]))
		length := int64(n) * int64(h.BlkSz)
		if typ != CRC32 && blocks+uint64(n) > uint64(h.TotalBlks) {
			return h, 0, formatErr(off, "chunk %d (%v) ends at block %d, past the image's %d blocks", i, typ, blocks+uint64(n), h.TotalBlks)
		}
		var want int64
		switch typ {
		case Raw:
			want = length
		case Fill, CRC32:
			want = 4
		case DontCare:
		default:
			return h, 0, formatErr(off, "chunk %d has unknown type %#04x", i, uint16(typ))
		}
		if total-ChunkHeaderSize != want {
			return h, 0, formatErr(off+8, "chunk %d (%v, %d blocks) has total size %d, want %d", i, typ, n, total, want+ChunkHeaderSize)
		}
		if typ == CRC32 && n != 0 {
			return h, 0, formatErr(off+4, "CRC32 chunk %d covers %d blocks, want 0", i, n)
		}
		if off+total > size {
			return h, 0, formatErr(off, "chunk %d truncated", i)
		}
		if typ == Raw || typ == Fill {
			data += length
		}
		if typ != CRC32 {
			blocks += uint64(n)
		}
		off += total
	}
	if off != size {
		return h, 0, formatErr(off, "data after the last of %d chunks (chunk count does not match)", h.TotalChunks)
	}
	return h, data, nil
}
