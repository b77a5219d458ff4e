package sparse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// bufSize is the I/O unit of Expand and WriteFile.
const bufSize = 4 << 20

// Expand writes the image expanded from the sparse stream r into dst at the
// chunks' offsets and returns the number of bytes written. DONT_CARE ranges
// are skipped, so dst should read as zeros there (a fresh or truncated file
// does); Expand does not set dst's size: truncate a file to the Reader's
// Size, or write to a device at least that large.
func Expand(dst io.WriterAt, r io.Reader) (written int64, err error) {
	sr, err := NewReader(r)
	if err != nil {
		return 0, err
	}
	return expandFrom(dst, sr)
}

func expandFrom(dst io.WriterAt, sr *Reader) (written int64, err error) {
	var buf []byte
	for {
		c, rd, err := sr.Next()
		if errors.Is(err, io.EOF) {
			return written, nil
		}
		if err != nil {
			return written, err
		}
		switch c.Type {
		case Raw:
			if buf == nil {
				buf = make([]byte, bufSize)
			}
			off := c.Offset
			for remain := c.Length; remain > 0; {
				n := min(remain, int64(len(buf)))
				if _, err := io.ReadFull(rd, buf[:n]); err != nil {
					return written, err
				}
				if _, err := dst.WriteAt(buf[:n], off); err != nil {
					return written, fmt.Errorf("sparse: writing at %d: %w", off, err)
				}
				off += n
				written += n
				remain -= n
			}
		case Fill:
			pat := make([]byte, min(c.Length, int64(bufSize)))
			for i := 0; i < len(pat); i += 4 {
				binary.LittleEndian.PutUint32(pat[i:], c.Fill)
			}
			off := c.Offset
			for remain := c.Length; remain > 0; {
				n := min(remain, int64(len(pat)))
				if _, err := dst.WriteAt(pat[:n], off); err != nil {
					return written, fmt.Errorf("sparse: writing at %d: %w", off, err)
				}
				off += n
				written += n
				remain -= n
			}
		}
	}
}
