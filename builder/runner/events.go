package runner

import (
	"context"
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// EventLog is one output line of the tool (or of the native image hook).
	EventLog EventKind = iota
	// EventStageStarted marks the start of a stage (Stage is set).
	EventStageStarted
	// EventStageFinished marks the end of a stage (Stage, Duration, OK set).
	EventStageFinished
	// EventDropped says that Dropped log lines were discarded because the
	// subscriber did not keep up; the log file still has them.
	EventDropped
	// EventFinished is the last event of a run (Result is set).
	EventFinished
)

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case EventLog:
		return "log"
	case EventStageStarted:
		return "stage-started"
	case EventStageFinished:
		return "stage-finished"
	case EventDropped:
		return "dropped"
	case EventFinished:
		return "finished"
	}
	return "unknown"
}

// Stream names where a log line came from.
type Stream string

// The streams of a log line.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
	// Internal lines are written by the runner itself or the native image hook.
	Internal Stream = "pistudio"
)

// Event is one thing that happened during a run.
type Event struct {
	Kind EventKind
	Time time.Time
	// Stream and Text are set for EventLog; Text has no escape codes.
	Stream Stream
	Text   string
	// Explain is set on a log line that is a known failure: what it means
	// and how to fix it.
	Explain string
	// Stage, Duration and OK are set for stage events.
	Stage    string
	Duration time.Duration
	OK       bool
	// Cancelled is set on an EventStageFinished whose stage was stopped
	// by a cancel (OK is false then; the stage did not fail by itself).
	Cancelled bool
	// Reused is set on an EventStageFinished whose stage an earlier
	// build's output stood in for (see StageTiming.Reused).
	Reused bool
	// Dropped counts discarded log lines (EventDropped).
	Dropped int
	// Result is set for EventFinished.
	Result *Result
}

// Subscription receives a run's events through a bounded buffer. When the
// buffer holds its size in log lines, the oldest log line is dropped (never
// a stage or finish event) and an EventDropped tells how many were lost
// before the next event is delivered.
type Subscription struct {
	mu      sync.Mutex
	cap     int
	q       []Event // q[head:] is pending; Kind tombstone marks a dropped line
	head    int
	scan    int // no live log line before q[scan] (amortises dropping)
	nLogs   int // live log lines in q[head:]
	tombs   int // tombstones in q[head:]
	dropped int
	closed  bool // the run published its last event
	done    chan struct{}
	wake    chan struct{}
	once    sync.Once
	chOnce  sync.Once
	ch      chan Event
	remove  func()
}

// tombstone marks a dropped entry in a subscription's queue.
const tombstone EventKind = -1

func newSubscription(n int) *Subscription {
	if n <= 0 {
		n = 1
	}
	return &Subscription{cap: n, done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// push never blocks.
func (s *Subscription) push(e Event) {
	s.mu.Lock()
	if e.Kind == EventLog {
		if s.nLogs >= s.cap {
			i := max(s.scan, s.head)
			for s.q[i].Kind != EventLog {
				i++
			}
			s.q[i] = Event{Kind: tombstone}
			s.scan = i + 1
			s.nLogs--
			s.tombs++
			s.dropped++
		}
		s.nLogs++
	}
	s.q = append(s.q, e)
	if s.tombs > s.cap {
		s.compact()
	}
	s.mu.Unlock()
	s.signal()
}

// compact drops the tombstones from the pending queue, so that a consumer
// that stops reading costs at most about twice the buffer size (not one
// entry per line dropped); s.mu is held. It runs once per cap dropped
// lines, which keeps push O(1) amortised.
func (s *Subscription) compact() {
	n := 0
	for _, e := range s.q[s.head:] {
		if e.Kind != tombstone {
			s.q[n] = e
			n++
		}
	}
	clear(s.q[n:])
	s.q = s.q[:n]
	s.head, s.scan, s.tombs = 0, 0, 0
}

func (s *Subscription) finish() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
}

func (s *Subscription) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pop takes the next live event; s.mu is held.
func (s *Subscription) pop() (Event, bool) {
	for s.head < len(s.q) {
		e := s.q[s.head]
		s.q[s.head] = Event{}
		s.head++
		if s.head > 1024 && s.head*2 > len(s.q) {
			n := copy(s.q, s.q[s.head:])
			clear(s.q[n:])
			s.q = s.q[:n]
			s.scan = max(s.scan-s.head, 0)
			s.head = 0
		}
		if e.Kind == tombstone {
			s.tombs--
			continue
		}
		if e.Kind == EventLog {
			s.nLogs--
		}
		return e, true
	}
	return Event{}, false
}

// Next returns the next event, waiting for it. ok is false once the run's
// last event was delivered, the subscription was closed, or ctx is done.
func (s *Subscription) Next(ctx context.Context) (e Event, ok bool) {
	for {
		s.mu.Lock()
		if s.dropped > 0 {
			n := s.dropped
			s.dropped = 0
			s.mu.Unlock()
			return Event{Kind: EventDropped, Time: time.Now(), Dropped: n}, true
		}
		if e, ok := s.pop(); ok {
			s.mu.Unlock()
			return e, true
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return Event{}, false
		}
		select {
		case <-s.wake:
		case <-s.done:
			return Event{}, false
		case <-ctx.Done():
			return Event{}, false
		}
	}
}

// C returns a channel carrying the events; it is closed after the run's
// EventFinished or when the subscription is closed. A consumer that stops
// reading must call Close to release the goroutine feeding the channel.
func (s *Subscription) C() <-chan Event {
	s.chOnce.Do(func() {
		s.ch = make(chan Event)
		go func() {
			defer close(s.ch)
			for {
				e, ok := s.Next(context.Background())
				if !ok {
					return
				}
				select {
				case s.ch <- e:
				case <-s.done:
					return
				}
			}
		}()
	})
	return s.ch
}

// Close stops the subscription; pending events are discarded.
func (s *Subscription) Close() {
	s.once.Do(func() {
		close(s.done)
		if s.remove != nil {
			s.remove()
		}
	})
}

// hub fans events out to subscriptions.
type hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	done bool
}

func (h *hub) subscribe(n int) *Subscription {
	s := newSubscription(n)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*Subscription]struct{}{}
	}
	if h.done {
		s.finish()
		return s
	}
	h.subs[s] = struct{}{}
	s.remove = func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}
	return s
}

func (h *hub) publish(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.push(e)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = true
	for s := range h.subs {
		s.finish()
	}
}
