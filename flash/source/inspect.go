package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/partition"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

// Info describes an image without expanding it.
type Info struct {
	// Path is the image file.
	Path string `json:"path"`
	// Format is the detected format.
	Format Format `json:"format"`
	// Size is the expanded size in bytes.
	Size int64 `json:"size"`
	// DataSize is the number of bytes a write will copy.
	DataSize int64 `json:"data_size"`
	// Table is "mbr", "gpt" or "" when no partition table was found.
	Table string `json:"table"`
	// Partitions lists the partitions of the table.
	Partitions []PartitionInfo `json:"partitions"`
	// Warnings says how the image was read, when that matters.
	Warnings []string `json:"warnings,omitempty"`
}

// PartitionInfo is one partition of an image.
type PartitionInfo struct {
	// Index is the partition number (1-based).
	Index int `json:"index"`
	// Type is the partition type: an MBR type byte ("0x0c") or a GPT type GUID.
	Type string `json:"type"`
	// TypeName is a readable name for Type, when known.
	TypeName string `json:"type_name,omitempty"`
	// Start is the offset in bytes.
	Start int64 `json:"start"`
	// Size is the length in bytes.
	Size int64 `json:"size"`
	// Name is the GPT partition name.
	Name string `json:"name,omitempty"`
	// Filesystem is "vfat", "ext4", "ext2/3", "linux_raid_member" or "" when
	// unknown or not read.
	Filesystem string `json:"filesystem,omitempty"`
	// Label is the filesystem label, when read.
	Label string `json:"label,omitempty"`
}

const (
	headSize = 1 << 20
	fsProbe  = 8 << 10
	// streamBudget bounds how far Inspect decodes a compressed image to
	// read filesystem labels.
	streamBudget = 64 << 20
)

// Inspect opens the image at path and reports its format, sizes and
// partition table. For compressed images it decodes only the first MiB
// plus, for filesystem labels, partitions starting in the first 64 MiB.
func Inspect(path string) (*Info, error) {
	src, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	info := &Info{Path: path, Format: src.Format(), Size: src.Size(), DataSize: src.DataSize()}
	if w, ok := src.(Warner); ok {
		info.Warnings = w.Warnings()
	}
	col := &collector{src: src}
	if rs, ok := src.(*rawSource); ok {
		if ra, ok := rs.r.(io.ReaderAt); ok {
			col.at = ra
		}
	}
	head := make([]byte, min(int64(headSize), info.Size))
	if err := col.read(head, 0); err != nil {
		return nil, err
	}
	mem := &memFile{data: head, size: info.Size}
	tbl, err := readTable(mem)
	if err != nil {
		info.Warnings = append(info.Warnings, "no partition table found")
		return info, nil
	}
	switch t := tbl.(type) {
	case *mbr.Table:
		info.Table = "mbr"
		for i, p := range t.Partitions {
			if p == nil || p.Type == mbr.Empty || p.Size == 0 {
				continue
			}
			info.Partitions = append(info.Partitions, PartitionInfo{
				Index: i + 1, Type: fmt.Sprintf("0x%02x", byte(p.Type)), TypeName: mbrNames[byte(p.Type)],
				Start: int64(p.Start) * 512, Size: int64(p.Size) * 512,
			})
		}
	case *gpt.Table:
		info.Table = "gpt"
		for i, p := range t.Partitions {
			if p == nil || p.Type == gpt.Unused {
				continue
			}
			info.Partitions = append(info.Partitions, PartitionInfo{
				Index: i + 1, Type: strings.ToUpper(string(p.Type)), TypeName: gptNames[strings.ToUpper(string(p.Type))],
				Start: int64(p.Start) * 512, Size: int64(p.End-p.Start+1) * 512, Name: p.Name,
			})
		}
	}
	sort.Slice(info.Partitions, func(i, j int) bool { return info.Partitions[i].Start < info.Partitions[j].Start })
	for i := range info.Partitions {
		p := &info.Partitions[i]
		if col.at == nil && p.Start+fsProbe > streamBudget {
			continue
		}
		b := make([]byte, min(fsProbe, p.Size))
		if p.Start+int64(len(b)) > info.Size {
			continue
		}
		if err := col.read(b, p.Start); err != nil {
			return nil, err
		}
		p.Filesystem, p.Label = probeFS(b)
	}
	return info, nil
}

// readTable reads the partition table, turning a panic of the table
// parser on malformed bytes into an error.
func readTable(f *memFile) (t partition.Table, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("malformed partition table: %v", r)
		}
	}()
	return partition.Read(f, 512, 512)
}

var mbrNames = map[byte]string{
	0x01: "FAT12", 0x04: "FAT16 <32M", 0x05: "Extended", 0x06: "FAT16", 0x07: "NTFS/exFAT",
	0x0b: "W95 FAT32", 0x0c: "W95 FAT32 (LBA)", 0x0e: "W95 FAT16 (LBA)", 0x0f: "W95 Ext'd (LBA)",
	0x82: "Linux swap", 0x83: "Linux", 0x8e: "Linux LVM", 0xda: "Non-FS data",
	0xee: "GPT protective", 0xef: "EFI (FAT)", 0xfd: "Linux raid autodetect",
}

var gptNames = map[string]string{
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
	"A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "Microsoft basic data",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
	"21686148-6449-6E6F-744E-656564454649": "BIOS boot",
}

// probeFS names the filesystem whose first bytes are b, and its label.
func probeFS(b []byte) (fstype, label string) {
	trim := func(s []byte) string {
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return strings.TrimSpace(string(s))
	}
	if len(b) >= 4096+4 && binary.LittleEndian.Uint32(b[4096:]) == 0xa92b4efc {
		return "linux_raid_member", trim(b[4096+0x20 : 4096+0x40])
	}
	if len(b) >= 2048 && binary.LittleEndian.Uint16(b[1024+0x38:]) == 0xEF53 {
		incompat := binary.LittleEndian.Uint32(b[1024+0x60:])
		t := "ext2/3"
		if incompat&0x40 != 0 { // extents
			t = "ext4"
		}
		return t, trim(b[1024+0x78 : 1024+0x88])
	}
	if len(b) >= 512 && b[510] == 0x55 && b[511] == 0xAA {
		l := ""
		switch {
		case bytes.HasPrefix(b[0x52:], []byte("FAT32")):
			l = trim(b[0x47:0x52])
		case bytes.HasPrefix(b[0x36:], []byte("FAT")):
			l = trim(b[0x2B:0x36])
		default:
			return "", ""
		}
		if l == "NO NAME" {
			l = ""
		}
		return "vfat", l
	}
	return "", ""
}

// collector reads bytes of the expanded image at increasing offsets,
// walking the source's extents (zeros outside them), or straight from a
// ReaderAt for raw images.
type collector struct {
	src  Source
	at   io.ReaderAt
	ext  Extent
	r    io.Reader
	pos  int64 // next unread byte inside ext
	done bool
}

func (c *collector) read(p []byte, off int64) error {
	if c.at != nil {
		_, err := c.at.ReadAt(p, off)
		if err != nil {
			return fmt.Errorf("reading image: %w", err)
		}
		return nil
	}
	clear(p)
	end := off + int64(len(p))
	for {
		if c.r == nil || c.pos >= c.ext.End() {
			if c.done {
				return nil
			}
			e, r, err := c.src.Next()
			if errors.Is(err, io.EOF) {
				c.done = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading image: %w", err)
			}
			c.ext, c.r, c.pos = e, r, e.Offset
		}
		if c.ext.Offset >= end {
			return nil
		}
		if c.pos < off {
			skip := min(off, c.ext.End()) - c.pos
			if _, err := io.CopyN(io.Discard, c.r, skip); err != nil {
				return fmt.Errorf("reading image: %w", err)
			}
			c.pos += skip
			continue
		}
		n := min(end, c.ext.End()) - c.pos
		if _, err := io.ReadFull(c.r, p[c.pos-off:c.pos-off+n]); err != nil {
			return fmt.Errorf("reading image: %w", err)
		}
		c.pos += n
		if c.pos < c.ext.End() {
			return nil
		}
	}
}

// memFile is the head of an image seen as a file of the full size (zeros
// past the head), for the partition table reader.
type memFile struct {
	data []byte
	size int64
	off  int64
}

func (m *memFile) Stat() (fs.FileInfo, error) { return memInfo{m.size}, nil }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Read(p []byte) (int, error) {
	n, err := m.ReadAt(p, m.off)
	m.off += int64(n)
	return n, err
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= m.size {
		return 0, io.EOF
	}
	n := len(p)
	if int64(n) > m.size-off {
		n = int(m.size - off)
	}
	clear(p[:n])
	if off < int64(len(m.data)) {
		copy(p[:n], m.data[off:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += m.off
	case io.SeekEnd:
		off += m.size
	}
	if off < 0 {
		return 0, errors.New("negative seek")
	}
	m.off = off
	return off, nil
}

type memInfo struct{ size int64 }

func (i memInfo) Name() string       { return "image" }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
