package flash

import (
	"sort"
	"unsafe"
)

// clearSkipped zeroes, on a disk, the parts of the signature windows
// (the first and last MiB of the image and of each partition its first
// MiB describes) that the image left unwritten, so that no filesystem, md
// superblock or partition table of the disk's old contents is found
// inside the new layout. The zeroed ranges join the verify records. It
// runs before the first MiB is written: until then no layout is valid.
func (w *writer) clearSkipped() error {
	if !w.sink.isDevice() || w.res.Skipped == 0 {
		return nil
	}
	var head []byte
	if w.head != nil {
		head = w.head
	}
	win := signatureWindows(head, w.src.Size())
	zeros := alignedBuf(headSize)
	for _, e := range skippedIn(win, w.written) {
		// The first MiB was zeroed before streaming.
		lo := max(e.Offset, headSize)
		for lo < e.End() {
			n := min(e.End()-lo, int64(len(zeros)))
			if err := w.sink.writeAt(zeros[:n], lo); err != nil {
				return err
			}
			w.addZeroRecs(lo, n)
			w.res.Cleared += n
			lo += n
		}
	}
	if w.res.Cleared > 0 {
		sort.Slice(w.recs, func(i, j int) bool { return w.recs[i].off < w.recs[j].off })
		if err := w.sink.sync(); err != nil {
			return err
		}
	}
	return nil
}

// addZeroRecs adds verify records for n zero bytes at off: the verify
// checks that they read back as zeros.
func (w *writer) addZeroRecs(off, n int64) {
	for end := off + n; off < end; {
		k := min(end-off, (off/verifyBlock+1)*verifyBlock-off)
		w.recs = append(w.recs, rec{off: off, n: int32(k), zero: true})
		off += k
	}
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if *(*uint64)(unsafe.Pointer(&b[0])) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
