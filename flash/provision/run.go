package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/source"
)

// FlashFunc writes the image file to target, as helper.Flasher's Flash
// does (in-process or through the privileged helper).
type FlashFunc func(ctx context.Context, image string, target flash.Target, opts flash.Options) (*flash.Result, error)

// Options tune Run.
type Options struct {
	// NoVerify skips reading the written data back.
	NoVerify bool
	// AllowUnmount lets the writer unmount the targets' mounted partitions.
	AllowUnmount bool
	// Progress, when set, receives per-target progress and state events
	// with the set's total. It is called from one goroutine at a time and
	// never after Run returns.
	Progress func(Event)
	// Root is the system root the disk guards read under ("" for the
	// running system); only used in-process.
	Root string
	// Flash, when set, performs each disk write (for example a helper
	// client's Flash, when the process is not root); file targets are
	// always written in-process. In-process writes (flash.Write) are
	// followed by a read-back of the regions past each image checking
	// that no stale signature survived (CheckClean); writes through Flash
	// are not, as the process may not be allowed to read the disk.
	Flash FlashFunc
	// SkipHoles writes each image's Android sparse twin (image.json's
	// Sparse) when the set has one: only the image's data is written, which
	// is much faster for large, mostly empty members. The ranges the image
	// leaves empty then keep the disk's old bytes instead of zeros (the
	// filesystems ignore them, but the mirrors of a RAID1 differ there and
	// an md "check" counts them), and the writer's verification covers the
	// written ranges only.
	SkipHoles bool
	// BufferSize and Buffers tune each target's pipeline (see flash.Options).
	BufferSize, Buffers int
	// Confirmations holds what the user typed to confirm the disks that
	// need it (disk.Disk.NeedsTypedConfirm), keyed by role or by disk
	// path. Run refuses the whole set, writing nothing, when such a disk
	// has no confirmation that names it (disk.Disk.ConfirmedBy).
	Confirmations map[string]string

	// After, when set, runs for each role once its write, verify and
	// checks passed (for example to write first-boot settings into the SD
	// card's boot partition); an error fails that role only. target is
	// the disk or file written.
	After func(ctx context.Context, role string, target flash.Target) error

	// wrapSource, in tests, wraps the source opened for a role.
	wrapSource func(role string, s source.Source) source.Source
}

// State is where a target stands.
type State string

// States of a target.
const (
	Pending   State = "pending"
	Writing   State = "writing"
	Verifying State = "verifying"
	Done      State = "done"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// Event reports one target's progress, or a change of its state.
type Event struct {
	// Role and Disk name the target.
	Role string `json:"role"`
	Disk string `json:"disk"`
	// State is the target's state.
	State State `json:"state"`
	// Progress is the target's latest progress within its phase.
	Progress flash.Progress `json:"progress"`
	// Error says why a failed target failed.
	Error string `json:"error,omitempty"`
	// Total is the progress of the whole set.
	Total Total `json:"total"`
}

// Total is the progress of the whole set.
type Total struct {
	// Done and Total count bytes over every target and phase (writing,
	// then verifying).
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// Targets, Finished and Failed count targets.
	Targets  int `json:"targets"`
	Finished int `json:"finished"`
	Failed   int `json:"failed"`
}

// Result is a target's outcome in the Summary.
type Result struct {
	// Role, Artifact: what was written.
	Role     string `json:"role"`
	Artifact string `json:"artifact"`
	// Device, Model, Serial and SizeBytes describe the target.
	Device    string `json:"device"`
	Model     string `json:"model"`
	Serial    string `json:"serial"`
	SizeBytes int64  `json:"size_bytes"`
	// Written is the number of image bytes written.
	Written int64 `json:"written"`
	// XXH3 is the hex XXH3-128 of the image as written (always set once
	// written).
	XXH3 string `json:"xxh3"`
	// SHA256 is the hex SHA-256 of the image as written; it is computed
	// (and matched) when image.json records one, and "" otherwise.
	SHA256 string `json:"sha256"`
	// Verified is true when the target was read back and matched.
	Verified bool `json:"verified"`
	// State is done, failed or cancelled.
	State State `json:"state"`
	// Error says why the target failed.
	Error string `json:"error,omitempty"`
	// Duration is the time the target took.
	Duration time.Duration `json:"duration"`
	// Warnings from the writer.
	Warnings []string `json:"warnings,omitempty"`

	err error
}

// Summary is the outcome of a Run.
type Summary struct {
	// Set is the set directory; Name, Level and ArrayUUID come from its
	// manifest, Devices is the number of array members.
	Set       string `json:"set"`
	Name      string `json:"name"`
	Level     string `json:"level,omitempty"`
	ArrayUUID string `json:"array_uuid,omitempty"`
	Devices   int    `json:"devices,omitempty"`
	// Targets holds one Result per role, in plan order.
	Targets []Result `json:"targets"`
	// OK is true when every target is done.
	OK bool `json:"ok"`
	// Duration is the time of the whole set.
	Duration time.Duration `json:"duration"`
	// Number and Of tell which of several sets written at once this is
	// (set 2 of 3); both are 0 for a set written alone.
	Number int `json:"number,omitempty"`
	Of     int `json:"of,omitempty"`
}

// TargetError is one failed target of a set.
type TargetError struct {
	// Role and Device name the target.
	Role, Device string
	// Err is why it failed.
	Err error
}

// Error implements error.
func (e *TargetError) Error() string { return fmt.Sprintf("%s (%s): %v", e.Role, e.Device, e.Err) }

// Unwrap returns the cause.
func (e *TargetError) Unwrap() error { return e.Err }

// SetError is returned by Run when any target failed; the others were
// still written.
type SetError struct {
	// Failed lists the failed targets in plan order.
	Failed []*TargetError
	// Of is the number of targets of the set.
	Of int
}

// Error implements error.
func (e *SetError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = f.Error()
	}
	return fmt.Sprintf("%d of %d disks failed: %s", len(e.Failed), e.Of, strings.Join(parts, "; "))
}

// Unwrap returns the failures, so errors.Is(err, context.Canceled) tells a
// cancelled set.
func (e *SetError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

// ErrNotConfirmed is matched (errors.Is) by every *NotConfirmedError.
var ErrNotConfirmed = errors.New("disk not confirmed")

// NotConfirmedError refuses a set because a disk that needs its name typed
// was not confirmed by name.
type NotConfirmedError struct {
	// Role and Device name the target; Name is what had to be typed.
	Role, Device, Name string
}

// Error implements error.
func (e *NotConfirmedError) Error() string {
	return fmt.Sprintf("%s: %s is larger than usual and its name (%s) was not typed to confirm it: nothing was written", e.Role, e.Device, e.Name)
}

// Is matches ErrNotConfirmed.
func (e *NotConfirmedError) Is(target error) bool { return target == ErrNotConfirmed }

// checkConfirmations returns a *NotConfirmedError for the first disk of p
// that needs a typed confirmation and has none naming it.
func checkConfirmations(p *Plan, typed map[string]string) error {
	for _, ra := range p.Roles {
		d := ra.Disk
		if d == nil || ra.IsFile() || !d.NeedsTypedConfirm {
			continue
		}
		if !d.ConfirmedBy(typed[ra.Role]) && !d.ConfirmedBy(typed[d.Path]) {
			return &NotConfirmedError{Role: ra.Role, Device: d.Path, Name: d.Name}
		}
	}
	return nil
}

// ErrHashMismatch means an image as written does not match image.json.
var ErrHashMismatch = errors.New("the image does not match image.json")

// Run writes every role of p to its target in parallel, verifies each
// (unless opts.NoVerify) and returns the summary. When a target fails the
// others go on; Run then returns the summary together with a *SetError
// naming every failed target. A plan that is not Ready returns its
// *NotReadyError and writes nothing; so does a plan with a disk that needs
// a typed confirmation missing from opts.Confirmations
// (*NotConfirmedError), and one two of whose targets are one medium as
// the disks are now (*disk.SameMediumError: a loop device may have been
// re-attached since the plan was made).
func Run(ctx context.Context, p *Plan, opts Options) (*Summary, error) {
	if err := p.Ready(); err != nil {
		return nil, err
	}
	if err := checkConfirmations(p, opts.Confirmations); err != nil {
		return nil, err
	}
	if err := distinct(p.Roles, freshDisks(p, opts.Root)); err != nil {
		return nil, err
	}
	start := time.Now()
	sum := &Summary{Set: p.Set, Targets: make([]Result, len(p.Roles))}
	if m := p.Manifest; m != nil {
		sum.Name, sum.Level, sum.ArrayUUID, sum.Devices = m.Name, m.Level, m.ArrayUUID, m.Devices
	}
	phases := int64(2)
	if opts.NoVerify {
		phases = 1
	}
	rep := &reporter{fn: opts.Progress, done: make([]int64, len(p.Roles)), size: make([]int64, len(p.Roles)), phases: phases}
	rep.total.Targets = len(p.Roles)
	for i, ra := range p.Roles {
		rep.size[i] = ra.ArtifactSize
		rep.total.Total += ra.ArtifactSize * phases
	}
	var wg sync.WaitGroup
	for i := range p.Roles {
		ra := p.Roles[i]
		d := ra.Disk
		sum.Targets[i] = Result{Role: ra.Role, Artifact: ra.Artifact, Device: d.Path, Model: describe(d),
			Serial: d.Serial, SizeBytes: d.SizeBytes, State: Pending}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &sum.Targets[i]
			t0 := time.Now()
			var written atomic.Int64 // as last reported, for a target that fails
			res, err := writeOne(ctx, p, ra, opts, func(pr flash.Progress) {
				if pr.Phase == flash.Writing {
					written.Store(pr.Done)
				}
				rep.progress(i, Event{Role: ra.Role, Disk: d.Path, State: Writing, Progress: pr})
			})
			r.Duration = time.Since(t0)
			r.Written = written.Load()
			if res != nil {
				r.Written, r.XXH3, r.SHA256, r.Verified, r.Warnings = res.Written, res.XXH3, res.SHA256, res.Verified, res.Warnings
				if ra.IsFile() {
					r.SizeBytes = res.Size
				}
			}
			ev := Event{Role: ra.Role, Disk: d.Path, State: Done}
			switch {
			case err == nil:
				r.State = Done
			case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
				r.State, r.Error, r.err = Cancelled, err.Error(), err
			default:
				r.State, r.Error, r.err = Failed, err.Error(), err
			}
			ev.State, ev.Error = r.State, r.Error
			rep.finish(i, ev, err == nil)
		}()
	}
	wg.Wait()
	rep.close()
	sum.Duration = time.Since(start)
	var serr SetError
	serr.Of = len(p.Roles)
	for _, r := range sum.Targets {
		if r.err != nil {
			serr.Failed = append(serr.Failed, &TargetError{Role: r.Role, Device: r.Device, Err: r.err})
		}
	}
	sum.OK = len(serr.Failed) == 0
	if !sum.OK {
		return sum, &serr
	}
	return sum, nil
}

// Hash returns how the result names the image written: "sha256:<hex>"
// when the SHA-256 was computed, else "xxh3:<hex>" ("" before a write).
func (r *Result) Hash() string {
	switch {
	case r.SHA256 != "":
		return "sha256:" + r.SHA256
	case r.XXH3 != "":
		return "xxh3:" + r.XXH3
	}
	return ""
}

// writeOne writes one role, then checks the hash against the manifest and,
// in-process, that no stale signature survived past the image.
func writeOne(ctx context.Context, p *Plan, ra RoleAssignment, opts Options, progress func(flash.Progress)) (*flash.Result, error) {
	img := filepath.Join(p.Set, ra.Artifact)
	if opts.SkipHoles && p.Manifest != nil {
		if a := p.Manifest.Artifact(ra.Artifact); a != nil && a.Sparse != "" && filepath.Base(a.Sparse) == a.Sparse {
			img = filepath.Join(p.Set, a.Sparse)
		}
	}
	target := flash.Target{Path: ra.Disk.Path}
	if !ra.IsFile() {
		target.Identity = ra.Disk.Identity()
	}
	// The SHA-256 is computed only to check it against image.json: the
	// read-back verify is what proves the write.
	fo := flash.Options{NoVerify: opts.NoVerify, SHA256: ra.SHA256 != "", AllowUnmount: opts.AllowUnmount,
		Progress: progress, Root: opts.Root, BufferSize: opts.BufferSize, Buffers: opts.Buffers}
	var res *flash.Result
	var err error
	local := opts.Flash == nil || ra.IsFile()
	if local {
		res, err = writeLocal(ctx, img, ra.Role, target, fo, opts.wrapSource)
	} else {
		res, err = opts.Flash(ctx, img, target, fo)
	}
	if err != nil {
		return res, err
	}
	if ra.SHA256 != "" && !strings.EqualFold(res.SHA256, ra.SHA256) {
		return res, fmt.Errorf("%w: %s has SHA-256 %s, image.json records %s (the set changed after it was built)",
			ErrHashMismatch, ra.Artifact, res.SHA256, ra.SHA256)
	}
	if local {
		if err := checkTarget(target.Path, target.Identity, ra.IsFile(), res.Size); err != nil {
			return res, err
		}
	}
	if opts.After != nil {
		if err := opts.After(ctx, ra.Role, target); err != nil {
			return res, fmt.Errorf("%s: %w", ra.Role, err)
		}
	}
	return res, nil
}

// writeLocal opens the image (its own decoder) and writes it in-process.
func writeLocal(ctx context.Context, img, role string, target flash.Target, fo flash.Options, wrap func(string, source.Source) source.Source) (*flash.Result, error) {
	src, err := source.OpenContext(ctx, img)
	if err != nil {
		return nil, err
	}
	var s source.Source = &ctxSource{Source: src, ctx: ctx, path: img}
	if wrap != nil {
		s = wrap(role, s)
	}
	defer s.Close()
	return flash.Write(ctx, s, target, fo)
}

// ctxSource stops reading the image as soon as ctx is done, so that a
// cancel does not wait for a slow decoder.
type ctxSource struct {
	source.Source
	ctx  context.Context
	path string
}

// Path lets the writer's guards refuse the disk holding the image.
func (s *ctxSource) Path() string { return s.path }

// Reopen lets the writer locate a verify mismatch.
func (s *ctxSource) Reopen() (source.Source, error) {
	if r, ok := s.Source.(source.Reopener); ok {
		return r.Reopen()
	}
	return nil, errors.New("cannot reopen")
}

func (s *ctxSource) Next() (source.Extent, io.Reader, error) {
	if err := s.ctx.Err(); err != nil {
		return source.Extent{}, nil, err
	}
	e, r, err := s.Source.Next()
	if r != nil {
		r = ctxReader{r, s.ctx}
	}
	return e, r, err
}

type ctxReader struct {
	r   io.Reader
	ctx context.Context
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// reporter serialises events and keeps the set's total.
type reporter struct {
	fn     func(Event)
	mu     sync.Mutex
	done   []int64 // bytes of each target done over both phases
	size   []int64 // bytes of each target per phase
	phases int64
	total  Total
	closed bool // Run returned: late events are dropped
}

func (r *reporter) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// progress records target i's progress; the writer's Total (the bytes it
// will write) replaces the estimate from the image size.
func (r *reporter) progress(i int, ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	pr := ev.Progress
	if pr.Total > 0 && pr.Total != r.size[i] {
		r.total.Total += (pr.Total - r.size[i]) * r.phases
		r.size[i] = pr.Total
	}
	done := pr.Done
	if pr.Phase == flash.Verifying {
		ev.State = Verifying
		done += r.size[i]
	}
	if done > r.done[i] {
		r.total.Done += done - r.done[i]
		r.done[i] = done
	}
	if r.fn != nil {
		ev.Total = r.total
		r.fn(ev)
	}
}

func (r *reporter) finish(i int, ev Event, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total.Finished++
	if ok {
		all := r.size[i] * r.phases
		r.total.Done += all - r.done[i]
		r.done[i] = all
	} else {
		r.total.Failed++
	}
	if r.fn != nil {
		ev.Total = r.total
		r.fn(ev)
	}
}
