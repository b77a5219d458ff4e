package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/manifest"
)

// SampleSet is the folder name of the sample RAID set in the work dir.
const SampleSet = "image-raid-test"

// sampleRoles are the members of the sample set: an SD card image and two
// external disk images.
var sampleRoles = []struct {
	role, file string
	size       int64
}{
	{provision.RoleSD, "sdcard.img", 200 * 1000 * 1000},
	{"external1", "external1.img", GB},
	{"external2", "external2.img", GB},
}

// WriteSampleSet writes the sample RAID1 set into workDir/image-raid-test:
// sparse image files of the members' sizes (they take no space) and an
// image.json naming their roles, so that the real planner reads it. It
// returns the set's folder.
func WriteSampleSet(workDir string) (string, error) {
	dir := filepath.Join(workDir, SampleSet)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("writing the sample set: %w", err)
	}
	m := &manifest.Manifest{Layout: manifest.LayoutRAID, Name: "raid-test", Level: "RAID1",
		ArrayUUID: "6f0c3c2a:41b2e7d0:9a3e55b1:c0ffee42", Devices: 2, Roles: map[string]string{}}
	for _, r := range sampleRoles {
		if err := sparseFile(filepath.Join(dir, r.file), r.size); err != nil {
			return "", err
		}
		m.Artifacts = append(m.Artifacts, manifest.Artifact{File: r.file, Kind: manifest.KindDisk, Role: r.role, Size: r.size})
		m.Roles[r.role] = r.file
	}
	if err := manifest.Write(dir, m); err != nil {
		return "", fmt.Errorf("writing the sample set: %w", err)
	}
	return dir, nil
}

// sparseFile makes path a file of size bytes that holds no data.
func sparseFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing the sample set: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("writing the sample set: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the sample set: %w", err)
	}
	return nil
}

// Raid plans sets with flash/provision's planner and simulates writing them.
type Raid struct {
	// WorkDir is where the sample set lives.
	WorkDir string
	// Step is the pause between progress reports.
	Step time.Duration

	// Disks, when set, is the disk list Provision looks up the disks of a
	// plan in (to insist on typed names as the real writer does).
	Disks *Disks

	mu        sync.Mutex
	plans     []*provision.Plan
	confirmed []map[string]string
	last      provision.Options
}

// LastOptions returns the options of the last provisioning (Progress left out).
func (r *Raid) LastOptions() provision.Options {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Confirmed returns the typed names passed with every provisioned plan.
func (r *Raid) Confirmed() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]string(nil), r.confirmed...)
}

// Provisioned returns every plan provisioned.
func (r *Raid) Provisioned() []*provision.Plan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*provision.Plan(nil), r.plans...)
}

// Sets lists the sample set.
func (r *Raid) Sets(string) []string {
	return []string{filepath.Join(r.WorkDir, SampleSet)}
}

// Plan reads the set in dir and proposes disks with provision.Propose, as
// the real app does.
func (r *Raid) Plan(dir string, disks []disk.Disk) (*provision.Plan, error) {
	m, err := manifest.Read(dir)
	if err != nil {
		return nil, err
	}
	if m.Layout != manifest.LayoutRAID {
		return nil, fmt.Errorf("%s holds a %s image, not a RAID set", dir, m.Layout)
	}
	return provision.Propose(m, dir, disks)
}

// checkConfirmed refuses a plan whose large disks were not named, as the
// real writer does.
func (r *Raid) checkConfirmed(p *provision.Plan, confirmed map[string]string) error {
	if r.Disks == nil {
		return nil
	}
	for _, a := range p.Roles {
		if a.Disk == nil {
			continue
		}
		if d, ok := r.Disks.find(a.Disk.Path); ok && d.NeedsTypedConfirm && !d.ConfirmedBy(confirmed[d.Path]) {
			return fmt.Errorf("%s: type %q to confirm writing this disk", d.Path, d.Name)
		}
	}
	return nil
}

// Provision simulates writing every role in parallel.
func (r *Raid) Provision(ctx context.Context, p *provision.Plan, opts provision.Options) (*provision.Summary, error) {
	if err := r.checkConfirmed(p, opts.Confirmations); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.plans = append(r.plans, p)
	r.confirmed = append(r.confirmed, opts.Confirmations)
	r.last = opts
	r.last.Progress = nil
	r.mu.Unlock()
	step := r.Step
	if step == 0 {
		step = 40 * time.Millisecond
	}
	sum := &provision.Summary{Set: p.Set, Targets: make([]provision.Result, len(p.Roles)), OK: true}
	if m := p.Manifest; m != nil {
		sum.Name, sum.Level, sum.ArrayUUID, sum.Devices = m.Name, m.Level, m.ArrayUUID, m.Devices
	}
	var wg sync.WaitGroup
	for i, a := range p.Roles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum.Targets[i] = r.write(ctx, i, a, step, opts)
		}()
	}
	wg.Wait()
	for _, t := range sum.Targets {
		sum.OK = sum.OK && t.State == provision.Done
	}
	return sum, ctx.Err()
}

// write simulates one role's write.
func (r *Raid) write(ctx context.Context, i int, a provision.RoleAssignment, step time.Duration, opts provision.Options) provision.Result {
	res := provision.Result{Role: a.Role, Artifact: a.Artifact}
	if a.Disk != nil {
		res.Device, res.Model, res.Serial, res.SizeBytes = a.Disk.Path, a.Disk.Model, a.Disk.Serial, a.Disk.SizeBytes
	}
	t0 := time.Now()
	for k := 1; k <= 10; k++ {
		select {
		case <-ctx.Done():
			res.State, res.Error = provision.Cancelled, ctx.Err().Error()
			return res
		case <-time.After(step):
		}
		if opts.Progress != nil {
			opts.Progress(provision.Event{Role: a.Role, Disk: res.Device, State: provision.Writing,
				Progress: flash.Progress{Phase: flash.Writing, Done: a.ArtifactSize * int64(k) / 10, Total: a.ArtifactSize, BytesPerSec: 31e6}})
		}
	}
	res.State, res.Written, res.Verified, res.Duration = provision.Done, a.ArtifactSize, !opts.NoVerify, time.Since(t0)
	if opts.After != nil {
		if err := opts.After(ctx, a.Role, flash.Target{Path: res.Device}); err != nil {
			res.State, res.Error = provision.Failed, err.Error()
		}
	}
	res.XXH3 = fmt.Sprintf("%016x9f2c1b0e6a5d4c3b", uint64(0x9f2c1b0e6a5d4c3b)+uint64(i))
	return res
}
