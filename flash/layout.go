package flash

import (
	"encoding/binary"
	"sort"

	"github.com/pistudio/pistudio/flash/source"
)

// sigWindow is how much of each end of a region probers read for
// signatures: filesystems, md superblocks (v1.1/v1.2 at the start, v0.90
// and v1.0 near the end), partition tables and GPT backup headers all lie
// within the first or last MiB of the disk or partition that holds them.
const sigWindow = 1 << 20

// partitionRanges returns the partitions the first MiB of an image
// describes, as byte ranges clipped to [0, size): MBR primary entries
// and, under a protective MBR, GPT entries (512-byte or 4 KiB sectors)
// that lie inside head. Anything malformed is skipped: the head is
// untrusted bytes.
func partitionRanges(head []byte, size int64) []source.Extent {
	if len(head) < 512 || head[510] != 0x55 || head[511] != 0xaa {
		return nil
	}
	var out []source.Extent
	add := func(start, length int64) {
		if start < 0 || length <= 0 || start >= size {
			return
		}
		out = append(out, source.Extent{Offset: start, Length: min(length, size-start)})
	}
	gpt := false
	for i := 0; i < 4; i++ {
		e := head[446+16*i : 446+16*i+16]
		typ := e[4]
		if typ == 0 {
			continue
		}
		if typ == 0xee {
			gpt = true
			continue
		}
		add(int64(binary.LittleEndian.Uint32(e[8:]))*512, int64(binary.LittleEndian.Uint32(e[12:]))*512)
	}
	if gpt {
		for _, ss := range []int64{512, 4096} {
			gptRanges(head, ss, add)
		}
	}
	return out
}

// gptRanges reads the GPT header at sector 1 of ss-byte sectors and
// passes its used entries to add.
func gptRanges(head []byte, ss int64, add func(start, length int64)) {
	if int64(len(head)) < 2*ss || string(head[ss:ss+8]) != "EFI PART" {
		return
	}
	h := head[ss:]
	entLBA := int64(binary.LittleEndian.Uint64(h[72:]))
	n := int64(binary.LittleEndian.Uint32(h[80:]))
	esz := int64(binary.LittleEndian.Uint32(h[84:]))
	if esz < 128 || esz > 4096 || n > 4096 || entLBA < 2 || entLBA > int64(len(head))/ss {
		return
	}
	for i := int64(0); i < n; i++ {
		off := entLBA*ss + i*esz
		if off+esz > int64(len(head)) {
			break
		}
		e := head[off : off+esz]
		if allZeroBytes(e[:16]) {
			continue
		}
		first := int64(binary.LittleEndian.Uint64(e[32:]))
		last := int64(binary.LittleEndian.Uint64(e[40:]))
		if first <= 0 || last < first || last > 1<<50/ss {
			continue
		}
		add(first*ss, (last-first+1)*ss)
	}
}

func allZeroBytes(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// signatureWindows returns the sorted, merged ranges of an image of size
// bytes where a stale signature would be found: the first and last MiB of
// the image and of every partition its head describes.
func signatureWindows(head []byte, size int64) []source.Extent {
	regions := append([]source.Extent{{Offset: 0, Length: size}}, partitionRanges(head, size)...)
	var win []source.Extent
	for _, r := range regions {
		n := min(int64(sigWindow), r.Length)
		win = append(win, source.Extent{Offset: r.Offset, Length: n}, source.Extent{Offset: r.End() - n, Length: n})
	}
	return mergeExtents(win)
}

// mergeExtents sorts ranges and merges the overlapping and adjacent ones.
func mergeExtents(in []source.Extent) []source.Extent {
	sort.Slice(in, func(i, j int) bool { return in[i].Offset < in[j].Offset })
	var out []source.Extent
	for _, e := range in {
		if e.Length <= 0 {
			continue
		}
		if n := len(out); n > 0 && e.Offset <= out[n-1].End() {
			out[n-1].Length = max(out[n-1].End(), e.End()) - out[n-1].Offset
			continue
		}
		out = append(out, e)
	}
	return out
}

// skippedIn returns the parts of the ranges win (sorted, merged) that the
// written ranges (sorted, merged) do not cover.
func skippedIn(win, written []source.Extent) []source.Extent {
	var out []source.Extent
	j := 0
	for _, w := range win {
		pos := w.Offset
		for j < len(written) && written[j].End() <= pos {
			j++
		}
		for k := j; k < len(written) && written[k].Offset < w.End() && pos < w.End(); k++ {
			if written[k].Offset > pos {
				out = append(out, source.Extent{Offset: pos, Length: written[k].Offset - pos})
			}
			pos = max(pos, written[k].End())
		}
		if pos < w.End() {
			out = append(out, source.Extent{Offset: pos, Length: w.End() - pos})
		}
	}
	return out
}
