package gui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/gui/form"
	"github.com/pistudio/pistudio/internal/manifest"
)

// realBackends returns the services over package builder and package flash.
// They hold no rules of their own: every check the app shows comes from
// those packages, exactly as the command line uses them.
func realBackends() Backends {
	w := &writer{}
	return Backends{
		Configs:   form.Configs{},
		Tool:      realTool{},
		Runner:    &realRunner{&cacheCell{}},
		Doctor:    realDoctor{},
		Flashtime: realFlashtime{w},
		Disks:     realDisks{},
		Images:    realImages{},
		Flasher:   realFlasher{w},
		Raid:      realRaid{w},
	}
}

// realTool finds rpi-image-gen and runs the runner's preflight checks.
type realTool struct{}

func (realTool) Find(dir string) (string, error) { return runner.FindTool(dir, nil) }

func (realTool) Version(dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "describe", "--tags", "--always").Output()
	if err != nil {
		return "", fmt.Errorf("reading the tool version: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (realTool) Preflight(_ context.Context, dir, workDir string) []runner.Check {
	var skip []string
	if workDir == "" {
		skip = append(skip, runner.CheckWorkDir) // the check would create it
	}
	return runner.Preflight(runner.Job{ToolDir: dir, WorkDir: workDir}, runner.Host{}, skip...)
}

// realRunner starts builds with buildjob and builder/runner, with the
// per-user cache of the settings.
type realRunner struct{ *cacheCell }

func (realRunner) WorkDir(config, workDir string) string {
	if workDir != "" || config == "" {
		return workDir
	}
	return defaultWorkDir(config)
}

// defaultWorkDir is the work dir of a config when none is set: a folder
// per config in the user's cache ($XDG_CACHE_HOME/pistudio/work/<config
// name>), so that builds never fill the folder the config lives in; work/
// next to the config when the system has no cache dir.
func defaultWorkDir(config string) string {
	name := strings.TrimSuffix(filepath.Base(config), filepath.Ext(config))
	if cache, err := os.UserCacheDir(); err == nil {
		return filepath.Join(cache, "pistudio", "work", name)
	}
	return filepath.Join(filepath.Dir(config), "work")
}

// Start builds the job with buildjob.New, exactly as `pistudio build`
// does (raid sets get the native image stage), and starts the runner.
func (rr realRunner) Start(ctx context.Context, config string, stage runner.Stage, opts buildjob.Options) (BuildRun, error) {
	if opts.WorkDir == "" {
		opts.WorkDir = defaultWorkDir(config)
	}
	job, err := buildjob.New(config, stage, opts)
	if err != nil {
		return nil, fmt.Errorf("preparing the build: %w", err)
	}
	r, err := runner.Start(ctx, job, runner.Options{Cache: rr.get()})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// scanOptions: the app reads only sysfs, procfs and the udev database; it
// never opens a device node itself (filesystem probes are left to the
// writer's guard).
var scanOptions = disk.ScanOptions{NoProbe: true}

// realDisks lists disks with flash/disk.
type realDisks struct{}

func (realDisks) Scan(context.Context) ([]disk.Disk, error) {
	ds, err := disk.Scan(scanOptions)
	if err != nil {
		return nil, fmt.Errorf("scanning disks: %w", err)
	}
	return ds, nil
}

func (realDisks) Watch(ctx context.Context) (<-chan struct{}, error) {
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

// realImages inspects images with flash/source and lists build artifacts
// from the run history.
type realImages struct{}

func (realImages) Inspect(_ context.Context, path string) (*source.Info, error) {
	return source.Inspect(path)
}

// Recent lists the whole-disk images of successful runs, newest first.
func (realImages) Recent(workDir string) []string {
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

// realFlasher writes one image to one disk; the disk guard runs in the writer.
type realFlasher struct{ w *writer }

func (f realFlasher) Flash(ctx context.Context, image string, d disk.Disk, confirmed string, opts flash.Options) (*flash.Result, error) {
	if d.NeedsTypedConfirm && !d.ConfirmedBy(confirmed) {
		return nil, fmt.Errorf("%s: type %q to confirm writing this disk", d.Path, d.Name)
	}
	return f.w.flash(ctx, image, flash.Target{Path: d.Path, Identity: d.Identity()}, opts)
}

// realRaid reads RAID sets with internal/manifest and plans and writes them
// with flash/provision.
type realRaid struct{ w *writer }

// Sets lists the RAID image sets in the work dir, newest first.
func (realRaid) Sets(workDir string) []string {
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

func (realRaid) Plan(dir string, disks []disk.Disk) (*provision.Plan, error) {
	return planSet(dir, disks)
}

// planSet reads the set in dir and asks provision.Propose for a disk per
// role; a folder holding another layout is refused.
func planSet(dir string, disks []disk.Disk) (*provision.Plan, error) {
	m, err := manifest.Read(dir)
	if err != nil {
		return nil, err
	}
	if m.Layout != manifest.LayoutRAID {
		return nil, fmt.Errorf("%s holds a %s image, not a RAID set", dir, m.Layout)
	}
	return provision.Propose(m, dir, disks)
}

// Provision writes the set with provision.Run; each write goes through the
// shared writer (the helper when not root).
func (r realRaid) Provision(ctx context.Context, p *provision.Plan, opts provision.Options) (*provision.Summary, error) {
	if !helper.InProcess() {
		opts.Flash = r.w.flash
	}
	return provision.Run(ctx, p, opts)
}

func (realFlasher) Eject(ctx context.Context, d disk.Disk) error {
	return disk.Eject(ctx, d.Path, d.Identity(), disk.EjectOptions{})
}

func (realRunner) History(workDir string) ([]runner.Record, error) {
	if workDir == "" {
		return nil, nil
	}
	return runner.History(workDir)
}
