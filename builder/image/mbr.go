package image

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Align is the partition alignment of every image this package writes,
// as rpi-image-gen's image layers use it (genimage `align = 8M`).
const Align = 8 << 20

// mbrPart is one primary partition of an MBR.
type mbrPart struct {
	Type  byte
	Boot  bool
	Start int64 // bytes, a multiple of 512
	Size  int64 // bytes, a multiple of 512
}

// chs encodes a sector address as MBR cylinder/head/sector bytes with the
// usual 255 heads x 63 sectors geometry, saturating past cylinder 1023.
func chs(lba int64) [3]byte {
	const heads, sectors = 255, 63
	c := lba / (heads * sectors)
	if c > 1023 {
		return [3]byte{254, 0xff, 0xff}
	}
	h := (lba / sectors) % heads
	s := lba%sectors + 1
	return [3]byte{byte(h), byte(s) | byte((c>>2)&0xc0), byte(c)}
}

// writeMBR writes a DOS partition table with disk signature sig into the
// first sector of w. Bytes 0-439 (boot code) are zero.
func writeMBR(w io.WriterAt, sig uint32, parts []mbrPart) error {
	if len(parts) > 4 {
		return fmt.Errorf("image: %d partitions do not fit an MBR", len(parts))
	}
	var b [512]byte
	le := binary.LittleEndian
	le.PutUint32(b[440:], sig)
	for i, p := range parts {
		if p.Start%512 != 0 || p.Size%512 != 0 || p.Start <= 0 || p.Size <= 0 {
			return fmt.Errorf("image: partition %d (%d+%d) is not sector aligned", i+1, p.Start, p.Size)
		}
		start, n := p.Start/512, p.Size/512
		if start+n > 1<<32 {
			return fmt.Errorf("image: partition %d ends past the 2 TiB an MBR can address", i+1)
		}
		e := b[446+16*i:]
		if p.Boot {
			e[0] = 0x80
		}
		first, last := chs(start), chs(start+n-1)
		copy(e[1:4], first[:])
		e[4] = p.Type
		copy(e[5:8], last[:])
		le.PutUint32(e[8:], uint32(start))
		le.PutUint32(e[12:], uint32(n))
	}
	b[510], b[511] = 0x55, 0xAA
	if _, err := w.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("image: writing MBR: %w", err)
	}
	return nil
}

// alignUp rounds n up to a multiple of a.
func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
