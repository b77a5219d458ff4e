package sparse

import (
	"bytes"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{
		{Major: 1, FileHdrSz: FileHeaderSize, ChunkHdrSz: ChunkHeaderSize, BlkSz: 4096, TotalBlks: 10, TotalChunks: 3},
		{Major: 1, Minor: 2, FileHdrSz: 1, ChunkHdrSz: 2, BlkSz: 3, TotalBlks: 4, TotalChunks: 5, Checksum: 6},
	} {
		b, err := h.MarshalBinary()
		if err != nil || len(b) != FileHeaderSize {
			t.Fatalf("MarshalBinary: %d bytes, %v", len(b), err)
		}
		var got Header
		if err := got.UnmarshalBinary(b); err != nil || got != h {
			t.Fatalf("round trip %+v gave %+v, %v", h, got, err)
		}
	}
	for _, c := range []ChunkHeader{{Type: Raw, Blocks: 2, TotalSize: 8204}, {Type: CRC32, Reserved: 7, TotalSize: 16}} {
		b, _ := c.MarshalBinary()
		var got ChunkHeader
		if err := got.UnmarshalBinary(b); err != nil || got != c {
			t.Fatalf("round trip %+v gave %+v, %v", c, got, err)
		}
	}
	var h Header
	if err := h.UnmarshalBinary(make([]byte, FileHeaderSize)); err == nil {
		t.Error("a header without the magic was accepted")
	}
	var c ChunkHeader
	if err := c.UnmarshalBinary(make([]byte, 3)); err == nil {
		t.Error("a truncated chunk header was accepted")
	}
}

// FuzzHeaders checks that decoding then encoding any header keeps its
// bytes.
func FuzzHeaders(f *testing.F) {
	hb, _ := Header{Major: 1, FileHdrSz: FileHeaderSize, ChunkHdrSz: ChunkHeaderSize, BlkSz: 4096}.MarshalBinary()
	f.Add(hb)
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if h.UnmarshalBinary(b) == nil {
			out, _ := h.MarshalBinary()
			if !bytes.Equal(out, b[:FileHeaderSize]) {
				t.Fatalf("file header %x re-encoded as %x", b[:FileHeaderSize], out)
			}
		}
		var c ChunkHeader
		if c.UnmarshalBinary(b) == nil {
			out, _ := c.MarshalBinary()
			if !bytes.Equal(out, b[:ChunkHeaderSize]) {
				t.Fatalf("chunk header %x re-encoded as %x", b[:ChunkHeaderSize], out)
			}
		}
	})
}
