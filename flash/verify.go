package flash

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/zeebo/xxh3"

	"github.com/pistudio/pistudio/flash/source"
)

// verify reads back every written range and compares it with the hashes
// taken while writing. One goroutine reads the next batch while this one
// hashes the last.
func (w *writer) verify(ctx context.Context) error {
	if err := w.sink.prepareVerify(); err != nil {
		return err
	}
	var total int64
	for _, r := range w.recs {
		total += int64(r.n)
	}
	rep := w.report(Verifying, total)
	batches, stop := w.readBack()
	defer stop()
	var vdone int64
	err := func() error {
		for bt := range batches {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("verify cancelled: %w", err)
			}
			if bt.err != nil {
				return fmt.Errorf("reading back %s at byte %d: %w", w.target.Path, bt.lo, bt.err)
			}
			for _, r := range w.recs[bt.i:bt.j] {
				got := bt.b[r.off-bt.lo : r.off-bt.lo+int64(r.n)]
				if !r.matches(got) {
					if r.zero {
						return &VerifyError{Offset: r.off + int64(firstNonZero(got)), Path: w.target.Path}
					}
					return &VerifyError{Offset: w.firstDiff(r, got), Path: w.target.Path}
				}
				vdone += int64(r.n)
				w.done.Store(vdone)
			}
			testPause("verify", vdone)
			bt.release()
		}
		return nil
	}()
	rep(err == nil)
	return err
}

// matches reports whether got, read back, is what r recorded.
func (r rec) matches(got []byte) bool {
	if r.zero {
		return isZero(got)
	}
	return xxh3.Hash(got) == r.sum
}

// firstNonZero returns the index of the first byte of b that is not zero
// (0 when there is none).
func firstNonZero(b []byte) int {
	for i, c := range b {
		if c != 0 {
			return i
		}
	}
	return 0
}

// readBatch is one aligned read covering the records recs[i:j].
type readBatch struct {
	b       []byte
	lo      int64
	i, j    int
	err     error
	release func() // gives b back for the next read
}

// readBack reads the written ranges in aligned batches of at most a
// buffer, one batch ahead of the consumer. stop ends the reading early
// and returns once no read is running.
func (w *writer) readBack() (<-chan readBatch, func()) {
	bs := w.sink.blockSize()
	free := make(chan []byte, 2)
	for range 2 {
		free <- alignedBuf(w.opts.BufferSize + 2*int(bs))
	}
	out := make(chan readBatch)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		for i := 0; i < len(w.recs); {
			var buf []byte
			select {
			case buf = <-free:
			case <-quit:
				return
			}
			// Batch records that fit one aligned read.
			lo := w.recs[i].off &^ (bs - 1)
			j := i
			var hi int64
			for j < len(w.recs) {
				end := w.recs[j].off + int64(w.recs[j].n)
				ahi := (end + bs - 1) &^ (bs - 1)
				if ahi-lo > int64(len(buf)) {
					break
				}
				hi = ahi
				j++
			}
			hi = min(hi, w.deviceEnd())
			bt := readBatch{b: buf[:hi-lo], lo: lo, i: i, j: j, release: func() { free <- buf }}
			bt.err = w.sink.readAt(bt.b, lo)
			select {
			case out <- bt:
			case <-quit:
				return
			}
			if bt.err != nil {
				return
			}
			i = j
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

// deviceEnd bounds read-backs: the image end rounded up to a sector.
func (w *writer) deviceEnd() int64 {
	bs := w.sink.blockSize()
	return (w.src.Size() + bs - 1) &^ (bs - 1)
}

// firstDiff finds the first differing byte of record r, whose bytes read
// back are got, by reading the image again; without a way to reopen the
// image it reports the record's first byte.
func (w *writer) firstDiff(r rec, got []byte) int64 {
	ro, ok := w.src.(source.Reopener)
	if !ok {
		return r.off
	}
	src, err := ro.Reopen()
	if err != nil {
		return r.off
	}
	defer src.Close()
	want := make([]byte, r.n)
	end := r.off + int64(r.n)
	filled := r.off // want is filled up to here
	for filled < end {
		e, rd, err := src.Next()
		if err != nil || e.Offset > filled {
			return r.off // a record never spans a gap
		}
		if e.End() <= filled {
			continue
		}
		if _, err := io.CopyN(io.Discard, rd, filled-e.Offset); err != nil {
			return r.off
		}
		n := min(e.End(), end) - filled
		if _, err := io.ReadFull(rd, want[filled-r.off:filled-r.off+n]); err != nil {
			return r.off
		}
		filled += n
	}
	for i := range want {
		if want[i] != got[i] {
			return r.off + int64(i)
		}
	}
	return r.off
}
