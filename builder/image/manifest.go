package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/pistudio/pistudio/flash/sparse"
)

// hashFile returns size and hex SHA-256 of path. Holes are hashed as
// zeros without being read.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	exts, err := sparse.DataExtents(f, fi.Size())
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	buf := make([]byte, 4<<20)
	zeros := make([]byte, len(buf))
	hashZeros := func(n int64) {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			h.Write(zeros[:k])
			n -= k
		}
	}
	var pos int64
	for _, e := range exts {
		hashZeros(e.Off - pos)
		if _, err := io.CopyBuffer(h, io.NewSectionReader(f, e.Off, e.Len), buf); err != nil {
			return 0, "", fmt.Errorf("image: hashing %s: %w", path, err)
		}
		pos = e.Off + e.Len
	}
	hashZeros(fi.Size() - pos)
	return fi.Size(), hex.EncodeToString(h.Sum(nil)), nil
}
