package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/builder/runner/cause"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
)

// GB is a decimal gigabyte.
const GB = 1000 * 1000 * 1000

// New returns a full set of demo services. workDir is where the sample
// artifacts live: New writes the sample RAID set there (sparse files and
// an image.json, see WriteSampleSet); an error doing so is returned with
// the set, whose RAID section then shows it.
func New(workDir string) (*Set, error) {
	s := &Set{
		Configs:   &Configs{},
		Tool:      &Tool{Dir: "/opt/rpi-image-gen", Ver: "v2.8.0"},
		Runner:    &Runner{Step: 40 * time.Millisecond, Work: workDir},
		Disks:     &Disks{List: SampleDisks()},
		Images:    &Images{WorkDir: workDir},
		Flasher:   &Flasher{Step: 50 * time.Millisecond},
		Raid:      &Raid{WorkDir: workDir},
		Doctor:    &Doctor{},
		Flashtime: &Flashtime{},
	}
	s.Raid.Disks = s.Disks
	_, err := WriteSampleSet(workDir)
	return s, err
}

// Set holds the concrete demo services so tests can steer them.
type Set struct {
	// Configs edits configs with builder/config over the sample catalog.
	Configs *Configs
	// Tool pretends rpi-image-gen is installed.
	Tool *Tool
	// Runner plays a scripted build.
	Runner *Runner
	// Disks is the sample disk list.
	Disks *Disks
	// Images describes sample images.
	Images *Images
	// Flasher simulates writes.
	Flasher *Flasher
	// Raid plans the sample set with the real planner and simulates writes.
	Raid *Raid
	// Doctor fakes the host checks.
	Doctor *Doctor
	// Flashtime fakes first-boot readers and settings writes.
	Flashtime *Flashtime
}

// Tool pretends rpi-image-gen is installed.
type Tool struct {
	// Dir is the tool dir Find returns.
	Dir string
	// Ver is the version.
	Ver string
	// Missing makes Find fail as when rpi-image-gen is not installed.
	Missing bool
	// Delay, when set, slows Find down for the dirs it names.
	Delay map[string]time.Duration
}

// Find returns dir or the demo dir.
func (t *Tool) Find(dir string) (string, error) {
	time.Sleep(t.Delay[dir])
	if t.Missing {
		return "", fmt.Errorf("%w (looked in PATH and ~/rpi-image-gen)", runner.ErrToolNotFound)
	}
	if dir != "" {
		return dir, nil
	}
	return t.Dir, nil
}

// Version returns the demo version.
func (t *Tool) Version(string) (string, error) { return t.Ver, nil }

// Preflight returns sample checks.
func (t *Tool) Preflight(context.Context, string, string) []runner.Check {
	return []runner.Check{
		{Name: "rpi-image-gen", OK: true, Msg: t.Ver},
		{Name: "python3 with debian and yaml modules", OK: true, Msg: "/usr/bin/python3"},
		{Name: "mmdebstrap", OK: true, Msg: "1.3.5"},
		{Name: "arm64 binfmt (qemu-user-static)", OK: true, Msg: "enabled"},
		{Name: "disk space in work dir", OK: true, Msg: "41.2 GB free"},
	}
}

// Job is one build the demo runner was asked for.
type Job struct {
	// Config is the config file.
	Config string
	// Stage is what to build.
	Stage runner.Stage
	// Options are the tool and work dirs.
	Options buildjob.Options
}

// Runner is a scripted build. With Manual set, runs only emit what the
// test sends.
type Runner struct {
	// Step is the pause between scripted events.
	Step time.Duration
	// Manual makes runs wait for Send/Finish.
	Manual bool
	// Work is where artifacts pretend to be.
	Work string
	// Fail makes the scripted run fail in generate_filesystem.
	Fail bool
	// Hold, when set, makes Start wait until it is closed (or the context
	// is done, which Start then returns), as a slow start would.
	Hold chan struct{}
	// Missing makes Start fail as when rpi-image-gen is not installed.
	Missing bool

	mu   sync.Mutex
	jobs []Job
	runs []*Run
}

// Jobs returns every job started.
func (r *Runner) Jobs() []Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Job(nil), r.jobs...)
}

// Last returns the last run started.
func (r *Runner) Last() *Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.runs) == 0 {
		return nil
	}
	return r.runs[len(r.runs)-1]
}

// WorkDir returns workDir, or the demo's work dir.
func (r *Runner) WorkDir(_, workDir string) string {
	if workDir != "" {
		return workDir
	}
	return r.Work
}

// History returns two sample past builds of the sample config, oldest
// first: a failed one and the successful one that made the sample set.
func (r *Runner) History(string) ([]runner.Record, error) {
	day := time.Date(2026, 11, 27, 9, 12, 0, 0, time.Local)
	return []runner.Record{
		{Config: "raid-config.yaml", Stage: "full", State: runner.Failed, Start: day, End: day.Add(49 * time.Second)},
		{Config: "raid-config.yaml", Stage: "full", State: runner.Succeeded, Start: day.Add(20 * time.Minute), End: day.Add(33*time.Minute + 41*time.Second)},
	}, nil
}

// stages lists the stages rpi-image-gen prints for a build stage.
func stages(s runner.Stage) []string {
	all := []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "generate_images", "deploy"}
	switch s {
	case runner.StageFilesystem:
		return append(append([]string(nil), all[:4]...), all[5])
	case runner.StageImage:
		return append(append([]string(nil), all[:3]...), all[4:]...)
	}
	return all
}

// explain recognises the demo's known failures.
func explain(line string) string {
	if strings.Contains(line, "Could not resolve") {
		return "The build machine could not reach the package archive (archive.raspberrypi.com). Check the network connection or the apt proxy setting (sys.apt_proxy), then build again."
	}
	return ""
}

// Start begins a run. The returned *Run satisfies the app's BuildRun.
func (r *Runner) Start(ctx context.Context, config string, stage runner.Stage, opts buildjob.Options) (*Run, error) {
	if r.Missing {
		return nil, fmt.Errorf("%w: pass --rpi-image-gen DIR or set PISTUDIO_RPI_IMAGE_GEN", runner.ErrToolNotFound)
	}
	if r.Hold != nil {
		select {
		case <-r.Hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	run := &Run{events: make(chan runner.Event, 1024), cancelled: make(chan struct{}), log: filepath.Join(r.Work, "build.log")}
	r.mu.Lock()
	r.jobs = append(r.jobs, Job{Config: config, Stage: stage, Options: opts})
	r.runs = append(r.runs, run)
	r.mu.Unlock()
	if !r.Manual {
		go r.script(ctx, stage, run)
	}
	return run, nil
}

func (r *Runner) script(ctx context.Context, stage runner.Stage, run *Run) {
	for _, st := range stages(stage) {
		run.Send(runner.Event{Kind: runner.EventStageStarted, Stage: st})
		for i := 0; i < 6; i++ {
			select {
			case <-run.cancelled:
				run.Finish(runner.Result{State: runner.Cancelled, Err: context.Canceled})
				return
			case <-ctx.Done():
				run.Finish(runner.Result{State: runner.Cancelled, Err: ctx.Err()})
				return
			case <-time.After(r.Step):
			}
			run.Send(runner.Event{Kind: runner.EventLog, Text: sampleLine(st, i)})
		}
		if r.Fail && st == "generate_filesystem" {
			line := "E: Could not resolve 'archive.raspberrypi.com'"
			run.Send(runner.Event{Kind: runner.EventLog, Text: line, Explain: explain(line)})
			run.Send(runner.Event{Kind: runner.EventStageFinished, Stage: st, Duration: failedAfter})
			res := runner.Result{State: runner.Failed, ExitStatus: 1, Err: errors.New("generate_filesystem failed (exit status 1)")}
			var f cause.Finder
			f.Line(line)
			if c, ok := f.Cause(); ok {
				res.Cause = &c
			}
			run.Finish(res)
			return
		}
		run.Send(runner.Event{Kind: runner.EventStageFinished, Stage: st, Duration: stageTimes[st], OK: true})
	}
	run.Finish(runner.Result{State: runner.Succeeded, Artifacts: SampleArtifacts(r.Work)})
}

// SampleArtifacts are the outputs of the sample RAID build (the files of
// WriteSampleSet).
func SampleArtifacts(work string) []runner.Artifact {
	dir := filepath.Join(work, SampleSet)
	var out []runner.Artifact
	for _, a := range sampleRoles {
		out = append(out, runner.Artifact{Path: filepath.Join(dir, a.file), Name: a.file, Kind: runner.KindDiskImage, Size: a.size})
	}
	return out
}

// stageTimes are the durations the demo reports: those of a real build of
// the sample RAID config on a fast machine with a warm package cache (the
// scripted run itself takes a fraction of a second per stage).
var stageTimes = map[string]time.Duration{
	"parameter_assembly":   2 * time.Second,
	"collect_layers":       1400 * time.Millisecond,
	"prepare_build_config": 3 * time.Second,
	"generate_filesystem":  9*time.Minute + 41*time.Second,
	"generate_images":      1*time.Minute + 52*time.Second,
	"deploy":               7 * time.Second,
}

// failedAfter is how long generate_filesystem ran before the demo's
// failure (apt gave up on the unreachable archive).
const failedAfter = 47 * time.Second

func sampleLine(stage string, i int) string {
	switch stage {
	case "parameter_assembly":
		return fmt.Sprintf("[SET] IGconf_%s=%s", []string{"device_class", "device_hostname", "image_name", "image_rootfs_type", "raid_level", "raid_devices"}[i], []string{"pi5", "raid-device", "raid-test", "ext4", "RAID1", "2"}[i])
	case "generate_filesystem":
		return []string{"I: running --setup-hook", "I: downloading packages with apt...", "Get:1 http://deb.debian.org/debian bookworm/main arm64 libc6 arm64 2.36-9+deb12u10 [2,322 kB]", "Get:2 http://archive.raspberrypi.com/debian bookworm/main arm64 raspi-firmware 1:1.20250430-4 [12.9 MB]", "I: installing remaining packages inside the chroot...", "Setting up mdadm (4.2-5) ..."}[i]
	case "generate_images":
		return []string{"INFO: hdimage(sdcard.img): adding partition 'boot' (in MBR) ...", "INFO: vfat(boot.vfat): cmd: \"mkdosfs -n BOOT -F 32 boot.vfat\"", "md: writing v1.2 superblock, array uuid 6f0c3c2a:41b2e7d0:9a3e55b1:c0ffee42", "INFO: ext4(root.ext4): cmd: \"mke2fs -t ext4 -d filesystem root.ext4\"", "wrote external1.img (1.0 GB)", "wrote external2.img (1.0 GB)"}[i]
	default:
		return fmt.Sprintf("==> %s: step %d of 6", stage, i+1)
	}
}

// Run is one demo build.
type Run struct {
	events    chan runner.Event
	once      sync.Once
	cancelled chan struct{}
	finished  sync.Once
	mu        sync.Mutex
	cancels   int
	log       string
}

// Events delivers the run's events.
func (r *Run) Events() <-chan runner.Event { return r.events }

// Cancel stops the run.
func (r *Run) Cancel() {
	r.mu.Lock()
	r.cancels++
	r.mu.Unlock()
	r.once.Do(func() { close(r.cancelled) })
}

// Cancelled reports whether Cancel was called.
func (r *Run) Cancelled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancels > 0
}

// Done is closed when Cancel is called.
func (r *Run) Done() <-chan struct{} { return r.cancelled }

// LogPath is the pretend log file.
func (r *Run) LogPath() string { return r.log }

// Send emits one event (blocks when the buffer is full, as a real run's
// bounded channel would).
func (r *Run) Send(ev runner.Event) { r.events <- ev }

// Finish emits the final event with res and closes the stream.
func (r *Run) Finish(res runner.Result) {
	r.finished.Do(func() {
		r.events <- runner.Event{Kind: runner.EventFinished, Result: &res}
		close(r.events)
	})
}

// SampleDisks returns an SD card reader, a USB stick, two large USB disks
// and the protected system disk, classified as flash/disk would.
func SampleDisks() []disk.Disk {
	return []disk.Disk{
		{Name: "mmcblk0", Path: "/dev/mmcblk0", Major: 179, SizeBytes: 31914983424, Model: "SanDisk SC32G", Serial: "0x8a3c51f2", Bus: "mmc", Removable: true, Eligible: true},
		{Name: "sdb", Path: "/dev/sdb", Major: 8, Minor: 16, SizeBytes: 64023257088, Vendor: "Samsung", Model: "BAR Plus", Serial: "0374620110004512", Bus: "usb", Removable: true, Eligible: true},
		{Name: "sdc", Path: "/dev/sdc", Major: 8, Minor: 32, SizeBytes: 500107862016, Vendor: "WD", Model: "Elements 25A2", Serial: "WX52A71K4F9D", Bus: "usb", Eligible: true, NeedsTypedConfirm: true},
		{Name: "sdd", Path: "/dev/sdd", Major: 8, Minor: 48, SizeBytes: 500107862016, Vendor: "Seagate", Model: "Expansion", Serial: "NAAB1C2D", Bus: "usb", Eligible: true, NeedsTypedConfirm: true},
		{Name: "nvme0n1", Path: "/dev/nvme0n1", Major: 259, SizeBytes: 1024209543168, Model: "Samsung SSD 980 PRO 1TB", Serial: "S5GXNF0R123456", Bus: "nvme", Reason: "holds the running system (/ is mounted from nvme0n1p2)"},
	}
}

// Disks is a disk list that tests can change; changes are signalled to
// watchers like a hotplug.
type Disks struct {
	mu      sync.Mutex
	List    []disk.Disk
	Err     error
	watches []chan struct{}
	// Delays, when set, are taken one per Scan: that scan returns the
	// list as it was when it began, after the delay (a slow scan).
	Delays []time.Duration
}

// Scan returns the current list.
func (d *Disks) Scan(context.Context) ([]disk.Disk, error) {
	d.mu.Lock()
	list, err := append([]disk.Disk(nil), d.List...), d.Err
	var delay time.Duration
	if len(d.Delays) > 0 {
		delay, d.Delays = d.Delays[0], d.Delays[1:]
	}
	d.mu.Unlock()
	time.Sleep(delay)
	return list, err
}

// Watch signals changes made with Replace.
func (d *Disks) Watch(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{}, 1)
	d.mu.Lock()
	d.watches = append(d.watches, ch)
	d.mu.Unlock()
	go func() {
		<-ctx.Done()
		d.mu.Lock()
		defer d.mu.Unlock()
		for i, w := range d.watches {
			if w == ch {
				d.watches = append(d.watches[:i], d.watches[i+1:]...)
				close(ch)
				break
			}
		}
	}()
	return ch, nil
}

// Replace swaps the disk list and signals watchers (a hotplug).
func (d *Disks) Replace(list []disk.Disk) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.List = list
	for _, w := range d.watches {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// find returns the listed disk with that path.
func (d *Disks) find(path string) (disk.Disk, bool) {
	list, _ := d.Scan(context.Background())
	for _, x := range list {
		if x.Path == path {
			return x, true
		}
	}
	return disk.Disk{}, false
}

// Images describes sample images without reading them.
type Images struct {
	// WorkDir is where Recent pretends artifacts are.
	WorkDir string
	// Err, when set, is returned by Inspect.
	Err error
}

// Inspect returns sample information derived from the name.
func (i *Images) Inspect(_ context.Context, path string) (*source.Info, error) {
	if i.Err != nil {
		return nil, i.Err
	}
	info := &source.Info{Path: path, Format: source.Raw, Size: 2 * GB, DataSize: 1200 * 1000 * 1000, Table: "mbr",
		Partitions: []source.PartitionInfo{
			{Index: 1, Start: 8 << 20, Size: 512 << 20, Type: "0x0c", TypeName: "FAT32", Label: "BOOT"},
			{Index: 2, Start: 520 << 20, Size: 1480 << 20, Type: "0x83", TypeName: "Linux", Filesystem: "ext4", Label: "ROOT"},
		}}
	switch {
	case strings.HasSuffix(path, ".xz"):
		info.Format = source.XZ
	case strings.HasSuffix(path, ".sparse"):
		info.Format = source.Sparse
	case strings.Contains(path, "external"):
		info.Size, info.DataSize = GB, 380*1000*1000
		info.Partitions = []source.PartitionInfo{{Index: 1, Start: 1 << 20, Size: GB - 2<<20, Type: "0xfd", TypeName: "Linux RAID", Label: "raid-test:0"}}
	case strings.Contains(path, "sdcard"):
		info.Size, info.DataSize = 200*1000*1000, 48*1000*1000
		info.Partitions = []source.PartitionInfo{{Index: 1, Start: 8 << 20, Size: 180 << 20, Type: "0x0c", TypeName: "FAT32", Filesystem: "vfat", Label: "BOOT"}}
	}
	return info, nil
}

// Recent lists sample artifacts, newest first.
func (i *Images) Recent(string) []string {
	return []string{
		filepath.Join(i.WorkDir, SampleSet, "sdcard.img"),
		filepath.Join(i.WorkDir, "deploy-2026-11-27", "deb12-arm64-min.img.xz"),
		filepath.Join(i.WorkDir, "image-deb12-arm64-min", "deb12-arm64-min.img.sparse"),
	}
}

// FlashJob is one write the demo flasher was asked for.
type FlashJob struct {
	// Image is the image file and Disk the target.
	Image string
	Disk  disk.Disk
	// Confirmed is the name the user typed.
	Confirmed string
	// Options are the write options (Progress left out).
	Options flash.Options
}

// Flasher simulates writes.
type Flasher struct {
	// Step is the pause between progress reports.
	Step time.Duration
	// Err, when set, fails every write.
	Err error
	// Mounted makes writes fail with flash.ErrMounted unless AllowUnmount is set.
	Mounted bool

	mu      sync.Mutex
	jobs    []FlashJob
	ejected []string
}

// Eject records that the disk was powered off.
func (f *Flasher) Eject(_ context.Context, d disk.Disk) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ejected = append(f.ejected, d.Path)
	return nil
}

// Ejected returns the paths of the disks powered off.
func (f *Flasher) Ejected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ejected...)
}

// Jobs returns every job started.
func (f *Flasher) Jobs() []FlashJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FlashJob(nil), f.jobs...)
}

// Flash simulates a write and a verify of 1 GB in 10 steps each. Like the
// real flasher it refuses a disk whose typed name is missing.
func (f *Flasher) Flash(ctx context.Context, image string, d disk.Disk, confirmed string, opts flash.Options) (*flash.Result, error) {
	progress := opts.Progress
	opts.Progress = nil
	f.mu.Lock()
	f.jobs = append(f.jobs, FlashJob{Image: image, Disk: d, Confirmed: confirmed, Options: opts})
	f.mu.Unlock()
	if d.NeedsTypedConfirm && !d.ConfirmedBy(confirmed) {
		return nil, fmt.Errorf("%s: the disk name was not confirmed", d.Path)
	}
	if f.Mounted && !opts.AllowUnmount {
		return nil, fmt.Errorf("%w: %s1 is mounted at /media/pi/BOOT", flash.ErrMounted, d.Path)
	}
	if f.Err != nil {
		return nil, f.Err
	}
	t0 := time.Now()
	total := int64(GB)
	if strings.Contains(image, "sdcard") {
		total = 48 * 1000 * 1000
	}
	phases := []flash.Phase{flash.Writing}
	if !opts.NoVerify {
		phases = append(phases, flash.Verifying)
	}
	for _, ph := range phases {
		for i := 1; i <= 10; i++ {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(f.Step):
			}
			if progress != nil {
				progress(flash.Progress{Phase: ph, Done: total * int64(i) / 10, Total: total, BytesPerSec: 21.7e6, ETA: time.Duration(float64(total) * float64(10-i) / 10 / 21.7e6 * float64(time.Second))})
			}
		}
	}
	res := &flash.Result{Target: d.Path, Written: total, XXH3: "9f2c1b0e6a5d4c3b2a19f8e7d6c5b4a3", Verified: !opts.NoVerify, WriteTime: time.Since(t0)}
	if opts.SHA256 {
		res.SHA256 = "9f2c1b0e6a5d4c3b2a19f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a"
	}
	return res, nil
}
