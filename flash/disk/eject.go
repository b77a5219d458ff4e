package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoEject means this machine offers no way to power a disk off: no
// udisksctl and no root privileges for the kernel's device/delete.
var ErrNoEject = errors.New("cannot power the disk off here: install udisks2, or remove it after the activity light stops")

// EjectOptions says how Eject reaches the disk.
type EjectOptions struct {
	// Root is "" or "/" for the running system, else a fake tree (tests).
	Root string
	// Run runs a program (udisksctl); nil runs it with os/exec.
	Run func(ctx context.Context, name string, args ...string) error
	// LookPath finds a program; nil is exec.LookPath.
	LookPath func(name string) (string, error)
	// Root privileges allow the sysfs device/delete fallback; nil asks
	// os.Geteuid.
	IsRoot func() bool
}

// Eject powers off the disk at devPath so that it can be unplugged safely.
// It first re-checks, as Guard does, that the disk is still the one
// expected (identity) and eligible, and that none of its partitions is
// mounted. It uses `udisksctl power-off` when installed, else, as root,
// writes 1 to the disk's sysfs device/delete. Call it only for the disk
// just written.
func Eject(ctx context.Context, devPath string, expect Identity, opts EjectOptions) error {
	d, err := Guard(opts.Root, devPath, expect, nil)
	if err != nil {
		return fmt.Errorf("ejecting %s: %w", devPath, err)
	}
	for _, p := range d.Partitions {
		if len(p.MountPoints) > 0 {
			return fmt.Errorf("ejecting %s: %s is mounted at %s: unmount it first", d.Path, p.Path, strings.Join(p.MountPoints, ", "))
		}
	}
	look, run, isRoot := opts.LookPath, opts.Run, opts.IsRoot
	if look == nil {
		look = exec.LookPath
	}
	if run == nil {
		run = func(ctx context.Context, name string, args ...string) error {
			out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
			}
			return nil
		}
	}
	if isRoot == nil {
		isRoot = func() bool { return os.Geteuid() == 0 }
	}
	if p, err := look("udisksctl"); err == nil {
		if err := run(ctx, p, "power-off", "--no-user-interaction", "-b", d.Path); err != nil {
			return fmt.Errorf("ejecting %s: %w", d.Path, err)
		}
		return nil
	}
	if !isRoot() {
		return fmt.Errorf("ejecting %s: %w", d.Path, ErrNoEject)
	}
	del := filepath.Join(rootDir(opts.Root), "sys/block", d.Name, "device/delete")
	if err := os.WriteFile(del, []byte("1"), 0); err != nil {
		return fmt.Errorf("ejecting %s: %w", d.Path, err)
	}
	return nil
}

// rootDir is the directory a scan root names.
func rootDir(root string) string {
	if isReal(root) {
		return "/"
	}
	return root
}
