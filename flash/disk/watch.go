package disk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"
)

// EventKind says what happened to a disk.
type EventKind int

const (
	// Added: a disk appeared (or was present when Watch started).
	Added EventKind = iota + 1
	// Removed: a disk disappeared; Event.Disk is its last known state.
	Removed
	// Changed: a disk's medium, size, partitions, mounts or classification changed.
	Changed
)

func (k EventKind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Changed:
		return "changed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change to the set of disks.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Disk is the disk's new state (for Removed, its last known state).
	Disk Disk
}

// WatchOptions configures Watch.
type WatchOptions struct {
	// ScanOptions are used for every scan.
	ScanOptions
	// Poll is the sysfs poll interval when kernel events are not used
	// (fake roots, or no netlink); 0 means one second.
	Poll time.Duration
	// Debounce is how long to wait after a kernel event for more before
	// re-scanning; 0 means 300 ms.
	Debounce time.Duration
	// Rescan is the safety re-scan interval while kernel events are
	// used (mount changes send none); 0 means five seconds.
	Rescan time.Duration
	// ForcePoll polls even on the running system.
	ForcePoll bool
	// OnError, if set, receives scan errors; they do not stop the watch.
	OnError func(error)
}

// Watch reports disks as they appear, disappear or change. It first sends
// an Added event for every disk present, then differences as they happen.
// On the running system it listens to kernel uevents (NETLINK_KOBJECT_UEVENT)
// and re-scans after a short debounce, with a slow safety re-scan every few
// seconds (mounts do not send uevents); under a fake root, or when the
// netlink socket cannot be opened, it polls sysfs. The channel is closed
// when ctx is done.
func Watch(ctx context.Context, opts WatchOptions) (<-chan Event, error) {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Rescan <= 0 {
		opts.Rescan = 5 * time.Second
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 300 * time.Millisecond
	}
	first, err := Scan(opts.ScanOptions)
	if err != nil {
		return nil, err
	}
	var kick <-chan struct{}
	interval := opts.Poll
	if isReal(opts.Root) && !opts.ForcePoll {
		if k, err := listenUevents(ctx, opts.Debounce); err == nil {
			kick = k
			interval = opts.Rescan
		}
	}
	out := make(chan Event)
	go func() {
		defer close(out)
		state := map[string]Disk{}
		send := func(evs []Event) bool {
			for _, ev := range evs {
				select {
				case out <- ev:
				case <-ctx.Done():
					return false
				}
			}
			return true
		}
		if !send(diff(state, first)) {
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case _, ok := <-kick:
				if !ok {
					kick = nil // listener died: keep polling
					t.Reset(opts.Poll)
					continue
				}
			}
			disks, err := Scan(opts.ScanOptions)
			if err != nil {
				if opts.OnError != nil && !errors.Is(err, context.Canceled) {
					opts.OnError(err)
				}
				continue
			}
			if !send(diff(state, disks)) {
				return
			}
		}
	}()
	return out, nil
}

// diff updates state to disks and returns the events between them,
// removals first, then additions and changes in name order.
func diff(state map[string]Disk, disks []Disk) []Event {
	var evs []Event
	now := map[string]bool{}
	for _, d := range disks {
		now[d.Name] = true
	}
	var gone []string
	for name := range state {
		if !now[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		evs = append(evs, Event{Kind: Removed, Disk: state[name]})
		delete(state, name)
	}
	for _, d := range disks {
		old, ok := state[d.Name]
		switch {
		case !ok:
			evs = append(evs, Event{Kind: Added, Disk: d})
		case !old.Identity().Matches(d.Identity()):
			// Another medium under the same name: a removal and an addition.
			evs = append(evs, Event{Kind: Removed, Disk: old}, Event{Kind: Added, Disk: d})
		case !reflect.DeepEqual(old, d):
			evs = append(evs, Event{Kind: Changed, Disk: d})
		}
		state[d.Name] = d
	}
	return evs
}
