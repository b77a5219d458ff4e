// Package backend declares the small interfaces the desktop app talks to:
// configs and the layer catalog, the build runner, disks, image inspection,
// flashing and RAID provisioning. It has no Fyne import. The real
// implementations adapt package builder and package flash (gui/adapt);
// gui/demo provides fakes with sample data for tests and screenshots.
package backend

import (
	"context"
	"errors"
	"time"
)

// Backends bundles every service the app uses.
type Backends struct {
	// Configs loads, saves and validates configs; it also reads the catalog.
	Configs ConfigStore
	// Tool finds rpi-image-gen and checks the host.
	Tool Tool
	// Runner starts builds.
	Runner Runner
	// Disks lists the disks that can be written.
	Disks DiskSource
	// Images inspects image files and lists recent build artifacts.
	Images ImageInspector
	// Flasher writes an image to a disk.
	Flasher Flasher
	// Raid plans and provisions RAID disk sets.
	Raid Provisioner
}

// VarKind tells which widget edits a variable.
type VarKind int

// Kinds of variables.
const (
	// KindString is free text.
	KindString VarKind = iota
	// KindEnum is one of Var.Choices.
	KindEnum
	// KindBool is a yes/no value.
	KindBool
	// KindInt is an integer.
	KindInt
	// KindSize is an rpi-image-gen size such as 200M or 50%.
	KindSize
)

// Var is one layer variable, as the form shows it.
type Var struct {
	// Key is the config key path, e.g. "image.rootfs_type".
	Key string
	// Name is the variable's short name, e.g. "rootfs_type".
	Name string
	// Default is the layer's default value ("" when none).
	Default string
	// Desc is the layer's -Desc text, shown as the field's hint.
	Desc string
	// Required is true when the layer requires a value.
	Required bool
	// Kind chooses the widget.
	Kind VarKind
	// Choices are the allowed values of an enum.
	Choices []string
	// Check validates a value with the layer's rule; nil accepts anything.
	Check func(value string) error
}

// Layer is one catalog entry.
type Layer struct {
	// Name is the layer name used in configs.
	Name string
	// Desc is the layer's description.
	Desc string
	// Category is device, image, base (suite) or general.
	Category string
	// Vars are the layer's variables in header order.
	Vars []Var
}

// Layer categories as the form groups them.
const (
	CategoryDevice = "device"
	CategoryImage  = "image"
	CategoryBase   = "base"
)

// Catalog is the set of known layers.
type Catalog interface {
	// Layers returns every layer, sorted by name.
	Layers() []Layer
	// Lookup returns a layer by name.
	Lookup(name string) (Layer, bool)
}

// Problem is one validation finding.
type Problem struct {
	// Key is the config key path the problem belongs to ("" for the file).
	Key string
	// Line is the 1-based line in the file (0 when unknown).
	Line int
	// Msg is the user-facing message.
	Msg string
}

// ConfigDoc is an editable config file. Implementations keep comments
// and layout so that Bytes returns the file exactly as it will be saved.
type ConfigDoc interface {
	// Get returns the value at a key path such as "device.hostname".
	Get(key string) (string, bool)
	// Set sets the value at a key path, creating sections as needed.
	Set(key, value string) error
	// Bytes returns the YAML text as it would be saved.
	Bytes() ([]byte, error)
}

// ConfigStore reads, writes and validates configs.
type ConfigStore interface {
	// Load reads a config file.
	Load(path string) (ConfigDoc, error)
	// New returns a fresh config from the built-in template.
	New() (ConfigDoc, error)
	// Parse reads config text; name is its path (includes are resolved
	// next to it).
	Parse(name string, data []byte) (ConfigDoc, error)
	// Save writes config text (a ConfigDoc's Bytes, taken on the UI
	// goroutine) to path, atomically: the file holds the old text or the
	// new, never a mix. It runs off the UI goroutine and must not touch
	// the live ConfigDoc.
	Save(path string, data []byte) error
	// Catalog loads the layer catalog for a tool dir ("" when unknown).
	Catalog(toolDir string) (Catalog, error)
	// Validate checks a config against the catalog.
	Validate(doc ConfigDoc, cat Catalog) []Problem
}

// Check is one preflight result.
type Check struct {
	// Name says what was checked.
	Name string
	// OK is true when the check passed.
	OK bool
	// Detail explains a failure or gives the value found.
	Detail string
}

// Tool locates rpi-image-gen and checks the host.
type Tool interface {
	// Find returns the tool dir, preferring dir when it is set.
	Find(dir string) (string, error)
	// Version returns the tool's version.
	Version(dir string) (string, error)
	// Preflight checks the host, the tool in dir and the work dir.
	Preflight(ctx context.Context, dir, workDir string) []Check
}

// Mode is what a build does.
type Mode int

// Build modes.
const (
	// ModeFull runs every stage.
	ModeFull Mode = iota
	// ModeFilesystem builds the root filesystem only (-f).
	ModeFilesystem
	// ModeImage builds the image from an earlier filesystem (-i).
	ModeImage
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case ModeFilesystem:
		return "filesystem"
	case ModeImage:
		return "image"
	default:
		return "full"
	}
}

// Job is one build request.
type Job struct {
	// Config is the absolute config path.
	Config string
	// Mode is what to build.
	Mode Mode
	// ToolDir is the rpi-image-gen checkout.
	ToolDir string
	// WorkDir is the build (work) dir.
	WorkDir string
}

// EventKind says what an Event carries.
type EventKind int

// Event kinds.
const (
	// EventLog carries one log line.
	EventLog EventKind = iota
	// EventStageStarted names a stage that began.
	EventStageStarted
	// EventStageFinished names a stage that ended, with its duration.
	EventStageFinished
	// EventDropped reports lines left out of the event stream (they are in the log file).
	EventDropped
	// EventFinished ends the run.
	EventFinished
)

// Outcome is how a run ended.
type Outcome int

// Outcomes.
const (
	// Succeeded means every stage passed.
	Succeeded Outcome = iota
	// Failed means a stage failed.
	Failed
	// Cancelled means the user stopped the run.
	Cancelled
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	default:
		return "succeeded"
	}
}

// Artifact is one output file of a build.
type Artifact struct {
	// Path is the file's absolute path.
	Path string
	// Size is its size in bytes.
	Size int64
	// Role names a RAID member ("sd", "external1", ...) or is empty.
	Role string
	// Flashable is true for whole-disk images (raw or sparse).
	Flashable bool
}

// Event is one thing that happened in a run.
type Event struct {
	// Kind says which fields are set.
	Kind EventKind
	// Line is the log line (EventLog), without terminal escape codes.
	Line string
	// Explain, on a log line that is a known failure, says in plain words
	// what went wrong and how to fix it.
	Explain string
	// Stage is the stage name (stage events).
	Stage string
	// Duration is the stage's duration (EventStageFinished).
	Duration time.Duration
	// StageFailed marks a stage that ended with an error.
	StageFailed bool
	// StageCancelled marks a stage stopped by Cancel (not a failure).
	StageCancelled bool
	// Dropped is the number of lines left out (EventDropped).
	Dropped int
	// Outcome is how the run ended (EventFinished).
	Outcome Outcome
	// Err is the run's error (EventFinished), nil on success.
	Err error
	// Artifacts are the run's outputs (EventFinished).
	Artifacts []Artifact
	// RaidSet is the RAID set dir when the build made one (EventFinished).
	RaidSet string
}

// Run is a build in progress.
type Run interface {
	// Events delivers the run's events; it is closed after EventFinished.
	Events() <-chan Event
	// Cancel stops the run.
	Cancel()
	// LogPath is the full log file on disk.
	LogPath() string
}

// Runner starts builds.
type Runner interface {
	// Start begins a build.
	Start(ctx context.Context, job Job) (Run, error)
	// Stages lists the stages a mode runs, in order.
	Stages(mode Mode) []string
	// WorkDir returns the work dir a build of config uses when the
	// setting is workDir ("" = the default).
	WorkDir(config, workDir string) string
}

// Partition is one entry of a partition table.
type Partition struct {
	// Number is the 1-based partition number.
	Number int
	// Start is the offset in bytes.
	Start int64
	// Size is the length in bytes.
	Size int64
	// Type describes the partition type or filesystem.
	Type string
	// Label is the filesystem label, if known.
	Label string
}

// Disk is one disk as the app shows it. Eligibility is decided by the
// flash package's guard, never by the GUI.
type Disk struct {
	// Name is the kernel name, e.g. "sdb".
	Name string
	// Path is the device path, e.g. "/dev/sdb".
	Path string
	// Size is the capacity in bytes.
	Size int64
	// Model is the vendor and model text.
	Model string
	// Bus is usb, mmc, nvme, sata, virtio, loop or "".
	Bus string
	// Removable is true for removable media.
	Removable bool
	// Eligible is true when the disk may be written.
	Eligible bool
	// Reason explains why a disk is protected.
	Reason string
	// NeedsTypedConfirm asks the user to type the disk name before writing.
	NeedsTypedConfirm bool
	// Ref is the backend's own record of the disk (its identity for the
	// write-time guard); the GUI passes it back untouched.
	Ref any
}

// DiskSource lists disks and reports hotplug.
type DiskSource interface {
	// Scan lists every disk, eligible or not.
	Scan(ctx context.Context) ([]Disk, error)
	// Watch signals on the channel when disks may have changed; it is closed when ctx ends.
	Watch(ctx context.Context) (<-chan struct{}, error)
}

// ImageInfo describes an image file.
type ImageInfo struct {
	// Path is the file.
	Path string
	// Format is raw, xz, gz, zst, zip, sparse or bmap.
	Format string
	// FileSize is the file's size on disk.
	FileSize int64
	// Size is the size of the image once written.
	Size int64
	// DataSize is the number of bytes that carry data (mapped ranges), or Size.
	DataSize int64
	// Table is the partition table type (mbr, gpt, "").
	Table string
	// Partitions are the image's partitions.
	Partitions []Partition
}

// ImageInspector describes image files.
type ImageInspector interface {
	// Inspect reads an image's format, sizes and partitions.
	Inspect(ctx context.Context, path string) (ImageInfo, error)
	// Recent lists flashable artifacts of recent builds, newest first.
	Recent(workDir string) []string
}

// Progress reports a long write.
type Progress struct {
	// Phase is "write" or "verify".
	Phase string
	// Done and Total are bytes.
	Done, Total int64
	// Rate is bytes per second over a recent window.
	Rate float64
	// ETA is the estimated time left in this phase.
	ETA time.Duration
}

// FlashJob asks to write one image to one disk.
type FlashJob struct {
	// Image is the image file.
	Image string
	// Disk is the target.
	Disk Disk
	// Verify reads the disk back after writing.
	Verify bool
	// SHA256 also computes the SHA-256 of the expanded image (the
	// result's Hash is then "sha256:…"; otherwise "xxh3:…").
	SHA256 bool
	// Confirmed is the disk name the user typed, when asked for.
	Confirmed string
	// AllowUnmount lets the writer unmount the disk's mounted partitions.
	AllowUnmount bool
}

// ErrMounted is wrapped by Flash errors about a disk whose partitions are
// mounted; the app then offers to unmount them.
var ErrMounted = errors.New("the disk has mounted partitions")

// FlashResult is a finished write.
type FlashResult struct {
	// Bytes is the number of bytes written.
	Bytes int64
	// Hash is the image hash (verified when Verified).
	Hash string
	// Verified is true when the read-back matched.
	Verified bool
	// Duration is the total time.
	Duration time.Duration
}

// Flasher writes images to disks; the real one re-checks every guard.
type Flasher interface {
	// Flash writes job.Image to job.Disk, calling progress from any goroutine.
	Flash(ctx context.Context, job FlashJob, progress func(Progress)) (FlashResult, error)
}

// RaidRole is one member image of a RAID set.
type RaidRole struct {
	// Role names the member: "sdcard", "disk1", ...
	Role string
	// Image is the image file for the role.
	Image string
	// Size is the image size in bytes.
	Size int64
}

// RaidSet is a built RAID image set (its image.json).
type RaidSet struct {
	// Dir is the set's directory.
	Dir string
	// Name is the image name.
	Name string
	// Level is RAID0 or RAID1.
	Level string
	// ArrayUUID identifies the md array.
	ArrayUUID string
	// Roles are the members, SD card first.
	Roles []RaidRole
}

// Assignment maps one role to one disk.
type Assignment struct {
	// Role is the member.
	Role RaidRole
	// Disk is the target path ("" when none fits).
	Disk string
	// Why explains the choice.
	Why string
}

// Plan is a full role → disk assignment.
type Plan struct {
	// Set is the RAID set.
	Set RaidSet
	// Assignments has one entry per role.
	Assignments []Assignment
	// Ref is the backend's own plan; the GUI passes it back untouched.
	Ref any
}

// TargetProgress is a Progress for one role.
type TargetProgress struct {
	// Role is the member being written.
	Role string
	// Progress is the write progress.
	Progress Progress
}

// TargetResult is how one role ended.
type TargetResult struct {
	// Role is the member.
	Role string
	// Disk is the target path.
	Disk string
	// Result is the write result.
	Result FlashResult
	// Err is nil on success.
	Err error
}

// Provisioner plans and writes RAID sets; plan rules and guards live in
// package flash.
type Provisioner interface {
	// Sets lists RAID sets found in the work dir, newest first.
	Sets(workDir string) []string
	// Load reads a set's manifest.
	Load(dir string) (RaidSet, error)
	// Plan proposes a disk per role among disks.
	Plan(set RaidSet, disks []Disk) (Plan, error)
	// Assign makes disk (a path; "" to drop the choice) the user's choice
	// for role and returns the updated plan: other roles may get new
	// proposals. An unacceptable choice is an error and changes nothing.
	Assign(plan Plan, role, disk string) (Plan, error)
	// Ready returns nil when every role has a disk, else why not.
	Ready(plan Plan) error
	// Provision writes every role, calling progress from any goroutine.
	// confirmed holds the names the user typed for the disks that need
	// it (NeedsTypedConfirm), by disk path; the writer refuses the set,
	// writing nothing, when one of them is missing or does not name its
	// disk.
	Provision(ctx context.Context, plan Plan, verify bool, confirmed map[string]string, progress func(TargetProgress)) ([]TargetResult, error)
}
