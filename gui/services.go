package gui

import (
	"context"

	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/gui/form"
)

// Backends bundles every service the app uses. Each is a small interface
// over the real types of packages builder and flash: realBackends wires
// those packages, gui/demo fakes that build the same values.
type Backends struct {
	// Configs loads, saves and validates configs; it also reads the catalog.
	Configs ConfigStore
	// Tool finds rpi-image-gen and checks the host.
	Tool Tool
	// Runner starts builds.
	Runner StageRunner
	// Disks lists the disks that can be written.
	Disks DiskSource
	// Images inspects image files and lists recent build artifacts.
	Images ImageInspector
	// Flasher writes an image to a disk.
	Flasher Flasher
	// Raid plans and provisions RAID disk sets.
	Raid Provisioner
	// Doctor checks this computer before builds (doctorbackend.go).
	Doctor Doctor
	// Flashtime detects first-boot readers, writes settings after a
	// write and keeps profiles (customisebackend.go).
	Flashtime Flashtime
}

// ConfigStore reads, writes and validates configs (config.Config keeps
// comments and layout byte for byte).
type ConfigStore interface {
	// Load reads a config file.
	Load(path string) (*config.Config, error)
	// New returns a fresh config from the built-in template.
	New() (*config.Config, error)
	// Save writes config text (a Config's Bytes, taken on the UI
	// goroutine) to path atomically. It runs off the UI goroutine.
	Save(path string, data []byte) error
	// Catalog loads the layer catalog for a tool dir ("" when unknown).
	Catalog(toolDir string) (form.Catalog, error)
	// Validate checks a config against the catalog.
	Validate(c *config.Config, cat form.Catalog) []form.Problem
}

// Tool locates rpi-image-gen and checks the host.
type Tool interface {
	// Find returns the tool dir, preferring dir when it is set.
	Find(dir string) (string, error)
	// Version returns the tool's version.
	Version(dir string) (string, error)
	// Preflight checks the host, the tool in dir and the work dir.
	Preflight(ctx context.Context, dir, workDir string) []runner.Check
}

// BuildRun is a build in progress; *runner.Run is one.
type BuildRun interface {
	// Events delivers the run's events; it is closed after EventFinished.
	Events() <-chan runner.Event
	// Cancel stops the run.
	Cancel()
	// LogPath is the full log file on disk.
	LogPath() string
}

// StageRunner starts builds.
type StageRunner interface {
	// Start builds config with stage (full, filesystem or image).
	Start(ctx context.Context, config string, stage runner.Stage, opts buildjob.Options) (BuildRun, error)
	// WorkDir returns the work dir a build of config uses when the
	// setting is workDir ("" = the default).
	WorkDir(config, workDir string) string
	// History reads the records of the builds in a work dir, oldest first.
	History(workDir string) ([]runner.Record, error)
}

// DiskSource lists disks and reports hotplug.
type DiskSource interface {
	// Scan lists every disk, eligible or not.
	Scan(ctx context.Context) ([]disk.Disk, error)
	// Watch signals on the channel when disks may have changed; it is closed when ctx ends.
	Watch(ctx context.Context) (<-chan struct{}, error)
}

// ImageInspector describes image files.
type ImageInspector interface {
	// Inspect reads an image's format, sizes and partitions.
	Inspect(ctx context.Context, path string) (*source.Info, error)
	// Recent lists flashable artifacts of recent builds, newest first.
	Recent(workDir string) []string
}

// Flasher writes images to disks; the real one re-checks every guard.
type Flasher interface {
	// Flash writes image to target. confirmed is the name the user typed
	// for a disk that needs it (NeedsTypedConfirm). opts.Progress may be
	// called from any goroutine.
	Flash(ctx context.Context, image string, target disk.Disk, confirmed string, opts flash.Options) (*flash.Result, error)
	// Eject powers off the disk just written, after checking it is still
	// that disk, so that it can be unplugged safely.
	Eject(ctx context.Context, target disk.Disk) error
}

// Provisioner plans and writes RAID sets; plan rules and guards live in
// package flash/provision.
type Provisioner interface {
	// Sets lists RAID sets found in the work dir, newest first.
	Sets(workDir string) []string
	// Plan reads the set in dir and proposes a disk per role among disks.
	Plan(dir string, disks []disk.Disk) (*provision.Plan, error)
	// Provision writes every role of plan (opts.Confirmations holds the
	// typed names by disk path); opts.Progress may be called from any
	// goroutine.
	Provision(ctx context.Context, plan *provision.Plan, opts provision.Options) (*provision.Summary, error)
}
