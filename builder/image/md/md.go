// Package md writes Linux md RAID members with version 1.2 superblocks,
// byte for byte as mdadm 4.2 lays out a freshly created, clean array: the
// superblock 4 KiB into the member, a bad-block log after it, the data from
// data_offset on. The kernel assembles such members without any resync.
//
// Only RAID1 (mirror) and RAID0 (stripe, equal members, 512 KiB chunks)
// are supported, without write-intent bitmap.
package md

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Level is an md RAID level.
type Level int

// Supported levels.
const (
	RAID0 Level = 0
	RAID1 Level = 1
)

// String returns "RAID0" or "RAID1".
func (l Level) String() string { return fmt.Sprintf("RAID%d", int(l)) }

// ParseLevel accepts RAID0/RAID1 (any case, also "raid1", "1").
func ParseLevel(s string) (Level, error) {
	switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "RAID")) {
	case "0":
		return RAID0, nil
	case "1":
		return RAID1, nil
	}
	return 0, fmt.Errorf("md: unsupported RAID level %q (want RAID0 or RAID1)", s)
}

// Layout constants of the superblock.
const (
	Magic           = 0xa92b4efc
	SuperOffset     = 8   // sectors: the superblock is 4 KiB into the member
	MaxDev          = 128 // dev_roles slots
	SuperblockSize  = 256 + 2*MaxDev
	ChunkSectors    = 1024 // RAID0 chunk: 512 KiB
	ChunkBytes      = ChunkSectors * 512
	BadBlockLogSize = 8 // sectors of the bad-block log
	sectorSize      = 512
)

// UUID is an md set or device UUID.
type UUID [16]byte

// String formats u as mdadm prints it: xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx.
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + ":" + h[8:16] + ":" + h[16:24] + ":" + h[24:32]
}

// ParseUUID reads the mdadm form (colons, dashes or none between hex digits).
func ParseUUID(s string) (UUID, error) {
	var u UUID
	h := strings.NewReplacer(":", "", "-", "").Replace(strings.TrimSpace(s))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		return u, fmt.Errorf("md: bad array UUID %q", s)
	}
	copy(u[:], b)
	return u, nil
}

// DataOffset returns the data offset (in sectors) mdadm 4.2 picks for a
// v1.2 member of devSectors sectors: room for the superblock, bad-block log
// and bitmap, plus about 0.1% (at most 128 MiB) of reshape headroom, rounded
// up to 1 MiB. chunkSectors is the RAID0 chunk (0 for RAID1), which bounds
// how far the headroom shrinks.
func DataOffset(devSectors, chunkSectors uint64) uint64 {
	headroom := uint64(128 * 1024 * 2)
	for headroom<<10 > devSectors && (chunkSectors == 0 || headroom/2 >= chunkSectors*2) {
		headroom >>= 1
	}
	off := 12*2 + bitmapSpace(devSectors) + headroom
	return (off + 2047) / 2048 * 2048
}

// bitmapSpace is mdadm's choose_bm_space.
func bitmapSpace(dev uint64) uint64 {
	switch {
	case dev < 64*2:
		return 0
	case dev-64*2 >= 200*1024*1024*2:
		return 128 * 2
	case dev-4*2 > 8*1024*1024*2:
		return 64 * 2
	}
	return 4 * 2
}

// Array describes a whole array; NewArray fills it in.
type Array struct {
	Level Level
	// Name is the set_name, "homehost:name" (at most 32 bytes).
	Name string
	// UUID is the set UUID, the same on every member.
	UUID UUID
	// DeviceUUIDs holds each member's device UUID.
	DeviceUUIDs []UUID
	// Ctime is the creation time written to ctime and utime.
	Ctime time.Time
	// MemberSectors is the size of each member (partition) in sectors.
	MemberSectors uint64
	// DataOffset is where data starts on each member, in sectors.
	DataOffset uint64
}

// NewArray lays out an array of n members of memberBytes each. Random UUIDs
// are read from rnd (crypto/rand.Reader in production, a fixed stream in
// tests); a zero setUUID means "pick one".
func NewArray(level Level, n int, memberBytes int64, name string, setUUID UUID, rnd io.Reader, now time.Time) (*Array, error) {
	if level != RAID0 && level != RAID1 {
		return nil, fmt.Errorf("md: unsupported level %d", level)
	}
	if n < 1 || n > MaxDev || (level == RAID0 && n < 2) {
		return nil, fmt.Errorf("md: %v with %d members is not supported", level, n)
	}
	if len(name) > 32 {
		return nil, fmt.Errorf("md: set name %q is longer than 32 bytes", name)
	}
	a := &Array{Level: level, Name: name, UUID: setUUID, Ctime: now, MemberSectors: uint64(memberBytes) / sectorSize}
	if setUUID == (UUID{}) {
		if _, err := io.ReadFull(rnd, a.UUID[:]); err != nil {
			return nil, fmt.Errorf("md: random set UUID: %w", err)
		}
	}
	a.DeviceUUIDs = make([]UUID, n)
	for i := range a.DeviceUUIDs {
		if _, err := io.ReadFull(rnd, a.DeviceUUIDs[i][:]); err != nil {
			return nil, fmt.Errorf("md: random device UUID: %w", err)
		}
	}
	var chunk uint64
	if level == RAID0 {
		chunk = ChunkSectors
	}
	a.DataOffset = DataOffset(a.MemberSectors, chunk)
	if a.DataOffset+chunk+8 >= a.MemberSectors {
		return nil, fmt.Errorf("md: members of %d bytes are too small for a v1.2 array", memberBytes)
	}
	return a, nil
}

// Devices returns the number of members.
func (a *Array) Devices() int { return len(a.DeviceUUIDs) }

// DataSize is the number of data sectors on each member.
func (a *Array) DataSize() uint64 { return a.MemberSectors - a.DataOffset }

// size is the RAID1 "size" field: data sectors used per device, a whole
// number of 64 KiB.
func (a *Array) size() uint64 {
	if a.Level == RAID0 {
		return 0
	}
	return a.DataSize() &^ 127
}

// ArrayBytes is the size of the assembled array in bytes.
func (a *Array) ArrayBytes() int64 {
	if a.Level == RAID1 {
		return int64(a.size()) * sectorSize
	}
	perMember := a.DataSize() / ChunkSectors * ChunkSectors
	return int64(perMember) * sectorSize * int64(a.Devices())
}

// Superblock returns member i's 512-byte v1.2 superblock.
func (a *Array) Superblock(i int) []byte {
	b := make([]byte, SuperblockSize)
	le := binary.LittleEndian
	le.PutUint32(b[0x00:], Magic)
	le.PutUint32(b[0x04:], 1) // major_version
	le.PutUint32(b[0x08:], 0) // feature_map
	copy(b[0x10:0x20], a.UUID[:])
	copy(b[0x20:0x40], a.Name)
	ctime := uint64(a.Ctime.Unix()) & (1<<40 - 1)
	le.PutUint64(b[0x40:], ctime)
	le.PutUint32(b[0x48:], uint32(a.Level))
	if a.Level == RAID0 {
		le.PutUint32(b[0x4C:], 1) // layout as mdadm 4.2 writes for RAID0
		le.PutUint32(b[0x58:], ChunkSectors)
	}
	le.PutUint64(b[0x50:], a.size())
	le.PutUint32(b[0x5C:], uint32(a.Devices()))
	le.PutUint64(b[0x80:], a.DataOffset)
	le.PutUint64(b[0x88:], a.DataSize())
	le.PutUint64(b[0x90:], SuperOffset)
	le.PutUint32(b[0xA0:], uint32(i))
	copy(b[0xA8:0xB8], a.DeviceUUIDs[i][:])
	le.PutUint16(b[0xBA:], BadBlockLogSize)
	le.PutUint32(b[0xBC:], uint32(a.badBlockLogOffset()))
	le.PutUint64(b[0xC0:], ctime) // utime
	le.PutUint64(b[0xC8:], 1)     // events
	le.PutUint64(b[0xD0:], ^uint64(0))
	le.PutUint32(b[0xDC:], MaxDev)
	for r := range MaxDev {
		role := uint16(0xffff)
		if r < a.Devices() {
			role = uint16(r)
		}
		le.PutUint16(b[0x100+2*r:], role)
	}
	le.PutUint32(b[0xD8:], Checksum(b))
	return b
}

// badBlockLogOffset is in sectors from the superblock, as mdadm 4.2 places it.
func (a *Array) badBlockLogOffset() int64 {
	if a.Level == RAID1 {
		return 16
	}
	return 8
}

// Checksum computes sb_csum over a superblock (its sb_csum field counts as 0).
func Checksum(sb []byte) uint32 {
	le := binary.LittleEndian
	maxDev := le.Uint32(sb[0xDC:])
	n := min(256+2*int(maxDev), len(sb))
	var s uint64
	for off := 0; off+4 <= n; off += 4 {
		if off == 0xD8 {
			continue
		}
		s += uint64(le.Uint32(sb[off:]))
	}
	if n%4 == 2 {
		s += uint64(le.Uint16(sb[n-2:]))
	}
	return uint32((s & 0xffffffff) + (s >> 32))
}

// WriteMetadata writes member i's superblock and empty bad-block log into
// the member (partition) w; data goes from DataOffset on.
func (a *Array) WriteMetadata(w io.WriterAt, i int) error {
	if _, err := w.WriteAt(a.Superblock(i), SuperOffset*sectorSize); err != nil {
		return fmt.Errorf("md: writing superblock: %w", err)
	}
	// An empty log is all ones: a zero entry would be a bad-block record.
	bbl := make([]byte, BadBlockLogSize*sectorSize)
	for j := range bbl {
		bbl[j] = 0xff
	}
	if _, err := w.WriteAt(bbl, (SuperOffset+a.badBlockLogOffset())*sectorSize); err != nil {
		return fmt.Errorf("md: writing bad-block log: %w", err)
	}
	return nil
}

// Extent is a run of array bytes stored contiguously on one member.
type Extent struct {
	// Member is the member's role.
	Member int
	// MemberOff is the byte offset on the member (data_offset included).
	MemberOff int64
	// ArrayOff is the byte offset in the array.
	ArrayOff int64
	// Len is the number of bytes.
	Len int64
}

// ErrRange is returned for array ranges past the end of the array.
var ErrRange = errors.New("md: range outside the array")

// Map splits the array byte range [off, off+n) into the member extents
// holding it. For RAID1 it returns one extent per member (each holds all).
func (a *Array) Map(off, n int64) ([]Extent, error) {
	if off < 0 || n < 0 || off+n > a.ArrayBytes() {
		return nil, ErrRange
	}
	base := int64(a.DataOffset) * sectorSize
	var out []Extent
	if a.Level == RAID1 {
		for m := range a.Devices() {
			out = append(out, Extent{m, base + off, off, n})
		}
		return out, nil
	}
	N := int64(a.Devices())
	for n > 0 {
		k := off / ChunkBytes
		in := off % ChunkBytes
		l := min(n, ChunkBytes-in)
		out = append(out, Extent{int(k % N), base + (k/N)*ChunkBytes + in, off, l})
		off += l
		n -= l
	}
	return out, nil
}

// ConfLine returns the mdadm.conf ARRAY line for the array as /dev/md0.
func (a *Array) ConfLine() string {
	return fmt.Sprintf("ARRAY /dev/md0 metadata=1.2 UUID=%s name=%s", a.UUID, a.Name)
}
