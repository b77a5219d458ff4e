package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/zstd"
)

// maxIndexSize bounds the xz index Open is willing to read.
const maxIndexSize = 64 << 20

// XZSize returns the uncompressed size of the xz file r of size n by
// reading the index of every stream, walking backwards from the end.
func XZSize(r io.ReaderAt, n int64) (int64, error) {
	var total int64
	pos := n
	for pos > 0 {
		// Stream padding: zero bytes in multiples of four.
		var w [4]byte
		for pos >= 4 {
			if _, err := r.ReadAt(w[:], pos-4); err != nil {
				return 0, fmt.Errorf("reading xz: %w", err)
			}
			if w != [4]byte{} {
				break
			}
			pos -= 4
		}
		if pos < 24 {
			if pos == 0 {
				break
			}
			return 0, formatErrorf("xz: %d stray bytes before the first stream", pos)
		}
		var foot [12]byte
		if _, err := r.ReadAt(foot[:], pos-12); err != nil {
			return 0, fmt.Errorf("reading xz footer: %w", err)
		}
		if foot[10] != 'Y' || foot[11] != 'Z' {
			return 0, formatErrorf("xz: no stream footer before byte %d", pos)
		}
		if crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot[0:4]) {
			return 0, formatErrorf("xz: stream footer checksum mismatch")
		}
		isize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
		if isize > maxIndexSize || isize > pos-24 {
			return 0, formatErrorf("xz: index of %d bytes does not fit", isize)
		}
		idx := make([]byte, isize)
		istart := pos - 12 - isize
		if _, err := r.ReadAt(idx, istart); err != nil {
			return 0, fmt.Errorf("reading xz index: %w", err)
		}
		unc, blocks, err := parseXZIndex(idx)
		if err != nil {
			return 0, err
		}
		total += unc
		if total < 0 || total > 1<<52 {
			return 0, formatErrorf("xz: uncompressed size overflows")
		}
		start := istart - blocks - 12
		if start < 0 {
			return 0, formatErrorf("xz: blocks overrun the start of the file")
		}
		var hdr [12]byte
		if _, err := r.ReadAt(hdr[:], start); err != nil {
			return 0, fmt.Errorf("reading xz header: %w", err)
		}
		if !bytes.Equal(hdr[:6], magicXZ) || !bytes.Equal(hdr[6:8], foot[8:10]) {
			return 0, formatErrorf("xz: stream header at byte %d does not match its footer", start)
		}
		pos = start
	}
	return total, nil
}

// parseXZIndex returns the summed uncompressed size and the summed padded
// size of the blocks an xz index lists.
func parseXZIndex(b []byte) (unc, blocks int64, err error) {
	if len(b) < 8 || b[0] != 0 {
		return 0, 0, formatErrorf("xz: bad index indicator")
	}
	body := b[:len(b)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return 0, 0, formatErrorf("xz: index checksum mismatch")
	}
	p := 1
	varint := func() (int64, error) {
		var v uint64
		for i := 0; i < 9; i++ {
			if p >= len(body) {
				return 0, formatErrorf("xz: index truncated")
			}
			c := body[p]
			p++
			v |= uint64(c&0x7f) << (7 * i)
			if c&0x80 == 0 {
				if v > 1<<62 {
					return 0, formatErrorf("xz: index value too large")
				}
				return int64(v), nil
			}
		}
		return 0, formatErrorf("xz: index number too long")
	}
	count, err := varint()
	if err != nil {
		return 0, 0, err
	}
	if count > int64(len(body)) {
		return 0, 0, formatErrorf("xz: index lists %d records in %d bytes", count, len(body))
	}
	for i := int64(0); i < count; i++ {
		up, err := varint()
		if err != nil {
			return 0, 0, err
		}
		u, err := varint()
		if err != nil {
			return 0, 0, err
		}
		if up == 0 {
			return 0, 0, formatErrorf("xz: index record %d has no size", i)
		}
		blocks += (up + 3) &^ 3
		unc += u
		if blocks > 1<<52 || unc > 1<<52 {
			return 0, 0, formatErrorf("xz: index sizes overflow")
		}
	}
	for ; p < len(body); p++ {
		if body[p] != 0 {
			return 0, 0, formatErrorf("xz: index padding is not zero")
		}
	}
	if (p)%4 != 0 {
		return 0, 0, formatErrorf("xz: index is not padded")
	}
	return unc, blocks, nil
}

// errNoContentSize reports a zstd frame without a recorded size.
var errNoContentSize = errors.New("zstd frame without content size")

// ZstdSize returns the uncompressed size of the zstd file r of size n by
// walking its frames and block headers (no decoding). A frame that does
// not record its content size gives an error matching errNoContentSize.
func ZstdSize(r io.ReaderAt, n int64) (int64, error) {
	var total int64
	pos := int64(0)
	buf := make([]byte, zstd.HeaderMaxSize)
	for pos < n {
		m, err := r.ReadAt(buf, pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("reading zstd: %w", err)
		}
		var h zstd.Header
		if err := h.Decode(buf[:m]); err != nil {
			return 0, formatErrorf("zstd frame at byte %d: %v", pos, err)
		}
		if h.Skippable {
			pos += int64(h.HeaderSize) + int64(h.SkippableSize)
			continue
		}
		if !h.HasFCS {
			return 0, errNoContentSize
		}
		total += int64(h.FrameContentSize)
		if h.FrameContentSize > 1<<52 || total > 1<<52 {
			return 0, formatErrorf("zstd: content size overflows")
		}
		pos += int64(h.HeaderSize)
		// Walk the blocks: a 3-byte header each, little-endian:
		// bit 0 last, bits 1-2 type, bits 3-23 size.
		var bh [3]byte
		for {
			if _, err := r.ReadAt(bh[:], pos); err != nil {
				return 0, formatErrorf("zstd: block header at byte %d: %v", pos, err)
			}
			v := uint32(bh[0]) | uint32(bh[1])<<8 | uint32(bh[2])<<16
			last := v&1 == 1
			typ := (v >> 1) & 3
			size := int64(v >> 3)
			pos += 3
			switch typ {
			case 0, 2: // raw, compressed
				pos += size
			case 1: // RLE
				pos++
			default:
				return 0, formatErrorf("zstd: reserved block type at byte %d", pos-3)
			}
			if pos > n {
				return 0, formatErrorf("zstd: block overruns the file")
			}
			if last {
				break
			}
		}
		if h.HasCheckSum {
			pos += 4
		}
	}
	if pos != n {
		return 0, formatErrorf("zstd: last frame overruns the file")
	}
	return total, nil
}
