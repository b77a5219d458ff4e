package disk

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// FSInfo is what a superblock says about a partition's content.
type FSInfo struct {
	// Type follows blkid's names: ext2, ext3, ext4, vfat, exfat, ntfs, xfs,
	// btrfs, f2fs, swap, squashfs, iso9660, crypto_LUKS, LVM2_member,
	// linux_raid_member.
	Type string
	// Label is the filesystem label, if any.
	Label string
	// UUID is the filesystem UUID (a FAT volume serial as "ABCD-1234").
	UUID string
}

// Probe identifies the filesystem or volume-manager signature at the start
// (and, for md 1.0/0.90, the end) of r, which holds size bytes. It reads
// only a few small blocks. ok is false when nothing is recognised or r is
// too short; read errors other than a short read are returned.
func Probe(r io.ReaderAt, size int64) (info FSInfo, ok bool, err error) {
	p := &prober{r: r, size: size}
	for _, f := range []func(*prober) (FSInfo, bool){
		probeLUKS, probeLVM, probeMD1, probeXFS, probeBtrfs, probeExt, probeF2FS,
		probeSwap, probeSquashfs, probeExFAT, probeNTFS, probeVFAT, probeISO9660, probeMDEnd,
	} {
		info, ok = f(p)
		if p.err != nil {
			return FSInfo{}, false, p.err
		}
		if ok {
			return info, true, nil
		}
	}
	return FSInfo{}, false, nil
}

type prober struct {
	r    io.ReaderAt
	size int64
	err  error
}

// read returns n bytes at off, or nil when they lie beyond the end.
func (p *prober) read(off int64, n int) []byte {
	if off < 0 || p.err != nil || (p.size > 0 && off+int64(n) > p.size) {
		return nil
	}
	b := make([]byte, n)
	m, err := p.r.ReadAt(b, off)
	if m == n {
		return b
	}
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		p.err = fmt.Errorf("reading %d bytes at %d: %w", n, off, err)
	}
	return nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := strings.TrimRight(string(b), " ")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return s
}

func uuidString(b []byte) string {
	if len(b) != 16 || bytes.Equal(b, make([]byte, 16)) {
		return ""
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func probeLUKS(p *prober) (FSInfo, bool) {
	b := p.read(0, 592)
	if b == nil || !bytes.Equal(b[:6], []byte("LUKS\xba\xbe")) {
		return FSInfo{}, false
	}
	info := FSInfo{Type: "crypto_LUKS", UUID: cstr(b[168:208])}
	if binary.BigEndian.Uint16(b[6:8]) == 2 {
		info.Label = cstr(b[24:72])
	}
	return info, true
}

func probeLVM(p *prober) (FSInfo, bool) {
	for sector := int64(0); sector < 4; sector++ {
		b := p.read(sector*512, 512)
		if b == nil {
			return FSInfo{}, false
		}
		if string(b[0:8]) != "LABELONE" || string(b[24:32]) != "LVM2 001" {
			continue
		}
		u := string(b[32:64])
		if len(u) == 32 {
			u = u[0:6] + "-" + u[6:10] + "-" + u[10:14] + "-" + u[14:18] + "-" + u[18:22] + "-" + u[22:26] + "-" + u[26:32]
		}
		return FSInfo{Type: "LVM2_member", UUID: u}, true
	}
	return FSInfo{}, false
}

const mdMagic = 0xa92b4efc

// md superblock 1.x: magic, major_version, feature_map, pad, set_uuid[16], set_name[32].
func mdV1(b []byte) (FSInfo, bool) {
	if b == nil || binary.LittleEndian.Uint32(b[0:4]) != mdMagic || binary.LittleEndian.Uint32(b[4:8]) != 1 {
		return FSInfo{}, false
	}
	return FSInfo{Type: "linux_raid_member", UUID: uuidString(b[16:32]), Label: cstr(b[32:64])}, true
}

func probeMD1(p *prober) (FSInfo, bool) {
	if info, ok := mdV1(p.read(4096, 64)); ok { // 1.2
		return info, true
	}
	return mdV1(p.read(0, 64)) // 1.1
}

func probeMDEnd(p *prober) (FSInfo, bool) {
	if p.size < 128*1024 {
		return FSInfo{}, false
	}
	// 1.0: 8 KiB from the end, 4 KiB aligned.
	if info, ok := mdV1(p.read((p.size-8192)&^4095, 64)); ok {
		return info, true
	}
	// 0.90: the last 64 KiB-aligned 64 KiB block.
	b := p.read((p.size&^65535)-65536, 64)
	if b != nil && binary.LittleEndian.Uint32(b[0:4]) == mdMagic {
		return FSInfo{Type: "linux_raid_member"}, true
	}
	return FSInfo{}, false
}

func probeXFS(p *prober) (FSInfo, bool) {
	b := p.read(0, 120)
	if b == nil || string(b[0:4]) != "XFSB" {
		return FSInfo{}, false
	}
	return FSInfo{Type: "xfs", UUID: uuidString(b[32:48]), Label: cstr(b[108:120])}, true
}

func probeBtrfs(p *prober) (FSInfo, bool) {
	b := p.read(0x10000, 0x12b+256)
	if b == nil || string(b[0x40:0x48]) != "_BHRfS_M" {
		return FSInfo{}, false
	}
	return FSInfo{Type: "btrfs", UUID: uuidString(b[0x20:0x30]), Label: cstr(b[0x12b:])}, true
}

func probeExt(p *prober) (FSInfo, bool) {
	b := p.read(1024, 136)
	if b == nil || binary.LittleEndian.Uint16(b[56:58]) != 0xEF53 {
		return FSInfo{}, false
	}
	compat := binary.LittleEndian.Uint32(b[92:96])
	incompat := binary.LittleEndian.Uint32(b[96:100])
	roCompat := binary.LittleEndian.Uint32(b[100:104])
	typ := "ext2"
	const (
		compatJournal   = 0x4
		incompatJournal = 0x8 // external journal device
		ext4Incompat    = 0x40 | 0x80 | 0x200 | 0x400 | 0x1000 | 0x8000 | 0x10000 | 0x20000
		ext4ROCompat    = 0x8 | 0x10 | 0x20 | 0x40 | 0x400
	)
	switch {
	case incompat&incompatJournal != 0:
		typ = "jbd"
	case incompat&ext4Incompat != 0 || roCompat&ext4ROCompat != 0:
		typ = "ext4"
	case compat&compatJournal != 0:
		typ = "ext3"
	}
	return FSInfo{Type: typ, UUID: uuidString(b[104:120]), Label: cstr(b[120:136])}, true
}

func probeF2FS(p *prober) (FSInfo, bool) {
	b := p.read(1024, 4)
	if b == nil || binary.LittleEndian.Uint32(b) != 0xF2F52010 {
		return FSInfo{}, false
	}
	return FSInfo{Type: "f2fs"}, true
}

func probeSwap(p *prober) (FSInfo, bool) {
	for _, page := range []int64{4096, 8192, 16384, 65536} {
		b := p.read(page-10, 10)
		if b == nil {
			return FSInfo{}, false
		}
		if string(b) != "SWAPSPACE2" && string(b) != "SWAP-SPACE" {
			continue
		}
		info := FSInfo{Type: "swap"}
		if string(b) == "SWAPSPACE2" {
			if h := p.read(1024, 44); h != nil {
				info.UUID = uuidString(h[12:28])
				info.Label = cstr(h[28:44])
			}
		}
		return info, true
	}
	return FSInfo{}, false
}

func probeSquashfs(p *prober) (FSInfo, bool) {
	b := p.read(0, 4)
	if b == nil || string(b) != "hsqs" {
		return FSInfo{}, false
	}
	return FSInfo{Type: "squashfs"}, true
}

func probeExFAT(p *prober) (FSInfo, bool) {
	b := p.read(0, 512)
	if b == nil || string(b[3:11]) != "EXFAT   " {
		return FSInfo{}, false
	}
	s := binary.LittleEndian.Uint32(b[100:104])
	return FSInfo{Type: "exfat", UUID: fmt.Sprintf("%04X-%04X", s>>16, s&0xffff)}, true
}

func probeNTFS(p *prober) (FSInfo, bool) {
	b := p.read(0, 512)
	if b == nil || string(b[3:11]) != "NTFS    " {
		return FSInfo{}, false
	}
	return FSInfo{Type: "ntfs", UUID: fmt.Sprintf("%016X", binary.LittleEndian.Uint64(b[72:80]))}, true
}

func probeVFAT(p *prober) (FSInfo, bool) {
	b := p.read(0, 512)
	if b == nil || b[510] != 0x55 || b[511] != 0xAA {
		return FSInfo{}, false
	}
	var serial uint32
	var label string
	switch {
	case string(b[82:87]) == "FAT32":
		serial, label = binary.LittleEndian.Uint32(b[67:71]), cstr(b[71:82])
	case string(b[54:59]) == "FAT12" || string(b[54:59]) == "FAT16" || string(b[54:57]) == "FAT":
		serial, label = binary.LittleEndian.Uint32(b[39:43]), cstr(b[43:54])
	default:
		return FSInfo{}, false
	}
	if label == "NO NAME" {
		label = ""
	}
	return FSInfo{Type: "vfat", Label: label, UUID: fmt.Sprintf("%04X-%04X", serial>>16, serial&0xffff)}, true
}

func probeISO9660(p *prober) (FSInfo, bool) {
	b := p.read(32768, 72)
	if b == nil || string(b[1:6]) != "CD001" {
		return FSInfo{}, false
	}
	return FSInfo{Type: "iso9660", Label: cstr(b[40:72])}, true
}
