package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ErrDropped is matched by the error a fanned-out Source returns once it
// was dropped: closed by its writer, or stalled longer than
// FanoutOptions.Stall while the others waited.
var ErrDropped = errors.New("dropped from the shared image stream")

// FanoutOptions tune Fanout.
type FanoutOptions struct {
	// ChunkSize is the size of each shared buffer (default 4 MiB).
	ChunkSize int
	// Buffers is the number of buffers shared by all readers (default 8):
	// the fastest reader is at most this many chunks ahead of the slowest.
	Buffers int
	// Stall drops a reader that has not taken a chunk while the decoder
	// waited this long for a free buffer (0: never drop a slow reader).
	Stall time.Duration
}

// Fan decodes one Source once and serves its extents to several readers,
// each a Source of its own. Buffers are shared and bounded: the decoder
// waits for the slowest live reader; a reader that is closed (its write
// failed) or stalls past Stall drops out and the others go on.
type Fan struct {
	src  Source
	opts FanoutOptions
	pool chan []byte

	mu    sync.Mutex
	outs  []*fanOut
	end   error         // io.EOF or the decoding error, once set
	ended chan struct{} // closed when end is set

	read  atomic.Int64 // bytes read from src
	nexts atomic.Int64 // src.Next calls
	done  chan struct{}
}

// piece is one shared chunk: n bytes of the image at off.
type piece struct {
	ext  Extent
	buf  []byte
	refs int
	born time.Time
}

// fanOut is one reader of a Fan.
type fanOut struct {
	f      *Fan
	idx    int
	queue  []*piece
	held   *piece
	dead   error
	notify chan struct{}
}

// Fanout starts decoding src for n readers; Sources returns them. Close
// the Fan (which closes src) after every reader is done or closed.
func Fanout(src Source, n int, opts FanoutOptions) *Fan {
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 4 << 20
	}
	if opts.Buffers < 2 {
		opts.Buffers = 8
	}
	f := &Fan{src: src, opts: opts, pool: make(chan []byte, opts.Buffers),
		ended: make(chan struct{}), done: make(chan struct{})}
	for range opts.Buffers {
		f.pool <- make([]byte, opts.ChunkSize)
	}
	for i := range n {
		f.outs = append(f.outs, &fanOut{f: f, idx: i, notify: make(chan struct{}, 1)})
	}
	go f.run()
	return f
}

// Sources returns the readers, one per target, in order.
func (f *Fan) Sources() []Source {
	out := make([]Source, len(f.outs))
	for i, o := range f.outs {
		out[i] = o
	}
	return out
}

// SourceBytes is the number of bytes read from the decoded source so
// far; after a complete pass it equals DataSize whatever the number of
// readers.
func (f *Fan) SourceBytes() int64 { return f.read.Load() }

// SourceNexts is the number of extents taken from the decoded source.
func (f *Fan) SourceNexts() int64 { return f.nexts.Load() }

// Close drops every reader, waits for the decoder to stop and closes the
// source.
func (f *Fan) Close() error {
	for _, o := range f.outs {
		o.Close()
	}
	<-f.done
	return f.src.Close()
}

func (f *Fan) finish(err error) {
	f.mu.Lock()
	f.end = err
	f.mu.Unlock()
	close(f.ended)
	close(f.done)
}

// alive counts readers not dropped.
func (f *Fan) alive() int {
	n := 0
	for _, o := range f.outs {
		if o.dead == nil {
			n++
		}
	}
	return n
}

func (f *Fan) run() {
	for {
		if f.mu.Lock(); f.alive() == 0 {
			f.mu.Unlock()
			f.finish(ErrDropped)
			return
		}
		f.mu.Unlock()
		e, r, err := f.src.Next()
		if err != nil {
			f.finish(err)
			return
		}
		f.nexts.Add(1)
		if err := f.serve(e, r); err != nil {
			f.finish(err)
			return
		}
	}
}

// serve splits one extent into shared chunks.
func (f *Fan) serve(e Extent, r io.Reader) error {
	for off := e.Offset; off < e.End(); {
		buf, ok := f.take()
		if !ok {
			return ErrDropped
		}
		n := int(min(int64(len(buf)), e.End()-off))
		m, err := io.ReadFull(r, buf[:n])
		f.read.Add(int64(m))
		if err != nil {
			f.pool <- buf
			return fmt.Errorf("reading the image at byte %d: %w", off, err)
		}
		f.publish(&piece{ext: Extent{Offset: off, Length: int64(n)}, buf: buf})
		off += int64(n)
	}
	var one [1]byte
	for i := 0; ; i++ {
		n, err := r.Read(one[:])
		switch {
		case n > 0:
			return fmt.Errorf("%w: the range at byte %d is longer than %d bytes", ErrFormat, e.Offset, e.Length)
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("reading the image: %w", err)
		case i > 100:
			return fmt.Errorf("reading the image: %w", io.ErrNoProgress)
		}
	}
}

// take waits for a free buffer, dropping a reader that holds the oldest
// chunk for longer than Stall. It fails once no reader is left.
func (f *Fan) take() ([]byte, bool) {
	for {
		var tick <-chan time.Time
		if f.opts.Stall > 0 {
			tick = time.After(f.opts.Stall)
		}
		select {
		case b := <-f.pool:
			f.mu.Lock()
			n := f.alive()
			f.mu.Unlock()
			if n == 0 {
				f.pool <- b
				return nil, false
			}
			return b, true
		case <-tick:
			f.dropStalled()
		}
	}
}

// dropStalled drops the readers that hold the oldest chunk when it is
// older than Stall.
func (f *Fan) dropStalled() {
	f.mu.Lock()
	var oldest *piece
	for _, o := range f.outs {
		if p := o.oldest(); o.dead == nil && p != nil && (oldest == nil || p.born.Before(oldest.born)) {
			oldest = p
		}
	}
	var drop []*fanOut
	if oldest != nil && time.Since(oldest.born) >= f.opts.Stall {
		for _, o := range f.outs {
			if o.dead == nil && o.oldest() == oldest {
				drop = append(drop, o)
			}
		}
	}
	for _, o := range drop {
		o.dropLocked(fmt.Errorf("%w: took no data for %s while the other targets waited", ErrDropped, f.opts.Stall))
	}
	f.mu.Unlock()
}

// publish hands a chunk to every live reader.
func (f *Fan) publish(p *piece) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p.born = time.Now()
	for _, o := range f.outs {
		if o.dead == nil {
			p.refs++
			o.queue = append(o.queue, p)
			select {
			case o.notify <- struct{}{}:
			default:
			}
		}
	}
	if p.refs == 0 {
		f.pool <- p.buf
	}
}

// release drops one reference to p (f.mu held).
func (f *Fan) release(p *piece) {
	if p.refs--; p.refs == 0 {
		f.pool <- p.buf
	}
}

func (o *fanOut) oldest() *piece {
	if o.held != nil {
		return o.held
	}
	if len(o.queue) > 0 {
		return o.queue[0]
	}
	return nil
}

// dropLocked marks o dropped with err and releases its chunks (f.mu held).
func (o *fanOut) dropLocked(err error) {
	if o.dead != nil {
		return
	}
	o.dead = err
	if o.held != nil {
		o.f.release(o.held)
		o.held = nil
	}
	for _, p := range o.queue {
		o.f.release(p)
	}
	o.queue = nil
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// Format implements Source.
func (o *fanOut) Format() Format { return o.f.src.Format() }

// Size implements Source.
func (o *fanOut) Size() int64 { return o.f.src.Size() }

// DataSize implements Source.
func (o *fanOut) DataSize() int64 { return o.f.src.DataSize() }

// Next implements Source: the next shared chunk, once every earlier one
// was released by this reader.
func (o *fanOut) Next() (Extent, io.Reader, error) {
	f := o.f
	for {
		f.mu.Lock()
		if o.held != nil {
			f.release(o.held)
			o.held = nil
		}
		if o.dead != nil {
			err := o.dead
			f.mu.Unlock()
			return Extent{}, nil, err
		}
		if len(o.queue) > 0 {
			p := o.queue[0]
			o.queue = o.queue[1:]
			o.held = p
			f.mu.Unlock()
			return p.ext, bytes.NewReader(p.buf[:p.ext.Length]), nil
		}
		end := f.end
		f.mu.Unlock()
		if end != nil {
			return Extent{}, nil, end
		}
		select {
		case <-o.notify:
		case <-f.ended:
		}
	}
}

// Close implements Source: the reader drops out; the others go on.
func (o *fanOut) Close() error {
	o.f.mu.Lock()
	o.dropLocked(fmt.Errorf("%w: closed", ErrDropped))
	o.f.mu.Unlock()
	return nil
}

// Reopen implements Reopener when the shared source does: a fresh,
// independent copy (used to find the byte of a verify mismatch).
func (o *fanOut) Reopen() (Source, error) {
	ro, ok := o.f.src.(Reopener)
	if !ok {
		return nil, errors.New("the image cannot be reopened")
	}
	return ro.Reopen()
}

// Paths implements Pather when the shared source does.
func (o *fanOut) Paths() []string {
	if p, ok := o.f.src.(Pather); ok {
		return p.Paths()
	}
	return nil
}
