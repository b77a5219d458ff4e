package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/gui/backend"
)

// GB is a decimal gigabyte.
const GB = 1000 * 1000 * 1000

// New returns a full set of demo backends. workDir is where the sample
// artifacts pretend to live.
func New(workDir string) (backend.Backends, *Set) {
	s := &Set{
		Configs: &Configs{},
		Tool:    &Tool{Dir: "/opt/rpi-image-gen", Ver: "v2.8.0"},
		Runner:  &Runner{Step: 40 * time.Millisecond, Work: workDir},
		Disks:   &Disks{List: SampleDisks()},
		Images:  &Images{WorkDir: workDir},
		Flasher: &Flasher{Step: 50 * time.Millisecond},
		Raid:    &Raid{WorkDir: workDir},
	}
	s.Raid.Disks = s.Disks
	return s.Backends(), s
}

// Set holds the concrete demo backends so tests can steer them.
type Set struct {
	Configs *Configs
	Tool    *Tool
	Runner  *Runner
	Disks   *Disks
	Images  *Images
	Flasher *Flasher
	Raid    *Raid
}

// Backends returns the set as interfaces.
func (s *Set) Backends() backend.Backends {
	return backend.Backends{Configs: s.Configs, Tool: s.Tool, Runner: s.Runner, Disks: s.Disks, Images: s.Images, Flasher: s.Flasher, Raid: s.Raid}
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
func (t *Tool) Preflight(context.Context, string, string) []backend.Check {
	return []backend.Check{
		{Name: "rpi-image-gen", OK: true, Detail: t.Ver},
		{Name: "python3 with debian and yaml modules", OK: true, Detail: "/usr/bin/python3"},
		{Name: "mmdebstrap", OK: true, Detail: "1.3.5"},
		{Name: "arm64 binfmt (qemu-user-static)", OK: true, Detail: "enabled"},
		{Name: "disk space in work dir", OK: true, Detail: "41.2 GB free"},
	}
}

// Stages of a full rpi-image-gen build.
var Stages = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "generate_images", "deploy"}

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
	jobs []backend.Job
	runs []*Run
}

// Jobs returns every job started.
func (r *Runner) Jobs() []backend.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]backend.Job(nil), r.jobs...)
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

// Stages lists the stages of a mode.
func (r *Runner) Stages(m backend.Mode) []string {
	switch m {
	case backend.ModeFilesystem:
		return append(append([]string(nil), Stages[:4]...), Stages[5])
	case backend.ModeImage:
		return append(append([]string(nil), Stages[:3]...), Stages[4:]...)
	}
	return append([]string(nil), Stages...)
}

// explain recognises the demo's known failures.
func explain(line string) string {
	if strings.Contains(line, "Could not resolve") {
		return "The build machine could not reach the package archive (archive.raspberrypi.com). Check the network connection or the apt proxy setting (sys.apt_proxy), then build again."
	}
	return ""
}

// Start begins a run.
func (r *Runner) Start(ctx context.Context, job backend.Job) (backend.Run, error) {
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
	run := &Run{events: make(chan backend.Event, 1024), cancelled: make(chan struct{}), log: filepath.Join(r.Work, "build.log")}
	r.mu.Lock()
	r.jobs = append(r.jobs, job)
	r.runs = append(r.runs, run)
	r.mu.Unlock()
	if !r.Manual {
		go r.script(ctx, job, run)
	}
	return run, nil
}

func (r *Runner) script(ctx context.Context, job backend.Job, run *Run) {
	name := "raid-test"
	for _, st := range r.Stages(job.Mode) {
		run.Send(backend.Event{Kind: backend.EventStageStarted, Stage: st})
		for i := 0; i < 6; i++ {
			select {
			case <-run.cancelled:
				run.Finish(backend.Event{Outcome: backend.Cancelled, Err: context.Canceled})
				return
			case <-ctx.Done():
				run.Finish(backend.Event{Outcome: backend.Cancelled, Err: ctx.Err()})
				return
			case <-time.After(r.Step):
			}
			run.Send(backend.Event{Kind: backend.EventLog, Line: sampleLine(st, i)})
		}
		if r.Fail && st == "generate_filesystem" {
			line := "E: Could not resolve 'archive.raspberrypi.com'"
			run.Send(backend.Event{Kind: backend.EventLog, Line: line, Explain: explain(line)})
			run.Send(backend.Event{Kind: backend.EventStageFinished, Stage: st, Duration: failedAfter, StageFailed: true})
			run.Finish(backend.Event{Outcome: backend.Failed, Err: errors.New("generate_filesystem failed (exit status 1)")})
			return
		}
		run.Send(backend.Event{Kind: backend.EventStageFinished, Stage: st, Duration: stageTimes[st]})
	}
	dir := filepath.Join(r.Work, "image-"+name)
	run.Finish(backend.Event{Outcome: backend.Succeeded, RaidSet: dir, Artifacts: []backend.Artifact{
		{Path: filepath.Join(dir, "sdcard.img"), Size: 200 * 1000 * 1000, Role: "sd", Flashable: true},
		{Path: filepath.Join(dir, "external1.img"), Size: GB, Role: "external1", Flashable: true},
		{Path: filepath.Join(dir, "external2.img"), Size: GB, Role: "external2", Flashable: true},
	}})
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
	events    chan backend.Event
	once      sync.Once
	cancelled chan struct{}
	finished  sync.Once
	mu        sync.Mutex
	cancels   int
	log       string
}

// Events delivers the run's events.
func (r *Run) Events() <-chan backend.Event { return r.events }

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
func (r *Run) Send(ev backend.Event) { r.events <- ev }

// Finish emits the final event and closes the stream.
func (r *Run) Finish(ev backend.Event) {
	r.finished.Do(func() {
		ev.Kind = backend.EventFinished
		r.events <- ev
		close(r.events)
	})
}

// SampleDisks returns an SD card reader, a USB stick, a large USB disk
// and the protected system disk.
func SampleDisks() []backend.Disk {
	return []backend.Disk{
		{Name: "mmcblk0", Path: "/dev/mmcblk0", Size: 31914983424, Model: "SanDisk SC32G", Bus: "mmc", Removable: true, Eligible: true},
		{Name: "sdb", Path: "/dev/sdb", Size: 64023257088, Model: "Samsung BAR Plus", Bus: "usb", Removable: true, Eligible: true},
		{Name: "sdc", Path: "/dev/sdc", Size: 500107862016, Model: "WD Elements 25A2", Bus: "usb", Eligible: true, NeedsTypedConfirm: true},
		{Name: "sdd", Path: "/dev/sdd", Size: 500107862016, Model: "Seagate Expansion", Bus: "usb", Eligible: true, NeedsTypedConfirm: true},
		{Name: "nvme0n1", Path: "/dev/nvme0n1", Size: 1024209543168, Model: "Samsung SSD 980 PRO 1TB", Bus: "nvme", Reason: "holds the running system (/ is mounted from nvme0n1p2)"},
	}
}

// Disks is a disk list that tests can change; changes are signalled to
// watchers like a hotplug.
type Disks struct {
	mu      sync.Mutex
	List    []backend.Disk
	Err     error
	watches []chan struct{}
	// Delays, when set, are taken one per Scan: that scan returns the
	// list as it was when it began, after the delay (a slow scan).
	Delays []time.Duration
}

// Scan returns the current list.
func (d *Disks) Scan(context.Context) ([]backend.Disk, error) {
	d.mu.Lock()
	list, err := append([]backend.Disk(nil), d.List...), d.Err
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
func (d *Disks) Replace(list []backend.Disk) {
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

// Images describes sample images without reading them.
type Images struct {
	// WorkDir is where Recent pretends artifacts are.
	WorkDir string
	// Err, when set, is returned by Inspect.
	Err error
}

// Inspect returns sample information derived from the name.
func (i *Images) Inspect(_ context.Context, path string) (backend.ImageInfo, error) {
	if i.Err != nil {
		return backend.ImageInfo{}, i.Err
	}
	info := backend.ImageInfo{Path: path, Format: "raw", FileSize: 2 * GB, Size: 2 * GB, DataSize: 1200 * 1000 * 1000, Table: "mbr",
		Partitions: []backend.Partition{
			{Number: 1, Start: 8 << 20, Size: 512 << 20, Type: "FAT32 (0x0c)", Label: "BOOT"},
			{Number: 2, Start: 520 << 20, Size: 1480 << 20, Type: "Linux (0x83) ext4", Label: "ROOT"},
		}}
	switch {
	case strings.HasSuffix(path, ".xz"):
		info.Format, info.FileSize = "xz", 412*1000*1000
	case strings.HasSuffix(path, ".sparse"):
		info.Format, info.FileSize = "android sparse", 1210*1000*1000
	case strings.Contains(path, "external"):
		info.Size, info.FileSize, info.DataSize = GB, GB, 380*1000*1000
		info.Partitions = []backend.Partition{{Number: 1, Start: 1 << 20, Size: GB - 2<<20, Type: "Linux RAID (0xfd)", Label: "raid-test:0"}}
	case strings.Contains(path, "sdcard"):
		info.Size, info.FileSize, info.DataSize = 200*1000*1000, 200*1000*1000, 48*1000*1000
		info.Partitions = []backend.Partition{{Number: 1, Start: 8 << 20, Size: 180 << 20, Type: "FAT32 (0x0c) vfat", Label: "BOOT"}}
	}
	return info, nil
}

// Recent lists sample artifacts, newest first.
func (i *Images) Recent(string) []string {
	return []string{
		filepath.Join(i.WorkDir, "image-raid-test", "sdcard.img"),
		filepath.Join(i.WorkDir, "deploy-2026-11-27", "deb12-arm64-min.img.xz"),
		filepath.Join(i.WorkDir, "image-deb12-arm64-min", "deb12-arm64-min.img.sparse"),
	}
}

// Flasher simulates writes.
type Flasher struct {
	// Step is the pause between progress reports.
	Step time.Duration
	// Err, when set, fails every write.
	Err error
	// Mounted makes writes fail with ErrMounted unless AllowUnmount is set.
	Mounted bool

	mu   sync.Mutex
	jobs []backend.FlashJob
}

// Jobs returns every job started.
func (f *Flasher) Jobs() []backend.FlashJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]backend.FlashJob(nil), f.jobs...)
}

// Flash simulates a write and a verify of 1 GB in 10 steps each. Like the
// real flasher it refuses a disk whose typed name is missing.
func (f *Flasher) Flash(ctx context.Context, job backend.FlashJob, progress func(backend.Progress)) (backend.FlashResult, error) {
	f.mu.Lock()
	f.jobs = append(f.jobs, job)
	f.mu.Unlock()
	if job.Disk.NeedsTypedConfirm && !(disk.Disk{Name: job.Disk.Name, Path: job.Disk.Path}).ConfirmedBy(job.Confirmed) {
		return backend.FlashResult{}, fmt.Errorf("%s: the disk name was not confirmed", job.Disk.Path)
	}
	if f.Mounted && !job.AllowUnmount {
		return backend.FlashResult{}, fmt.Errorf("%w: %s1 is mounted at /media/pi/BOOT", backend.ErrMounted, job.Disk.Path)
	}
	if f.Err != nil {
		return backend.FlashResult{}, f.Err
	}
	t0 := time.Now()
	total := int64(GB)
	if strings.Contains(job.Image, "sdcard") {
		total = 48 * 1000 * 1000
	}
	phases := []string{"write"}
	if job.Verify {
		phases = append(phases, "verify")
	}
	for _, ph := range phases {
		for i := 1; i <= 10; i++ {
			select {
			case <-ctx.Done():
				return backend.FlashResult{}, ctx.Err()
			case <-time.After(f.Step):
			}
			progress(backend.Progress{Phase: ph, Done: total * int64(i) / 10, Total: total, Rate: 21.7e6, ETA: time.Duration(float64(total) * float64(10-i) / 10 / 21.7e6 * float64(time.Second))})
		}
	}
	hash := "xxh3:9f2c1b0e6a5d4c3b2a19f8e7d6c5b4a3"
	if job.SHA256 {
		hash = "sha256:9f2c1b0e6a5d4c3b2a19f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a"
	}
	return backend.FlashResult{Bytes: total, Hash: hash, Verified: job.Verify, Duration: time.Since(t0)}, nil
}

// Raid is a RAID provisioner over the sample set.
type Raid struct {
	// WorkDir is where the sample set pretends to live.
	WorkDir string
	// Step is the pause between progress reports.
	Step time.Duration

	// Disks, when set, is the disk list Provision looks up the disks of a
	// plan in (to insist on typed names as the real writer does).
	Disks *Disks

	mu        sync.Mutex
	plans     []backend.Plan
	confirmed []map[string]string
}

func (r *Raid) disk(path string) (backend.Disk, bool) {
	if r.Disks == nil {
		return backend.Disk{}, false
	}
	list, _ := r.Disks.Scan(context.Background())
	for _, d := range list {
		if d.Path == path {
			return d, true
		}
	}
	return backend.Disk{}, false
}

// Confirmed returns the typed names passed with every provisioned plan.
func (r *Raid) Confirmed() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]string(nil), r.confirmed...)
}

// Provisioned returns every plan provisioned.
func (r *Raid) Provisioned() []backend.Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]backend.Plan(nil), r.plans...)
}

// Sets lists the sample set.
func (r *Raid) Sets(string) []string {
	return []string{filepath.Join(r.WorkDir, "image-raid-test")}
}

// Load returns a RAID1 set of an SD card and two disks.
func (r *Raid) Load(dir string) (backend.RaidSet, error) {
	n := "raid-test"
	return backend.RaidSet{Dir: dir, Name: n, Level: "RAID1", ArrayUUID: "6f0c3c2a:41b2e7d0:9a3e55b1:c0ffee42", Roles: []backend.RaidRole{
		{Role: "sd", Image: filepath.Join(dir, "sdcard.img"), Size: 200 * 1000 * 1000},
		{Role: "external1", Image: filepath.Join(dir, "external1.img"), Size: GB},
		{Role: "external2", Image: filepath.Join(dir, "external2.img"), Size: GB},
	}}, nil
}

// Plan gives the SD card role an mmc disk and the others the remaining
// eligible disks, largest first.
func (r *Raid) Plan(set backend.RaidSet, disks []backend.Disk) (backend.Plan, error) {
	var el []backend.Disk
	for _, d := range disks {
		if d.Eligible {
			el = append(el, d)
		}
	}
	sort.SliceStable(el, func(i, j int) bool { return el[i].Size > el[j].Size })
	used := map[string]bool{}
	p := backend.Plan{Set: set}
	for _, role := range set.Roles {
		a := backend.Assignment{Role: role, Why: "no free disk is large enough"}
		for _, d := range el {
			if used[d.Path] || d.Size < role.Size {
				continue
			}
			if (role.Role == "sd") != (d.Bus == "mmc") {
				continue
			}
			a.Disk = d.Path
			if role.Role == "sd" {
				a.Why = "SD card reader"
			} else {
				a.Why = fmt.Sprintf("largest free external disk (%s)", d.Model)
			}
			used[d.Path] = true
			break
		}
		p.Assignments = append(p.Assignments, a)
	}
	return p, nil
}

// Assign sets the user's choice for role; a disk chosen for another role
// is refused.
func (r *Raid) Assign(p backend.Plan, role, disk string) (backend.Plan, error) {
	out := p
	out.Assignments = append([]backend.Assignment(nil), p.Assignments...)
	found := false
	for i, a := range out.Assignments {
		if a.Role.Role == role {
			out.Assignments[i].Disk, out.Assignments[i].Why = disk, "chosen by you"
			found = true
		} else if disk != "" && a.Disk == disk {
			return p, fmt.Errorf("%s is already chosen for %s", disk, a.Role.Role)
		}
	}
	if !found {
		return p, fmt.Errorf("the set has no role %s", role)
	}
	return out, nil
}

// Ready requires a disk for every role.
func (r *Raid) Ready(p backend.Plan) error {
	for _, a := range p.Assignments {
		if a.Disk == "" {
			return fmt.Errorf("role %s has no disk", a.Role.Role)
		}
	}
	return nil
}

// Provision simulates writing every role in parallel.
func (r *Raid) Provision(ctx context.Context, p backend.Plan, verify bool, confirmed map[string]string, progress func(backend.TargetProgress)) ([]backend.TargetResult, error) {
	for _, a := range p.Assignments {
		if d, ok := r.disk(a.Disk); ok && d.NeedsTypedConfirm && !(disk.Disk{Name: d.Name, Path: d.Path}).ConfirmedBy(confirmed[d.Path]) {
			return nil, fmt.Errorf("%s: type %q to confirm writing this disk", d.Path, d.Name)
		}
	}
	r.mu.Lock()
	r.plans = append(r.plans, p)
	r.confirmed = append(r.confirmed, confirmed)
	r.mu.Unlock()
	step := r.Step
	if step == 0 {
		step = 40 * time.Millisecond
	}
	out := make([]backend.TargetResult, len(p.Assignments))
	var wg sync.WaitGroup
	for i, a := range p.Assignments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			for k := 1; k <= 10; k++ {
				select {
				case <-ctx.Done():
					out[i] = backend.TargetResult{Role: a.Role.Role, Disk: a.Disk, Err: ctx.Err()}
					return
				case <-time.After(step):
				}
				progress(backend.TargetProgress{Role: a.Role.Role, Progress: backend.Progress{Phase: "write", Done: a.Role.Size * int64(k) / 10, Total: a.Role.Size, Rate: 31e6}})
			}
			out[i] = backend.TargetResult{Role: a.Role.Role, Disk: a.Disk, Result: backend.FlashResult{Bytes: a.Role.Size, Hash: fmt.Sprintf("sha256:%016x…", uint64(0x9f2c1b0e6a5d4c3b)+uint64(i)), Verified: verify, Duration: time.Since(t0)}}
		}()
	}
	wg.Wait()
	return out, ctx.Err()
}
