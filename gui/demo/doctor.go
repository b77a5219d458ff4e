package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pistudio/pistudio/builder/doctor"
)

// Doctor pretends to check this computer. When Broken, two Debian
// packages are missing and binfmt is not set up for arm64; otherwise
// every check passes but a network warning.
type Doctor struct {
	// Broken makes the package and binfmt checks fail (until Install).
	Broken bool
	// NoAgent makes Install fail as when no polkit agent runs.
	NoAgent bool
	// Step is the pause between progress reports.
	Step time.Duration
	// Home is where DefaultToolDir puts the tree ("" = /tmp).
	Home string
	// CloneErr, when set, fails GetTool.
	CloneErr error
	// CloneHold, when set, makes GetTool wait after its first phase until
	// it is closed.
	CloneHold chan struct{}

	mu        sync.Mutex
	installed [][]string
	checked   int
}

// SampleMissing are the packages the demo reports missing.
var SampleMissing = []string{"binfmt-support", "qemu-user-static"}

// Check reports the sample checks, one by one through progress.
func (d *Doctor) Check(ctx context.Context, _ string, progress func(doctor.Check)) doctor.Report {
	d.mu.Lock()
	d.checked++
	healthy := !d.Broken
	d.mu.Unlock()
	checks := []doctor.Check{
		{ID: doctor.IDTool, Name: "rpi-image-gen", Status: doctor.OK, Detail: "/opt/rpi-image-gen (v2.8.0)"},
		{ID: doctor.IDPackages, Name: "Debian packages", Status: doctor.Fail,
			Detail: "missing: binfmt-support, qemu-user-static", Fix: "install the missing packages", Packages: SampleMissing},
		{ID: doctor.IDBinfmt, Name: "binfmt (arm64)", Status: doctor.Fail,
			Detail: "no qemu-aarch64 handler in /proc/sys/fs/binfmt_misc", Fix: "install qemu-user-static and binfmt-support, then run: sudo systemctl restart systemd-binfmt",
			Packages: SampleMissing, Command: "sudo systemctl restart systemd-binfmt"},
		{ID: doctor.IDPrivileges, Name: "privileges", Status: doctor.OK, Detail: "user namespaces are available"},
		{ID: doctor.IDSpace, Name: "free space", Status: doctor.OK, Detail: "112 GB free in the work folder; a full build needs about 11 GB"},
		{ID: doctor.IDCache, Name: "cache", Status: doctor.OK, Detail: "~/.cache/pistudio holds nothing yet; apt cache 0 MiB; not cached yet: bdebstrap, genimage (the first build downloads them from GitHub, later builds run offline)"},
		{ID: doctor.NetworkID + "deb.debian.org", Name: "deb.debian.org", Status: doctor.Warn, Detail: "slow to resolve (2.1 s)", Fix: "check the network or the DNS server"},
	}
	var rep doctor.Report
	for _, c := range checks {
		if healthy && c.Status == doctor.Fail {
			c.Status, c.Fix, c.Packages, c.Command = doctor.OK, "", nil, ""
			c.Detail = "all set"
		}
		if d.Step > 0 {
			select {
			case <-ctx.Done():
				return rep
			case <-time.After(d.Step):
			}
		}
		rep.Checks = append(rep.Checks, c)
		if progress != nil {
			progress(c)
		}
	}
	return rep
}

// Checked says how often Check ran.
func (d *Doctor) Checked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.checked
}

// Install pretends to run apt-get; afterwards every check passes.
func (d *Doctor) Install(ctx context.Context, pkgs []string, out io.Writer) error {
	if d.NoAgent {
		return &doctor.NeedsSudoError{Command: doctor.InstallCommand(pkgs)}
	}
	d.mu.Lock()
	d.installed = append(d.installed, append([]string(nil), pkgs...))
	d.mu.Unlock()
	for _, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if out != nil {
			fmt.Fprintf(out, "Setting up %s ...\n", p)
		}
	}
	d.mu.Lock()
	d.Broken = false
	d.mu.Unlock()
	return nil
}

// Installed returns the package lists Install was given.
func (d *Doctor) Installed() [][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]string(nil), d.installed...)
}

// GetTool pretends to clone: progress in ten steps per phase, then an
// empty rpi-image-gen script in dir.
func (d *Doctor) GetTool(ctx context.Context, dir string, progress func(doctor.CloneProgress)) error {
	if d.CloneErr != nil {
		return d.CloneErr
	}
	for n, phase := range []string{"Receiving objects", "Resolving deltas"} {
		if n == 1 && d.CloneHold != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-d.CloneHold:
			}
		}
		for p := 10; p <= 100; p += 10 {
			if d.Step > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(d.Step):
				}
			}
			if progress != nil {
				progress(doctor.CloneProgress{Phase: phase, Percent: p, Line: fmt.Sprintf("%s: %3d%%", phase, p)})
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo clone: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "rpi-image-gen"), []byte("#!/bin/sh\n"), 0o755)
}

// DefaultToolDir is rpi-image-gen under Home.
func (d *Doctor) DefaultToolDir() (string, error) {
	h := d.Home
	if h == "" {
		h = os.TempDir()
	}
	return filepath.Join(h, "rpi-image-gen"), nil
}
