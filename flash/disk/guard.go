package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Guard re-checks the disk at devPath right before a writer opens it: it
// re-scans that device under root ("" or "/" for the running system) and
// fails with ErrNotFound if it is gone, ErrChanged (wrapped) if it is not
// the disk the user chose (device numbers, size, serial or medium differ),
// or a *ProtectedError if it is now protected (mounted as a system path,
// holding one of imagePaths, read-only, ...). On the running system it
// also checks that the device node still has the expected numbers.
func Guard(root, devPath string, expect Identity, imagePaths []string) (Disk, error) {
	d, err := scanOne(root, devPath, imagePaths, false)
	if err != nil {
		return Disk{}, err
	}
	if got := d.Identity(); !expect.Matches(got) {
		return d, fmt.Errorf("%s: %w (chosen: %v; now: %v)", devPath, ErrChanged, expect, got)
	}
	if isReal(root) {
		if maj, min, ok := rdev(d.Path); !ok || maj != expect.Major || min != expect.Minor {
			return d, fmt.Errorf("%s: %w (device node is not %d:%d)", d.Path, ErrChanged, expect.Major, expect.Minor)
		}
	}
	if !d.Eligible {
		return d, &ProtectedError{Path: d.Path, Reason: d.Reason}
	}
	return d, nil
}

// CheckPath scans and classifies the one disk at devPath on the running
// system, for callers without a prior scan. It returns the disk together
// with a *ProtectedError when the disk is protected, or ErrNotFound. Like
// Scan, it finds a disk the kernel holds busy (see Scan).
func CheckPath(devPath string, imagePaths ...string) (Disk, error) {
	d, err := scanOne("/", devPath, imagePaths, true)
	if err != nil {
		return Disk{}, err
	}
	if !d.Eligible {
		return d, &ProtectedError{Path: d.Path, Reason: d.Reason}
	}
	return d, nil
}

// ErrNotDevPath means a disk was named by a path outside /dev.
var ErrNotDevPath = errors.New("name the disk by its device path in /dev")

// checkInDev refuses an absolute path outside /dev, saying where a link
// there points: "disk not found" would hide that the path exists.
func checkInDev(devPath string) error {
	if !filepath.IsAbs(devPath) || strings.HasPrefix(filepath.Clean(devPath), "/dev/") {
		return nil
	}
	st, err := os.Lstat(devPath)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", devPath, ErrNotFound)
	case st.Mode()&os.ModeSymlink != 0:
		to, _ := filepath.EvalSymlinks(devPath)
		if to == "" {
			to, _ = os.Readlink(devPath)
		}
		return fmt.Errorf("%s is a symlink outside /dev (to %s): %w", devPath, to, ErrNotDevPath)
	}
	return fmt.Errorf("%s is not in /dev: %w", devPath, ErrNotDevPath)
}

func isReal(root string) bool { return root == "" || filepath.Clean(root) == "/" }

// diskName turns "/dev/sdb", "sdb" or (on the running system) a symlink
// such as /dev/disk/by-id/usb-... into a kernel name.
func diskName(root, devPath string) string {
	if isReal(root) && strings.HasPrefix(devPath, "/dev/") {
		if r, err := filepath.EvalSymlinks(devPath); err == nil {
			devPath = r
		}
	}
	return strings.TrimPrefix(devPath, "/dev/")
}

// scanOne scans the one disk at devPath; busyProbe runs the exclusive
// open probe (Guard leaves it to the writer's own exclusive open).
func scanOne(root, devPath string, imagePaths []string, busyProbe bool) (Disk, error) {
	if isReal(root) {
		if err := checkInDev(devPath); err != nil {
			return Disk{}, err
		}
	}
	name := diskName(root, devPath)
	if name == "" || strings.Contains(name, "/") {
		return Disk{}, fmt.Errorf("%s: %w", devPath, ErrNotFound)
	}
	s, err := newScanner(ScanOptions{Root: root, ImagePaths: imagePaths, NoProbe: true, only: name, noBusyProbe: !busyProbe})
	if err != nil {
		return Disk{}, err
	}
	if dv := s.devs[name]; dv != nil && dv.parent != "" {
		return Disk{}, fmt.Errorf("%s is a partition of /dev/%s, not a whole disk: %w", devPath, dv.parent, ErrNotFound)
	}
	disks, err := s.scan()
	if err != nil {
		return Disk{}, err
	}
	if len(disks) != 1 {
		return Disk{}, fmt.Errorf("%s: %w", devPath, ErrNotFound)
	}
	return disks[0], nil
}
