package flash

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pistudio/pistudio/flash/source"
)

// ManyOptions tune WriteMany.
type ManyOptions struct {
	// Options apply to every target; its Progress is ignored (see
	// Progress below).
	Options
	// Progress, when set, receives each target's progress with its index.
	Progress func(i int, p Progress)
	// Before runs for target i right before it is opened (the caller's
	// guards); an error fails that target only.
	Before func(ctx context.Context, i int) error
	// After runs for target i after it was written and verified (for
	// example to write first-boot settings); an error fails that target
	// only.
	After func(ctx context.Context, i int, res *Result) error
	// Stall drops a target that takes no data for this long while the
	// others wait on it (default 2 minutes; negative: never).
	Stall time.Duration
	// ChunkSize and Buffers size the shared stream (defaults 4 MiB, 8).
	ChunkSize, Buffers int
}

// Outcome is how one target of WriteMany ended.
type Outcome struct {
	// Target is the path written.
	Target string `json:"target"`
	// Result is set when the write succeeded.
	Result *Result `json:"result,omitempty"`
	// Err is why the target failed (nil on success).
	Err error `json:"-"`
}

// ErrSameMedium refuses two targets that are one medium.
var ErrSameMedium = errors.New("two targets are the same disk")

// WriteMany writes src to every target at once, decoding it once: the
// decoded stream is shared through bounded buffers (source.Fanout), each
// target is guarded (opts.Before, then Write's own checks), written and
// verified on its own, and a target that fails or stalls drops out
// without stopping the others. src is closed when WriteMany returns. The
// outcomes are in target order; the error is non-nil only when nothing
// could start.
func WriteMany(ctx context.Context, src source.Source, targets []Target, opts ManyOptions) ([]Outcome, error) {
	defer src.Close()
	if len(targets) == 0 {
		return nil, errors.New("no targets")
	}
	stall := opts.Stall
	switch {
	case stall == 0:
		stall = 2 * time.Minute
	case stall < 0:
		stall = 0
	}
	fan := source.Fanout(src, len(targets), source.FanoutOptions{ChunkSize: opts.ChunkSize, Buffers: opts.Buffers, Stall: stall})
	srcs := fan.Sources()
	out := make([]Outcome, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			defer srcs[i].Close()
			res, err := writeOne(ctx, srcs[i], t, i, opts)
			out[i] = Outcome{Target: t.Path, Result: res, Err: err}
		})
	}
	wg.Wait()
	if err := fan.Close(); err != nil {
		return out, fmt.Errorf("closing the image: %w", err)
	}
	return out, nil
}

func writeOne(ctx context.Context, src source.Source, t Target, i int, opts ManyOptions) (*Result, error) {
	if opts.Before != nil {
		if err := opts.Before(ctx, i); err != nil {
			return nil, err
		}
	}
	o := opts.Options
	o.Progress = nil
	if opts.Progress != nil {
		o.Progress = func(p Progress) { opts.Progress(i, p) }
	}
	res, err := Write(ctx, src, t, o)
	if err != nil {
		return nil, err
	}
	if opts.After != nil {
		if err := opts.After(ctx, i, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// CheckDistinct refuses targets that are one medium: the same device or
// file under two names, a partition of another target, or a loop device
// and its backing file (or two loop devices over one file). It is the one
// place the multi-target flash asks this; a disk-level check can replace
// mediumKey.
func CheckDistinct(paths []string) error {
	seen := map[string]string{}
	for _, p := range paths {
		k, err := mediumKey(p)
		if err != nil {
			return err
		}
		if q, dup := seen[k]; dup {
			return fmt.Errorf("%w: %s and %s", ErrSameMedium, q, p)
		}
		seen[k] = p
	}
	return nil
}
