package sparse

import (
	"encoding/binary"
	"fmt"
)

// MarshalBinary encodes the file header as its 28 little-endian bytes.
func (h Header) MarshalBinary() ([]byte, error) {
	b := make([]byte, FileHeaderSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], Magic)
	le.PutUint16(b[4:], h.Major)
	le.PutUint16(b[6:], h.Minor)
	le.PutUint16(b[8:], h.FileHdrSz)
	le.PutUint16(b[10:], h.ChunkHdrSz)
	le.PutUint32(b[12:], h.BlkSz)
	le.PutUint32(b[16:], h.TotalBlks)
	le.PutUint32(b[20:], h.TotalChunks)
	le.PutUint32(b[24:], h.Checksum)
	return b, nil
}

// UnmarshalBinary decodes a file header from its first 28 bytes. It
// checks the magic only; NewReader checks the fields.
func (h *Header) UnmarshalBinary(b []byte) error {
	if len(b) < FileHeaderSize {
		return formatErr(int64(len(b)), "file header truncated (%d of %d bytes)", len(b), FileHeaderSize)
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[0:]); m != Magic {
		return formatErr(0, "bad magic %#08x (want %#08x)", m, Magic)
	}
	*h = Header{
		Major: le.Uint16(b[4:]), Minor: le.Uint16(b[6:]),
		FileHdrSz: le.Uint16(b[8:]), ChunkHdrSz: le.Uint16(b[10:]),
		BlkSz: le.Uint32(b[12:]), TotalBlks: le.Uint32(b[16:]),
		TotalChunks: le.Uint32(b[20:]), Checksum: le.Uint32(b[24:]),
	}
	return nil
}

// ChunkHeader is the 12-byte header that starts every chunk.
type ChunkHeader struct {
	// Type is the chunk type.
	Type ChunkType
	// Reserved is unused (zero).
	Reserved uint16
	// Blocks is the number of expanded blocks the chunk covers.
	Blocks uint32
	// TotalSize is the chunk's size in the file, header included.
	TotalSize uint32
}

// MarshalBinary encodes the chunk header as its 12 little-endian bytes.
func (c ChunkHeader) MarshalBinary() ([]byte, error) {
	b := make([]byte, ChunkHeaderSize)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(c.Type))
	le.PutUint16(b[2:], c.Reserved)
	le.PutUint32(b[4:], c.Blocks)
	le.PutUint32(b[8:], c.TotalSize)
	return b, nil
}

// UnmarshalBinary decodes a chunk header from its first 12 bytes.
func (c *ChunkHeader) UnmarshalBinary(b []byte) error {
	if len(b) < ChunkHeaderSize {
		return fmt.Errorf("sparse: chunk header truncated (%d of %d bytes): %w", len(b), ChunkHeaderSize, ErrFormat)
	}
	le := binary.LittleEndian
	*c = ChunkHeader{Type: ChunkType(le.Uint16(b[0:])), Reserved: le.Uint16(b[2:]), Blocks: le.Uint32(b[4:]), TotalSize: le.Uint32(b[8:])}
	return nil
}
