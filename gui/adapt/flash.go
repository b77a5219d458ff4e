package adapt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/gui/backend"
	"github.com/pistudio/pistudio/internal/manifest"
)

// Disks lists disks with flash/disk.
type Disks struct{}

// scanOptions: the app reads only sysfs, procfs and the udev database; it
// never opens a device node itself (filesystem probes are left to the
// writer's guard).
var scanOptions = disk.ScanOptions{NoProbe: true}

func convertDisk(d disk.Disk) backend.Disk {
	model := strings.TrimSpace(d.Vendor + " " + d.Model)
	if d.Vendor != "" && strings.HasPrefix(d.Model, d.Vendor) {
		model = d.Model
	}
	if model == "" && d.Bus == "loop" && d.Serial != "" {
		model = "Loop device (" + filepath.Base(d.Serial) + ")"
	}
	return backend.Disk{Name: d.Name, Path: d.Path, Size: d.SizeBytes, Model: model, Bus: d.Bus, Removable: d.Removable,
		Eligible: d.Eligible, Reason: d.Reason, NeedsTypedConfirm: d.NeedsTypedConfirm, Ref: d}
}

// Scan lists every disk with its classification.
func (Disks) Scan(context.Context) ([]backend.Disk, error) {
	ds, err := disk.Scan(scanOptions)
	if err != nil {
		return nil, err
	}
	out := make([]backend.Disk, 0, len(ds))
	for _, d := range ds {
		out = append(out, convertDisk(d))
	}
	return out, nil
}

// Watch turns hotplug events into change signals.
func (Disks) Watch(ctx context.Context) (<-chan struct{}, error) {
	evs, err := disk.Watch(ctx, disk.WatchOptions{ScanOptions: scanOptions})
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{}, 1)
	go func() {
		defer close(ch)
		for range evs {
			select {
			case ch <- struct{}{}:
			default: // a rescan is already pending
			}
		}
	}()
	return ch, nil
}

// Images inspects images with flash/source and lists build artifacts from
// the run history.
type Images struct{}

// Inspect reads format, sizes and partitions without expanding the image.
func (Images) Inspect(_ context.Context, path string) (backend.ImageInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return backend.ImageInfo{}, err
	}
	in, err := source.Inspect(path)
	if err != nil {
		return backend.ImageInfo{}, err
	}
	out := backend.ImageInfo{Path: path, Format: string(in.Format), FileSize: st.Size(), Size: in.Size, DataSize: in.DataSize, Table: in.Table}
	for _, p := range in.Partitions {
		t := p.TypeName
		if t == "" {
			t = p.Type
		} else {
			t += " (" + p.Type + ")"
		}
		if p.Filesystem != "" {
			t += " " + p.Filesystem
		}
		label := p.Label
		if label == "" {
			label = p.Name
		}
		out.Partitions = append(out.Partitions, backend.Partition{Number: p.Index, Start: p.Start, Size: p.Size, Type: t, Label: label})
	}
	return out, nil
}

// Recent lists the whole-disk images of successful runs, newest first.
func (Images) Recent(workDir string) []string {
	if workDir == "" {
		return nil
	}
	recs, err := runner.History(workDir)
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i := len(recs) - 1; i >= 0; i-- {
		for _, a := range recs[i].Artifacts {
			if (a.Kind != runner.KindDiskImage && a.Kind != runner.KindSparse) || seen[a.Path] {
				continue
			}
			if _, err := os.Stat(a.Path); err == nil {
				seen[a.Path] = true
				out = append(out, a.Path)
			}
		}
	}
	return out
}

// writer holds the process that writes disks: in-process when we are
// root, else the privileged helper (pkexec pistudio helper), started on
// first use and shared by single writes and RAID sets.
type writer struct {
	mu sync.Mutex
	f  helper.Flasher
}

// flash writes through the current flasher, starting it when needed.
func (w *writer) flash(ctx context.Context, img string, t flash.Target, opts flash.Options) (*flash.Result, error) {
	w.mu.Lock()
	if w.f == nil {
		f, err := helper.New(context.Background())
		if err != nil {
			w.mu.Unlock()
			return nil, fmt.Errorf("starting the privileged helper: %w", err)
		}
		w.f = f
	}
	f := w.f
	w.mu.Unlock()
	res, err := f.Flash(ctx, img, t, opts)
	if errors.Is(err, helper.ErrHelperExited) {
		w.mu.Lock()
		if w.f == f {
			_ = f.Close()
			w.f = nil // start a new one next time
		}
		w.mu.Unlock()
	}
	return res, err
}

// Flasher writes one image to one disk; the disk guard runs in the writer.
type Flasher struct{ w *writer }

// Flash writes job.Image to job.Disk.
func (f Flasher) Flash(ctx context.Context, job backend.FlashJob, progress func(backend.Progress)) (backend.FlashResult, error) {
	d, ok := job.Disk.Ref.(disk.Disk)
	if !ok {
		return backend.FlashResult{}, fmt.Errorf("%s: not a disk from the disk list", job.Disk.Path)
	}
	if d.NeedsTypedConfirm && !d.ConfirmedBy(job.Confirmed) {
		return backend.FlashResult{}, fmt.Errorf("%s: type %q to confirm writing this disk", d.Path, d.Name)
	}
	res, err := f.w.flash(ctx, job.Image, flash.Target{Path: d.Path, Identity: d.Identity()}, flash.Options{
		NoVerify:     !job.Verify,
		SHA256:       job.SHA256,
		AllowUnmount: job.AllowUnmount,
		Progress:     func(p flash.Progress) { progress(convertProgress(p)) },
	})
	if errors.Is(err, flash.ErrMounted) {
		return backend.FlashResult{}, fmt.Errorf("%w: %w", backend.ErrMounted, err)
	}
	if err != nil {
		return backend.FlashResult{}, err
	}
	return backend.FlashResult{Bytes: res.Written, Hash: resultHash(res), Verified: res.Verified, Duration: res.WriteTime + res.VerifyTime}, nil
}

// resultHash names the image hash of a write: "sha256:<hex>" when the
// SHA-256 was computed, else "xxh3:<hex>" (the XXH3-128 of the image).
func resultHash(res *flash.Result) string {
	if res.SHA256 != "" {
		return "sha256:" + res.SHA256
	}
	return "xxh3:" + res.XXH3
}

func convertProgress(p flash.Progress) backend.Progress {
	phase := "write"
	if p.Phase != flash.Writing {
		phase = "verify"
	}
	return backend.Progress{Phase: phase, Done: p.Done, Total: p.Total, Rate: p.BytesPerSec, ETA: p.ETA}
}

// Raid reads RAID sets with builder/image and plans and writes them with
// flash/provision.
type Raid struct{ w *writer }

// Sets lists the RAID image sets in the work dir, newest first.
func (Raid) Sets(workDir string) []string {
	if workDir == "" {
		return nil
	}
	dirs, _ := filepath.Glob(filepath.Join(workDir, "image-*"))
	type set struct {
		dir  string
		when int64
	}
	var sets []set
	for _, d := range dirs {
		m, err := manifest.Read(d)
		if err != nil || m.Layout != manifest.LayoutRAID {
			continue
		}
		st, err := os.Stat(filepath.Join(d, manifest.File))
		if err != nil {
			continue
		}
		sets = append(sets, set{d, st.ModTime().UnixNano()})
	}
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].when > sets[j].when })
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.dir
	}
	return out
}

// Load reads a set's image.json; roles come SD card first, then the
// external disks in order (as provision orders them).
func (Raid) Load(dir string) (backend.RaidSet, error) {
	m, err := manifest.Read(dir)
	if err != nil {
		return backend.RaidSet{}, err
	}
	if m.Layout != manifest.LayoutRAID {
		return backend.RaidSet{}, fmt.Errorf("%s holds a %s image, not a RAID set", dir, m.Layout)
	}
	s := backend.RaidSet{Dir: dir, Name: m.Name, Level: m.Level, ArrayUUID: m.ArrayUUID}
	p, err := provision.Propose(m, dir, nil)
	if err != nil {
		return backend.RaidSet{}, err
	}
	for _, r := range p.Roles {
		s.Roles = append(s.Roles, backend.RaidRole{Role: r.Role, Image: filepath.Join(dir, r.Artifact), Size: r.ArtifactSize})
	}
	return s, nil
}

// Plan asks provision.Propose for a disk per role.
func (Raid) Plan(set backend.RaidSet, disks []backend.Disk) (backend.Plan, error) {
	m, err := manifest.Read(set.Dir)
	if err != nil {
		return backend.Plan{Set: set}, err
	}
	var ds []disk.Disk
	for _, d := range disks {
		if r, ok := d.Ref.(disk.Disk); ok {
			ds = append(ds, r)
		}
	}
	p, err := provision.Propose(m, set.Dir, ds)
	if err != nil {
		return backend.Plan{Set: set}, err
	}
	return convertPlan(set, p), nil
}

func convertPlan(set backend.RaidSet, p *provision.Plan) backend.Plan {
	out := backend.Plan{Set: set, Ref: p}
	for _, r := range p.Roles {
		a := backend.Assignment{Role: backend.RaidRole{Role: r.Role, Image: filepath.Join(p.Set, r.Artifact), Size: r.ArtifactSize}, Why: r.Reason}
		if r.Disk != nil {
			a.Disk = r.Disk.Path
		} else {
			a.Why = r.Problem
		}
		if r.Chosen {
			a.Why = "chosen by you"
		}
		out.Assignments = append(out.Assignments, a)
	}
	return out
}

func provPlan(p backend.Plan) (*provision.Plan, error) {
	pp, ok := p.Ref.(*provision.Plan)
	if !ok {
		return nil, errors.New("the plan was not made by the provisioner")
	}
	return pp, nil
}

// Assign records the user's choice with provision.Plan.Assign, on a copy:
// the plan passed in (which an open confirmation may list) never changes.
func (Raid) Assign(p backend.Plan, role, diskPath string) (backend.Plan, error) {
	orig, err := provPlan(p)
	if err != nil {
		return p, err
	}
	cp := *orig
	cp.Roles = append([]provision.RoleAssignment(nil), orig.Roles...)
	pp := &cp
	if diskPath == "" {
		err = pp.Unassign(role)
	} else {
		err = pp.Assign(role, diskPath)
	}
	if err != nil {
		return convertPlan(p.Set, pp), err
	}
	return convertPlan(p.Set, pp), nil
}

// Ready reports whether every role has a disk.
func (Raid) Ready(p backend.Plan) error {
	pp, err := provPlan(p)
	if err != nil {
		return err
	}
	return pp.Ready()
}

// Provision writes the set with provision.Run; each write goes through the
// shared writer (the helper when not root).
func (r Raid) Provision(ctx context.Context, p backend.Plan, verify bool, confirmed map[string]string, progress func(backend.TargetProgress)) ([]backend.TargetResult, error) {
	pp, err := provPlan(p)
	if err != nil {
		return nil, err
	}
	opts := provision.Options{
		NoVerify:      !verify,
		Confirmations: confirmed,
		Progress: func(ev provision.Event) {
			progress(backend.TargetProgress{Role: ev.Role, Progress: convertProgress(ev.Progress)})
		},
	}
	if os.Geteuid() != 0 {
		opts.Flash = r.w.flash
	}
	sum, err := provision.Run(ctx, pp, opts)
	if sum == nil {
		return nil, err
	}
	var out []backend.TargetResult
	for _, t := range sum.Targets {
		tr := backend.TargetResult{Role: t.Role, Disk: t.Device, Result: backend.FlashResult{
			Bytes: t.Written, Hash: t.Hash(), Verified: t.Verified, Duration: t.Duration}}
		if t.State != provision.Done {
			msg := t.Error
			if msg == "" {
				msg = string(t.State)
			}
			tr.Err = errors.New(msg)
		}
		out = append(out, tr)
	}
	return out, err
}
