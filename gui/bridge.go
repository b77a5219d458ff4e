package gui

import (
	"sync"
	"time"

	"fyne.io/fyne/v2"
)

// bridge is the one crossing from worker goroutines into the UI goroutine.
// Every widget change made outside a Fyne callback goes through ui; tests
// replace do with a queue they drain on the test goroutine.
type bridge struct {
	do func(func())
}

// newBridge returns the app's bridge: fyne.Do, or do when it is not nil.
func newBridge(do func(func())) bridge {
	if do == nil {
		do = fyne.Do
	}
	return bridge{do: do}
}

// ui runs f on the UI goroutine.
func (b bridge) ui(f func()) { b.do(f) }

// goUI runs work on a new goroutine and then done(result) on the UI goroutine.
func goUI[T any](b bridge, work func() T, done func(T)) {
	go func() {
		r := work()
		b.ui(func() { done(r) })
	}()
}

// throttle hands the latest value to the UI goroutine at most once per
// interval, whatever rate Set is called at from worker goroutines.
type throttle[T any] struct {
	br       bridge
	interval time.Duration
	apply    func(T)

	mu        sync.Mutex
	latest    T
	scheduled bool
}

func newThrottle[T any](br bridge, interval time.Duration, apply func(T)) *throttle[T] {
	return &throttle[T]{br: br, interval: interval, apply: apply}
}

// Set records v and schedules its display.
func (t *throttle[T]) Set(v T) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latest = v
	if t.scheduled {
		return
	}
	t.scheduled = true
	time.AfterFunc(t.interval, func() {
		t.mu.Lock()
		v := t.latest
		t.scheduled = false
		t.mu.Unlock()
		t.br.ui(func() { t.apply(v) })
	})
}
