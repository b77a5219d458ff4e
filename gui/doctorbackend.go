package gui

import (
	"context"
	"fmt"
	"io"
	"sync"

	"fyne.io/fyne/v2"

	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/doctor"
	"github.com/pistudio/pistudio/builder/runner"
)

// Doctor checks this computer before a build, installs missing Debian
// packages and gets rpi-image-gen when no tree is found. realDoctor wires
// package builder/doctor; gui/demo fakes it.
type Doctor interface {
	// Check runs the doctor's checks for req; progress, when set, gets
	// each check as it completes (from any goroutine).
	Check(ctx context.Context, req DoctorRequest, progress func(doctor.Check)) doctor.Report
	// Install installs pkgs through the privileged helper, writing
	// apt-get's output to out. Without a polkit agent the error is a
	// *doctor.NeedsSudoError.
	Install(ctx context.Context, pkgs []string, out io.Writer) error
	// GetTool clones rpi-image-gen at the tested release into dir.
	GetTool(ctx context.Context, dir string, progress func(doctor.CloneProgress)) error
	// DefaultToolDir is where GetTool puts the tree by default.
	DefaultToolDir() (string, error)
}

// DoctorRequest says what the doctor checks: a build of Config (empty:
// the host alone, for a default build) with the tool, work dir and cache
// the build would use.
type DoctorRequest struct {
	// Config is the config file to build; "" checks a default build.
	Config string
	// Stage is what will be built.
	Stage runner.Stage
	// ToolDir is the rpi-image-gen tree ("" = search).
	ToolDir string
	// WorkDir is the build's work dir ("" = next to the config).
	WorkDir string
	// Cache is the per-user cache the build uses.
	Cache runner.Cache
}

// realDoctor runs package builder/doctor exactly as `pistudio doctor` does.
type realDoctor struct{}

// Check runs doctor.Run for a build of req.Config (doctor.ForJob), or for
// the default plan when no config is given or its job cannot be made.
func (realDoctor) Check(ctx context.Context, req DoctorRequest, progress func(doctor.Check)) doctor.Report {
	base := doctor.Options{Cache: req.Cache, Progress: progress, Stage: req.Stage, WorkDir: req.WorkDir}
	if dir, err := runner.FindTool(req.ToolDir, nil); err == nil {
		base.ToolDir = dir
	}
	if req.Config != "" {
		work := req.WorkDir
		if work == "" {
			work = defaultWorkDir(req.Config)
		}
		job, err := buildjob.New(req.Config, req.Stage, buildjob.Options{ToolDir: base.ToolDir, WorkDir: work})
		if err == nil {
			return doctor.Run(ctx, doctor.ForJob(job, base))
		}
	}
	return doctor.Run(ctx, base)
}

func (realDoctor) Install(ctx context.Context, pkgs []string, out io.Writer) error {
	if err := doctor.Install(ctx, pkgs, doctor.InstallOptions{Out: out}); err != nil {
		return fmt.Errorf("installing %d packages: %w", len(pkgs), err)
	}
	return nil
}

func (realDoctor) GetTool(ctx context.Context, dir string, progress func(doctor.CloneProgress)) error {
	if err := doctor.GetTool(ctx, dir, "", progress); err != nil {
		return fmt.Errorf("getting rpi-image-gen into %s: %w", dir, err)
	}
	return nil
}

func (realDoctor) DefaultToolDir() (string, error) { return doctor.DefaultToolDir() }

// Preference keys of the cache settings.
const (
	prefCacheOn      = "cache.on"
	prefCacheDir     = "cache.dir"
	prefCacheOffline = "cache.offline"
	prefCacheReuse   = "cache.reuse"
)

// CacheSettings are the per-user cache and offline mode builds use.
type CacheSettings struct {
	// On uses the cache (default true).
	On bool
	// Dir is the cache folder ("" = runner.DefaultCacheDir()).
	Dir string
	// Offline is runner.OfflineAuto, OfflineOn or OfflineOff.
	Offline string
	// Reuse lets a build reuse the root filesystem an earlier build of
	// the same config, layers, tree and archive left (default true).
	Reuse bool
}

// loadCacheSettings reads the cache settings with their defaults: on, in
// the per-user cache folder, offline when the cache holds everything.
func loadCacheSettings(p fyne.Preferences) CacheSettings {
	return CacheSettings{
		On:      p.BoolWithFallback(prefCacheOn, true),
		Dir:     p.StringWithFallback(prefCacheDir, ""),
		Offline: p.StringWithFallback(prefCacheOffline, runner.OfflineAuto),
		Reuse:   p.BoolWithFallback(prefCacheReuse, true),
	}
}

// save writes the cache settings.
func (c CacheSettings) save(p fyne.Preferences) {
	p.SetBool(prefCacheOn, c.On)
	p.SetString(prefCacheDir, c.Dir)
	p.SetString(prefCacheOffline, c.Offline)
	p.SetBool(prefCacheReuse, c.Reuse)
}

// Runner returns the cache as builds and the doctor use it; the zero
// value (no cache) when it is off or no cache folder is known.
func (c CacheSettings) Runner() runner.Cache {
	if !c.On {
		return runner.Cache{Offline: runner.OfflineOff}
	}
	dir := c.Dir
	if dir == "" {
		d, err := runner.DefaultCacheDir()
		if err != nil {
			return runner.Cache{Offline: runner.OfflineOff}
		}
		dir = d
	}
	off := c.Offline
	if off == "" {
		off = runner.OfflineAuto
	}
	return runner.Cache{Dir: dir, Offline: off, NoReuse: !c.Reuse}
}

// cacheUser is a StageRunner that takes the cache builds use.
type cacheUser interface {
	SetCache(runner.Cache)
}

// cacheCell holds the cache of the real runner; it is set on the UI
// goroutine and read by builds starting on others.
type cacheCell struct {
	mu sync.Mutex
	c  runner.Cache
}

// SetCache sets the cache later builds use.
func (c *cacheCell) SetCache(v runner.Cache) {
	c.mu.Lock()
	c.c = v
	c.mu.Unlock()
}

func (c *cacheCell) get() runner.Cache {
	if c == nil {
		return runner.Cache{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}

// applyCache hands the cache settings to the runner.
func (g *App) applyCache() {
	if u, ok := g.be.Runner.(cacheUser); ok {
		u.SetCache(g.set.Cache.Runner())
	}
}
