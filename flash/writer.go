package flash

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/zeebo/xxh3"

	"github.com/pistudio/pistudio/flash/source"
)

// sink is an opened target.
type sink interface {
	// writeAt writes p at off, whatever the alignment.
	writeAt(p []byte, off int64) error
	// readAt reads len(p) bytes at off bypassing the page cache where it
	// can; p is aligned.
	readAt(p []byte, off int64) error
	// zero prepares the target: zeroes the first and last MiB of a disk,
	// truncates a file to size.
	zero(size int64) error
	sync() error
	// prepareVerify drops cached data so that reads come from the medium.
	prepareVerify() error
	// finish re-reads the partition table of a disk.
	finish() []string
	// zeroRange zeroes n bytes at off: a device's write-zeroes, nothing
	// on a new file (it reads as zeros already).
	zeroRange(off, n int64) error
	// dropPartitions makes the kernel forget a disk's partitions.
	dropPartitions() []string
	// wipe zeroes a disk's first and last MiB again, after a failed
	// verify, and makes the kernel forget its partitions.
	wipe() error
	close() error
	// blockSize is the alignment reads need.
	blockSize() int64
	// remove deletes what a failed write created (a file target's
	// temporary file).
	remove()
	// commit makes a successful write final: a file target's temporary
	// file replaces the target.
	commit() error
	// name is the path being written (the temporary file of a file target).
	name() string
	// isDevice is true for a block device.
	isDevice() bool
}

type writer struct {
	src    source.Source
	target Target
	opts   Options
	res    *Result
	sink   sink

	head    []byte          // the first MiB, written last
	headExt []source.Extent // the parts of head that hold data

	recs    []rec           // per-block xxh3 of what was written
	written []source.Extent // the ranges written, merged

	shaCh     chan sums          // the image hashes, once hashed
	shaCancel context.CancelFunc // stops the hasher's trailing zeros

	done atomic.Int64
}

// sums are the hashes of the expanded image.
type sums struct {
	xxh3   string // hex XXH3-128, always
	sha256 string // hex SHA-256, when Options.SHA256
}

// rec is the xxh3 of written bytes [off, off+n) inside one verify block.
type rec struct {
	off  int64
	n    int32
	zero bool // the bytes are zeros (sum unused)
	sum  uint64
}

// verifyBlock is the granularity of the verify hashes.
const verifyBlock = 64 << 10

func (w *writer) run(ctx context.Context) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.src.Size() == 0 {
		return fmt.Errorf("%s: %w", w.imageName(), ErrEmpty)
	}
	s, err := openTarget(w, ctx)
	if err != nil {
		return err
	}
	w.sink = s
	ok := false
	defer func() {
		if cerr := s.close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", w.target.Path, cerr)
		}
		if !ok {
			s.remove()
		}
	}()
	start := time.Now()
	if err := w.prepare(); err != nil {
		return err
	}
	err = w.stream(ctx)
	defer w.shaCancel()
	if err != nil {
		return err
	}
	w.res.Written = w.done.Load()
	w.res.Data = w.res.Written - w.res.Zeroed
	w.res.Skipped = w.src.Size() - w.res.Written
	if err := s.sync(); err != nil {
		return err
	}
	if err := w.clearSkipped(); err != nil {
		return err
	}
	testPause("cleared", 0)
	if err := w.writeHead(); err != nil {
		return err
	}
	testPause("head", 0)
	w.res.Warnings = append(w.res.Warnings, s.finish()...)
	w.res.WriteTime = time.Since(start)
	if !w.opts.NoVerify {
		if err := w.checkBack(ctx); err != nil {
			return err
		}
	}
	w.setSums()
	if err := s.commit(); err != nil {
		return err
	}
	ok = true
	return nil
}

// prepare makes the target blank before the first byte of the image:
// the kernel forgets the disk's partitions and its first and last MiB are
// zeroed (a file target is sized).
func (w *writer) prepare() error {
	testPause("open", 0)
	w.res.Warnings = append(w.res.Warnings, w.sink.dropPartitions()...)
	testPause("dropped", 0)
	if err := w.sink.zero(w.src.Size()); err != nil {
		return err
	}
	if err := w.sink.sync(); err != nil {
		return err
	}
	testPause("zeroed", 0)
	return nil
}

// writeHead writes the first MiB, held back until everything else is on
// the medium: all of it but the first sector, a flush, then the first
// sector (the MBR or protective MBR) and a flush, so that no partition
// table is valid before the whole image is written.
func (w *writer) writeHead() error {
	bs := w.sink.blockSize()
	for _, first := range []bool{false, true} {
		for _, e := range w.headExt {
			lo, hi := e.Offset, e.End()
			if first {
				hi = min(hi, bs)
			} else {
				lo = max(lo, bs)
			}
			if lo >= hi {
				continue
			}
			if err := w.sink.writeAt(w.head[lo:hi], lo); err != nil {
				return err
			}
		}
		if err := w.sink.sync(); err != nil {
			return err
		}
		if !first {
			testPause("head-body", 0)
		}
	}
	return nil
}

// checkBack verifies the write. A disk that fails gets its first and
// last MiB zeroed again, so that the bad copy does not look like a good
// one.
func (w *writer) checkBack(ctx context.Context) error {
	if w.opts.beforeVerify != nil {
		if err := w.opts.beforeVerify(w.sink.name()); err != nil {
			return err
		}
	}
	start := time.Now()
	err := w.verify(ctx)
	if err == nil {
		w.res.VerifyTime = time.Since(start)
		w.res.Verified = true
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if w.sink.isDevice() {
			return fmt.Errorf("the image is fully written to %s but not verified: %w", w.target.Path, err)
		}
		return fmt.Errorf("the image was fully written but not verified, and %s was left unchanged: %w", w.target.Path, err)
	}
	if !w.sink.isDevice() {
		return err
	}
	if werr := w.sink.wipe(); werr != nil {
		return fmt.Errorf("%w; erasing the partition table of %s afterwards also failed: %w", err, w.target.Path, werr)
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		ve.Wiped = true
		return err
	}
	return fmt.Errorf("%w; the partition table of %s was erased (first and last MiB zeroed) so that the unverified copy is not used", err, w.target.Path)
}

// imageName names the image in messages: its file, or "image".
func (w *writer) imageName() string {
	if p := sourcePaths(w.src); len(p) > 0 {
		return p[0]
	}
	return "image"
}

// sourcePaths lists the files src reads (the image data file first).
func sourcePaths(src source.Source) []string {
	if p, ok := src.(source.Pather); ok {
		return p.Paths()
	}
	if p, ok := src.(interface{ Path() string }); ok && p.Path() != "" {
		return []string{p.Path()}
	}
	return nil
}

// alignedBuf returns n bytes aligned to 4096 in memory.
func alignedBuf(n int) []byte {
	b := make([]byte, n+4096)
	a := int(uintptr(unsafe.Pointer(&b[0])) & 4095)
	if a != 0 {
		a = 4096 - a
	}
	return b[a : a+n : a+n]
}

// chunk is a filled buffer: n bytes of the image at off; or, with zero
// set, n zero bytes at off and no buffer.
type chunk struct {
	buf  []byte
	off  int64
	n    int
	zero bool
}

// pipeline streams the source to the sink and returns the image hashes,
// waiting for the hasher to finish.
func (w *writer) pipeline(ctx context.Context) (sums, error) {
	if err := w.stream(ctx); err != nil {
		w.shaCancel()
		return sums{}, err
	}
	return w.sum(), nil
}

// stream streams the source to the sink; w.sum returns the image hashes
// once the hasher is done.
func (w *writer) stream(ctx context.Context) error {
	nb := w.opts.Buffers
	free := make(chan []byte, nb)
	for i := 0; i < nb; i++ {
		free <- alignedBuf(w.opts.BufferSize)
	}
	toWrite := make(chan chunk, nb)
	toHash := make(chan chunk, nb)
	stop := make(chan struct{})
	var decErr error
	decDone := make(chan struct{})
	go func() {
		defer close(decDone)
		defer close(toWrite)
		decErr = w.decode(free, toWrite, stop)
	}()
	// The hasher closes recsDone once every chunk is hashed; the image
	// hashes over its trailing unwritten range (zeros) are finished in the
	// background, overlapping the flush and the verify, and read with
	// w.sum.
	recsDone := make(chan struct{})
	w.shaCh = make(chan sums, 1)
	hctx, hcancel := context.WithCancel(context.Background())
	w.shaCancel = hcancel
	go func() {
		w.shaCh <- w.hash(hctx, toHash, free, recsDone)
	}()
	rep := w.report(Writing, w.src.DataSize())
	var werr error
	// giveUp bounds how long a stopped pipeline waits for a decoder stuck
	// in a source read; such a read finishes in the background.
	var deadline time.Time
	giveUp := func() <-chan time.Time {
		if deadline.IsZero() {
			return nil
		}
		return time.After(time.Until(deadline))
	}
	stopOnce := func() {
		select {
		case <-stop:
		default:
			close(stop)
			deadline = time.Now().Add(400 * time.Millisecond)
		}
	}
	ctxDone := ctx.Done()
loop:
	for {
		gu := giveUp()
		select {
		case <-gu:
			break loop
		case c, ok := <-toWrite:
			if !ok {
				break loop
			}
			if werr == nil {
				werr = ctx.Err()
			}
			if werr == nil {
				werr = w.writeChunk(c)
			}
			if werr != nil {
				stopOnce()
				if c.buf != nil {
					free <- c.buf
				}
				continue
			}
			w.done.Add(int64(c.n))
			testPause("stream", c.off+int64(c.n))
			toHash <- c
		case <-ctxDone:
			// Cancel even while the source is stalled: stop the decoder;
			// the loop drains what it still sends until it is done or
			// giveUp fires.
			ctxDone = nil
			if werr == nil {
				werr = ctx.Err()
			}
			stopOnce()
		}
	}
	close(toHash)
	<-recsDone
	select {
	case <-decDone:
		if werr == nil {
			werr = decErr
		}
	case <-giveUp():
	}
	rep(werr == nil)
	return w.streamError(werr)
}

// streamError says what a cancelled write left behind.
func (w *writer) streamError(err error) error {
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if w.sink.isDevice() {
		return fmt.Errorf("write cancelled after %d bytes; the target has no partition table: %w", w.done.Load(), err)
	}
	return fmt.Errorf("write cancelled after %d bytes; %s was left unchanged: %w", w.done.Load(), w.target.Path, err)
}

// sum waits for the image hashes the hasher computes.
func (w *writer) sum() sums {
	return <-w.shaCh
}

// setSums waits for the image hashes and stores them in the result.
func (w *writer) setSums() {
	s := w.sum()
	w.res.XXH3, w.res.SHA256 = s.xxh3, s.sha256
}

// minZeroRun is the shortest run of zeros (a sparse FILL chunk of zeros)
// given to the target's zeroing rather than copied through a buffer.
const minZeroRun = 64 << 10

// zeroPiece bounds one zeroing request, so that progress and
// cancellation follow long runs.
const zeroPiece = 64 << 20

// decoder fills buffers from the source for the writing loop.
type decoder struct {
	w    *writer
	free chan []byte
	out  chan<- chunk
	stop <-chan struct{}
	cur  chunk
}

// decode fills buffers from the source, merging contiguous extents; runs
// of zeros the source marks (source.Zeros) become zero chunks without a
// buffer.
func (w *writer) decode(free chan []byte, out chan<- chunk, stop <-chan struct{}) error {
	d := &decoder{w: w, free: free, out: out, stop: stop}
	var pos int64
	first := true
	for {
		e, r, err := w.src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.flush()
			return fmt.Errorf("reading image %s: %w", w.imageName(), err)
		}
		if e.Length <= 0 {
			continue
		}
		if (!first && e.Offset < pos) || e.Offset < 0 || e.End() > w.src.Size() {
			d.flush()
			return fmt.Errorf("image %s: range %d+%d is out of order or past the image size %d", w.imageName(), e.Offset, e.Length, w.src.Size())
		}
		first = false
		pos = e.End()
		if ok, err := d.extent(e, r); !ok || err != nil {
			return err
		}
	}
	d.flush()
	return nil
}

// extent passes one extent on; false means stop (an error, or stopped).
func (d *decoder) extent(e source.Extent, r io.Reader) (bool, error) {
	if z, ok := r.(source.Zeros); ok && z.AllZeros() && e.Length >= minZeroRun {
		return d.zeros(e), nil
	}
	if d.cur.buf != nil && d.cur.off+int64(d.cur.n) != e.Offset && !d.flush() {
		return false, nil
	}
	if ok, err := d.copy(e, r); !ok || err != nil {
		return false, err
	}
	if err := d.checkEnd(e, r); err != nil {
		d.flush()
		return false, err
	}
	return true, nil
}

// zeros sends the zero chunks of e, after what is buffered.
func (d *decoder) zeros(e source.Extent) bool {
	if !d.flush() {
		return false
	}
	for off := e.Offset; off < e.End(); off += zeroPiece {
		n := min(e.End()-off, zeroPiece)
		select {
		case d.out <- chunk{off: off, n: int(n), zero: true}:
		case <-d.stop:
			return false
		}
	}
	return true
}

// copy reads the bytes of e into buffers, passing on every full one.
func (d *decoder) copy(e source.Extent, r io.Reader) (bool, error) {
	pos := e.Offset
	for remain := e.Length; remain > 0; {
		if d.cur.buf == nil {
			if !d.get() {
				return false, nil
			}
			d.cur.off, d.cur.n = pos, 0
		}
		m := min(remain, int64(len(d.cur.buf)-d.cur.n))
		if _, err := io.ReadFull(r, d.cur.buf[d.cur.n:d.cur.n+int(m)]); err != nil {
			d.flush()
			return false, fmt.Errorf("reading image %s at byte %d: %w", d.w.imageName(), pos, err)
		}
		d.cur.n += int(m)
		pos += m
		remain -= m
		if d.cur.n == len(d.cur.buf) && !d.flush() {
			return false, nil
		}
	}
	return true, nil
}

// checkEnd checks that the reader of e ends where e does: this catches
// trailing data and lets decoders check their trailers.
func (d *decoder) checkEnd(e source.Extent, r io.Reader) error {
	var one [1]byte
	for i := 0; ; i++ {
		n, err := r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("image %s: range at byte %d is longer than %d bytes", d.w.imageName(), e.Offset, e.Length)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading image %s: %w", d.w.imageName(), err)
		}
		if i > 100 {
			return fmt.Errorf("reading image %s: %w", d.w.imageName(), io.ErrNoProgress)
		}
	}
}

func (d *decoder) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// get takes a free buffer; false when stopped.
func (d *decoder) get() bool {
	if d.stopped() {
		return false
	}
	select {
	case d.cur.buf = <-d.free:
		return true
	case <-d.stop:
		return false
	}
}

// flush passes the current buffer on; false when stopped.
func (d *decoder) flush() bool {
	if d.cur.buf == nil {
		return true
	}
	if d.cur.n == 0 || d.stopped() {
		d.free <- d.cur.buf
		d.cur = chunk{}
		return !d.stopped()
	}
	select {
	case d.out <- d.cur:
		d.cur = chunk{}
		return true
	case <-d.stop:
		d.free <- d.cur.buf
		d.cur = chunk{}
		return false
	}
}

// writeChunk writes one buffer, holding back what falls in the first MiB.
func (w *writer) writeChunk(c chunk) error {
	off := c.off
	if n := len(w.written); n > 0 && w.written[n-1].End() == off {
		w.written[n-1].Length += int64(c.n)
	} else {
		w.written = append(w.written, source.Extent{Offset: off, Length: int64(c.n)})
	}
	if c.zero {
		return w.writeZeros(c)
	}
	data := c.buf[:c.n]
	if off < headSize {
		k := min(int64(len(data)), headSize-off)
		if w.head == nil {
			w.head = alignedBuf(headSize)
		}
		copy(w.head[off:], data[:k])
		w.holdHead(off, k)
		data = data[k:]
		off += k
	}
	if len(data) == 0 {
		return nil
	}
	return w.sink.writeAt(data, off)
}

// holdHead records that the first MiB holds image bytes [off, off+k).
func (w *writer) holdHead(off, k int64) {
	if n := len(w.headExt); n > 0 && w.headExt[n-1].End() == off {
		w.headExt[n-1].Length += k
	} else {
		w.headExt = append(w.headExt, source.Extent{Offset: off, Length: k})
	}
}

// writeZeros zeroes the range of a zero chunk on the target; what falls
// in the first MiB is held back with the rest of it.
func (w *writer) writeZeros(c chunk) error {
	off, n := c.off, int64(c.n)
	if off < headSize {
		k := min(n, headSize-off)
		if w.head == nil {
			w.head = alignedBuf(headSize)
		}
		clear(w.head[off : off+k])
		w.holdHead(off, k)
		off += k
		n -= k
	}
	w.res.Zeroed += int64(c.n)
	if n == 0 {
		return nil
	}
	return w.sink.zeroRange(off, n)
}

// hash computes the image hashes of the expanded image (always its
// XXH3-128, its SHA-256 when asked) and the verify records.
func (w *writer) hash(ctx context.Context, in <-chan chunk, free chan<- []byte, recsDone chan<- struct{}) sums {
	var sh hash.Hash
	if w.opts.SHA256 {
		sh = sha256.New()
	}
	img := xxh3.New()
	zeros := make([]byte, 1<<20)
	var pos int64
	// hz hashes zeros up to to: the ranges the image leaves unwritten.
	hz := func(to int64) {
		for pos < to && ctx.Err() == nil {
			n := min(to-pos, int64(len(zeros)))
			img.Write(zeros[:n])
			if sh != nil {
				sh.Write(zeros[:n])
			}
			pos += n
		}
	}
	xh := xxh3.New()
	var open *rec
	closeRec := func() {
		if open != nil {
			open.sum = xh.Sum64()
			w.recs = append(w.recs, *open)
			open = nil
		}
	}
	for c := range in {
		if c.zero {
			closeRec()
			hz(c.off + int64(c.n))
			w.addZeroRecs(c.off, int64(c.n))
			continue
		}
		hz(c.off)
		data := c.buf[:c.n]
		pos = c.off + int64(c.n)
		off := c.off
		// Block by block, so that every hash reads the block while it is
		// still in the CPU's cache.
		for len(data) > 0 {
			blockEnd := (off/verifyBlock + 1) * verifyBlock
			k := min(int64(len(data)), blockEnd-off)
			if open == nil || open.off+int64(open.n) != off || open.off/verifyBlock != off/verifyBlock {
				closeRec()
				xh.Reset()
				open = &rec{off: off}
			}
			xh.Write(data[:k])
			img.Write(data[:k])
			if sh != nil {
				sh.Write(data[:k])
			}
			open.n += int32(k)
			data = data[k:]
			off += k
		}
		free <- c.buf
	}
	closeRec()
	close(recsDone)
	hz(w.src.Size())
	if ctx.Err() != nil {
		return sums{}
	}
	sum := img.Sum128().Bytes()
	s := sums{xxh3: hex.EncodeToString(sum[:])}
	if sh != nil {
		s.sha256 = hex.EncodeToString(sh.Sum(nil))
	}
	return s
}

// report starts the progress ticker of a phase; the returned function
// stops it, sending a final update when complete is true.
func (w *writer) report(phase Phase, total int64) func(complete bool) {
	w.done.Store(0)
	if w.opts.Progress == nil {
		return func(bool) {}
	}
	type sample struct {
		t time.Time
		n int64
	}
	var mu sync.Mutex
	var win []sample
	start := time.Now()
	send := func(final bool) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		n := w.done.Load()
		win = append(win, sample{now, n})
		for len(win) > 2 && now.Sub(win[0].t) > 3*time.Second {
			win = win[1:]
		}
		p := Progress{Phase: phase, Done: n, Total: total}
		if final {
			p.Done = total
			if el := now.Sub(start).Seconds(); el > 0 {
				p.BytesPerSec = float64(n) / el
			}
		} else if d := now.Sub(win[0].t).Seconds(); d > 0 {
			p.BytesPerSec = float64(n-win[0].n) / d
			if p.BytesPerSec > 0 && total > n {
				p.ETA = time.Duration(float64(total-n) / p.BytesPerSec * float64(time.Second)).Round(time.Second)
			}
		}
		w.opts.Progress(p)
	}
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		send(false)
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				send(false)
			}
		}
	}()
	return func(complete bool) {
		close(quit)
		<-exited
		if complete {
			send(true)
		}
	}
}
