package provision

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// mdMagic is the md superblock magic (both 0.90 and 1.x), little-endian
// on disk for 1.x and in host order (little-endian on the machines that
// write our disks) for 0.90.
const mdMagic = 0xa92b4efc

// gptSignature starts a GPT header.
var gptSignature = []byte("EFI PART")

// tailSize is the tail of a disk flash.Write zeroes before writing.
const tailSize = 1 << 20

// Region is a range of a target disk that must hold no stale signature.
type Region struct {
	// Name says what could live there, e.g. "md v1.2 superblock".
	Name string `json:"name"`
	// Offset and Length are in bytes.
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	// Magic is the signature looked for at Offset (nil: the whole region
	// must be zero).
	Magic []byte `json:"-"`
}

// SignatureRegions returns the whole-disk locations, on a disk of size
// bytes, of the signatures that would confuse an array or firmware at boot,
// as the md driver and mdadm compute them:
//   - md v1.1 superblock at byte 0, v1.2 at 4 KiB;
//   - md v0.90 at the size rounded down to 64 KiB, minus 64 KiB;
//   - md v1.0 at the size in sectors minus 16, rounded down to 8 sectors;
//   - a GPT backup header in the last 512-byte or 4 KiB sector;
//   - and the last MiB as a whole, which must be zero.
//
// Regions that do not fit the disk are left out.
func SignatureRegions(size int64) []Region {
	le := binary.LittleEndian.AppendUint32(nil, mdMagic)
	var out []Region
	add := func(r Region) {
		if r.Offset >= 0 && r.Length > 0 && r.Offset+r.Length <= size {
			out = append(out, r)
		}
	}
	add(Region{Name: "md v1.1 superblock", Offset: 0, Length: 4096, Magic: le})
	add(Region{Name: "md v1.2 superblock", Offset: 4096, Length: 4096, Magic: le})
	add(Region{Name: "md v0.90 superblock", Offset: size&^(64<<10-1) - 64<<10, Length: 4096, Magic: le})
	add(Region{Name: "md v1.0 superblock", Offset: (size/512 - 16) &^ 7 * 512, Length: 4096, Magic: le})
	add(Region{Name: "GPT backup header (512-byte sectors)", Offset: size - 512, Length: 512, Magic: gptSignature})
	add(Region{Name: "GPT backup header (4 KiB sectors)", Offset: size - 4096, Length: 4096, Magic: gptSignature})
	t := min(int64(tailSize), size)
	add(Region{Name: "last MiB", Offset: size - t, Length: t})
	return out
}

// StaleError reports a signature that survived past the image on a target.
type StaleError struct {
	// Region is where it was found.
	Region Region
	// Offset is the byte found (the region's start for a magic).
	Offset int64
}

// Error implements error.
func (e *StaleError) Error() string {
	if e.Region.Magic == nil {
		return fmt.Sprintf("the %s of the disk is not blank after writing (byte %d): an old signature may survive", e.Region.Name, e.Offset)
	}
	return fmt.Sprintf("a stale %s is still on the disk at byte %d: the array may not assemble at boot", e.Region.Name, e.Offset)
}

// CheckClean reads the signature regions of a target of size bytes that
// lie past the end of an image of imageSize bytes (regions inside the image
// hold the image and are verified by the writer) and returns a *StaleError
// for the first one that still holds a signature. r should bypass the page
// cache; CheckClean reads in 4 KiB-aligned blocks.
func CheckClean(r io.ReaderAt, size, imageSize int64) error {
	for _, reg := range SignatureRegions(size) {
		lo := max(reg.Offset, imageSize)
		hi := reg.Offset + reg.Length
		if lo >= hi || (reg.Magic != nil && lo > reg.Offset) {
			continue
		}
		b, base, err := readAligned(r, lo, hi, size)
		if err != nil {
			return fmt.Errorf("reading back the %s at byte %d: %w", reg.Name, lo, err)
		}
		if reg.Magic != nil {
			if bytes.HasPrefix(b[reg.Offset-base:], reg.Magic) {
				return &StaleError{Region: reg, Offset: reg.Offset}
			}
			continue
		}
		if i := firstNonZero(b[lo-base : hi-base]); i >= 0 {
			return &StaleError{Region: reg, Offset: lo + int64(i)}
		}
	}
	return nil
}

// readAligned reads [lo, hi) widened to 4 KiB boundaries (clipped to
// size) and returns the bytes and the offset of their first byte.
func readAligned(r io.ReaderAt, lo, hi, size int64) ([]byte, int64, error) {
	const al = 4096
	base := lo &^ (al - 1)
	end := min((hi+al-1)&^(al-1), size)
	b := alignedBuf(int(end - base))
	n, err := r.ReadAt(b, base)
	if n < int(hi-base) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, 0, err
	}
	return b[:n], base, nil
}

func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return -1
}
