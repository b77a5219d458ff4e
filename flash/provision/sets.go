package provision

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/internal/manifest"
)

// Errors of ProposeSets and Sets, for errors.Is.
var (
	// ErrSetCount: fewer than one set asked for.
	ErrSetCount = errors.New("the number of sets must be at least 1")
	// ErrTooManySets: disks named for more sets than asked for.
	ErrTooManySets = errors.New("disks named for more sets than asked for")
	// ErrTooFewDisks is matched by *TooFewDisksError.
	ErrTooFewDisks = errors.New("too few disks for the sets")
)

// TooFewDisksError refuses several sets when fewer eligible disks are
// present than their roles need. It also matches ErrNotReady.
type TooFewDisksError struct {
	// Sets is the number of sets asked for; Externals the number of
	// external roles of each.
	Sets, Externals int
	// Need is the number of disks all sets need (roles not written to
	// files).
	Need int
	// Present are the eligible disks found.
	Present []disk.Disk
	// Protected counts the disks found that may not be written.
	Protected int
}

// Error implements error.
func (e *TooFewDisksError) Error() string {
	have := "no eligible disk is present"
	if len(e.Present) > 0 {
		names := make([]string, len(e.Present))
		for i := range e.Present {
			d := &e.Present[i]
			names[i] = fmt.Sprintf("%s (%s, %s)", d.Path, describe(d), human(d.SizeBytes))
		}
		have = fmt.Sprintf("only %s present: %s", plural(len(e.Present), "eligible disk is", "eligible disks are"), strings.Join(names, ", "))
	}
	if e.Protected > 0 {
		have += fmt.Sprintf(" (%s protected)", plural(e.Protected, "more disk found is", "more disks found are"))
	}
	return fmt.Sprintf("%d sets need %d disks (each set: an SD card and %s), but %s; connect %d more",
		e.Sets, e.Need, plural(e.Externals, "external disk", "external disks"), have, e.Need-len(e.Present))
}

// Is matches ErrTooFewDisks and ErrNotReady.
func (e *TooFewDisksError) Is(t error) bool { return t == ErrTooFewDisks || t == ErrNotReady }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Sets is several copies of one image set, each written to disks of its
// own: set 1 is Plans[0], set 2 Plans[1], and so on. Each Plan is an
// ordinary one-set plan; Sets only keeps a disk (or another node of its
// medium) from being proposed to, or chosen for, two sets.
//
// Every set is a copy of the same images: their arrays share one UUID,
// so each set's disks must stay together (Summary.Labels numbers them).
type Sets struct {
	// Plans holds one plan per set, set 1 first.
	Plans []*Plan

	disks []disk.Disk
}

// ProposeSets reads the roles of the set in setDir (see Propose) and
// proposes n disjoint sets among disks: the SD card of every set first,
// then each set's external roles, by the rules of Propose. It fails only
// when n < 1 or the set itself is unusable; roles it cannot fill carry a
// Problem (see Ready).
func ProposeSets(m *manifest.Manifest, setDir string, disks []disk.Disk, n int) (*Sets, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d asked for", ErrSetCount, n)
	}
	first, err := Propose(m, setDir, disks)
	if err != nil {
		return nil, err
	}
	s := &Sets{Plans: []*Plan{first}, disks: append([]disk.Disk(nil), disks...)}
	for i := 1; i < n; i++ {
		cp := *first
		cp.Roles = append([]RoleAssignment(nil), first.Roles...)
		cp.disks = append([]disk.Disk(nil), disks...)
		s.Plans = append(s.Plans, &cp)
	}
	s.Fill()
	return s, nil
}

// Disks returns the disks the sets choose from.
func (s *Sets) Disks() []disk.Disk { return append([]disk.Disk(nil), s.disks...) }

// wrap names set i (from 0) in err when there are several sets.
func (s *Sets) wrap(i int, err error) error {
	if err == nil || len(s.Plans) == 1 {
		return err
	}
	return fmt.Errorf("set %d: %w", i+1, err)
}

// Fill (re)proposes a disk for every role the user has not chosen, keeping
// the user's choices: the SD card of set 1, 2, … first (so that card
// readers and sticks go to the cards), then the external roles set by
// set. A set is proposed only disks that no other set holds, nor another
// node of such a disk's medium. Each plan's Disks are then the disks
// left to it.
func (s *Sets) Fill() {
	if len(s.Plans) == 1 {
		p := s.Plans[0]
		p.disks = s.Disks()
		p.Fill()
		return
	}
	for _, p := range s.Plans {
		for i := range p.Roles {
			if ra := &p.Roles[i]; !ra.Chosen {
				ra.Disk, ra.Reason, ra.Problem = nil, "", ""
			}
		}
	}
	for _, o := range s.order() {
		p := s.Plans[o.set]
		ra := &p.Roles[o.role]
		if ra.Chosen {
			continue
		}
		p.disks = s.freeFor(o.set)
		used := map[string]string{}
		for _, r := range p.Roles {
			if r.Disk != nil {
				used[r.Disk.Path] = r.Role
			}
		}
		p.fillRole(ra, used)
	}
	for i, p := range s.Plans {
		p.disks = s.freeFor(i)
	}
}

// slot is one role of one set.
type slot struct{ set, role int }

// order lists the roles in the order Fill proposes them: every SD card,
// then the other roles set by set.
func (s *Sets) order() []slot {
	var cards, rest []slot
	for i, p := range s.Plans {
		for j, ra := range p.Roles {
			if ra.Role == RoleSD {
				cards = append(cards, slot{i, j})
			} else {
				rest = append(rest, slot{i, j})
			}
		}
	}
	return append(cards, rest...)
}

// freeFor returns the disks no set but set i holds, leaving out every
// node of a medium another set holds.
func (s *Sets) freeFor(i int) []disk.Disk {
	var held []disk.Disk
	for j, p := range s.Plans {
		if j == i {
			continue
		}
		for _, ra := range p.Roles {
			if ra.Disk != nil && !ra.IsFile() {
				held = append(held, *ra.Disk)
			}
		}
	}
	var out []disk.Disk
	for _, d := range s.disks {
		free := true
		for _, h := range held {
			if same, _ := disk.SameMedium(h, d); same {
				free = false
				break
			}
		}
		if free {
			out = append(out, d)
		}
	}
	return out
}

// Apply assigns what reqs name: reqs[i] to set i+1 (see Plan.Apply); sets
// beyond reqs keep the proposal. A path named for two sets, or two disks
// of one medium named for two sets, is refused with a *RoleError. The
// other roles are proposed again (Fill). Errors name the set when there
// are several.
func (s *Sets) Apply(reqs []Request) error {
	if len(reqs) > len(s.Plans) {
		return fmt.Errorf("%w: disks named for %d sets, %d asked for", ErrTooManySets, len(reqs), len(s.Plans))
	}
	defer s.Fill()
	for _, p := range s.Plans {
		p.disks = s.Disks()
	}
	for i, r := range reqs {
		if err := s.Plans[i].Apply(r); err != nil {
			return s.wrap(i, err)
		}
	}
	return s.checkChosen()
}

// checkChosen refuses a target the user chose for two sets, returning
// the first clash; every later choice that clashes is dropped, so that
// the sets stay disjoint.
func (s *Sets) checkChosen() error {
	var first error
	for j, p := range s.Plans {
		for k := range p.Roles {
			ra := &p.Roles[k]
			if !ra.Chosen || ra.Disk == nil {
				continue
			}
			if err := s.chosenBefore(j, *ra); err != nil {
				if first == nil {
					first = s.wrap(j, &RoleError{Role: ra.Role, Path: ra.Disk.Path, File: ra.IsFile(), Err: err})
				}
				ra.Chosen, ra.Disk = false, nil
			}
		}
	}
	return first
}

// chosenBefore returns why ra of set j clashes with a choice of a set
// before j.
func (s *Sets) chosenBefore(j int, ra RoleAssignment) error {
	for i := range j {
		for _, o := range s.Plans[i].Roles {
			if !o.Chosen || o.Disk == nil {
				continue
			}
			who := fmt.Sprintf("%s of set %d", o.Role, i+1)
			if o.Disk.Path == ra.Disk.Path {
				return &InUseError{Path: ra.Disk.Path, Role: who}
			}
			if o.IsFile() || ra.IsFile() {
				continue
			}
			if same, why := disk.SameMedium(*o.Disk, *ra.Disk); same {
				return &disk.SameMediumError{A: o.Disk.Path, B: ra.Disk.Path, Why: why + ", chosen for " + who}
			}
		}
	}
	return nil
}

// roles returns the roles of every set.
func (s *Sets) roles() []RoleAssignment {
	var out []RoleAssignment
	for _, p := range s.Plans {
		out = append(out, p.Roles...)
	}
	return out
}

// enough returns a *TooFewDisksError when fewer eligible disks are
// present than the disk targets of all sets.
func (s *Sets) enough() error {
	need := 0
	for _, ra := range s.roles() {
		if !ra.IsFile() {
			need++
		}
	}
	var present []disk.Disk
	for _, d := range s.disks {
		if d.Eligible && d.SizeBytes > 0 {
			present = append(present, d)
		}
	}
	if len(present) >= need {
		return nil
	}
	return &TooFewDisksError{Sets: len(s.Plans), Externals: len(s.Plans[0].ExternalRoles()), Need: need,
		Present: present, Protected: len(s.disks) - len(present)}
}

// Ready returns nil when every set can be written. With one set it is
// Plan.Ready. With several: a *TooFewDisksError when fewer eligible disks
// are present than all sets need; else each set's *NotReadyError, naming
// the set (joined); else a *NotReadyError when two targets of any sets
// are one medium.
func (s *Sets) Ready() error {
	if len(s.Plans) == 1 {
		return s.Plans[0].Ready()
	}
	if err := s.enough(); err != nil {
		return err
	}
	var errs []error
	for i, p := range s.Plans {
		errs = append(errs, s.wrap(i, p.Ready()))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := distinct(s.roles(), nil); err != nil {
		return &NotReadyError{Problems: []string{err.Error()}, Err: err}
	}
	return nil
}

// request returns the request of set i (from 0): reqs[i], or one naming
// nothing; Yes when any request says so.
func request(reqs []Request, i int) Request {
	var r Request
	if i < len(reqs) {
		r = reqs[i]
	}
	for _, o := range reqs {
		r.Yes = r.Yes || o.Yes
	}
	return r
}

// CheckYes refuses --yes unless every role of every set was named
// (Plan.CheckYes); reqs[i] is set i+1's request.
func (s *Sets) CheckYes(reqs []Request) error {
	for i, p := range s.Plans {
		if err := p.CheckYes(request(reqs, i)); err != nil {
			return s.wrap(i, err)
		}
	}
	return nil
}

// Named maps, for each set, each role to the path its request named.
func (s *Sets) Named(reqs []Request) []map[string]string {
	out := make([]map[string]string, len(s.Plans))
	for i, p := range s.Plans {
		out[i] = p.Named(request(reqs, i))
	}
	return out
}

// DiskCount is the number of roles of all sets written to disks.
func (s *Sets) DiskCount() int {
	n := 0
	for _, p := range s.Plans {
		n += p.DiskCount()
	}
	return n
}

// SetFailure is one failed set of RunSets.
type SetFailure struct {
	// Set is the set's number, from 1.
	Set int
	// Err is why it failed: a *SetError, or why it was not written.
	Err error
}

// Error implements error.
func (e *SetFailure) Error() string { return fmt.Sprintf("set %d: %v", e.Set, e.Err) }

// Unwrap returns the cause.
func (e *SetFailure) Unwrap() error { return e.Err }

// SetsError is returned by RunSets when any set failed; the others were
// still written.
type SetsError struct {
	// Failed lists the failed sets in order.
	Failed []*SetFailure
	// Of is the number of sets.
	Of int
}

// Error implements error.
func (e *SetsError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = f.Error()
	}
	return fmt.Sprintf("%d of %d sets failed: %s", len(e.Failed), e.Of, strings.Join(parts, "; "))
}

// Unwrap returns the failures, so errors.Is(err, context.Canceled) tells
// cancelled sets.
func (e *SetsError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

// RunSets writes every set of s at once, each as Run writes one: its
// targets in parallel, each guarded, verified and reported on its own.
// opts returns the options of set n (from 1); each set's Progress and
// After are called from that set's goroutines, so one shared by sets must
// be safe for concurrent use.
//
// Nothing is written unless every set is Ready, every disk needing a
// typed confirmation has one in its set's Options.Confirmations, and no
// two targets of all sets are one medium as the disks are now; these
// errors come back as they are, naming the set when there are several.
// Otherwise every set is written: a failing set stops no other, and
// RunSets returns every set's summary (nil for a set that could not
// start) with a *SetsError naming each failed set.
func RunSets(ctx context.Context, s *Sets, opts func(set int) Options) ([]*Summary, error) {
	if err := s.Ready(); err != nil {
		return nil, err
	}
	n := len(s.Plans)
	all := make([]Options, n)
	fresh := map[string]disk.Disk{}
	for i, p := range s.Plans {
		all[i] = opts(i + 1)
		if err := checkConfirmations(p, all[i].Confirmations); err != nil {
			return nil, s.wrap(i, err)
		}
		maps.Copy(fresh, freshDisks(p, all[i].Root))
	}
	if err := distinct(s.roles(), fresh); err != nil {
		return nil, err
	}
	sums := make([]*Summary, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range s.Plans {
		wg.Go(func() {
			sums[i], errs[i] = Run(ctx, p, all[i])
			if sums[i] != nil && n > 1 {
				sums[i].Number, sums[i].Of = i+1, n
			}
		})
	}
	wg.Wait()
	se := &SetsError{Of: n}
	for i, err := range errs {
		if err != nil {
			se.Failed = append(se.Failed, &SetFailure{Set: i + 1, Err: err})
		}
	}
	if len(se.Failed) > 0 {
		return sums, se
	}
	return sums, nil
}
