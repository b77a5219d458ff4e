package helper

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pistudio/pistudio/flash/disk"
)

// devNodeRe is what a device path must resolve to: a node directly in
// /dev (no directory below it, where users may create files).
var devNodeRe = regexp.MustCompile(`^/dev/[^/]+$`)

// errNotDevice is the one refusal of every device path that is not, or
// does not lead through /dev only to, a block device node in /dev: the
// helper resolves paths as root, and its answer must not tell the caller
// what exists, or where links point, outside /dev.
func errNotDevice(p string) error {
	return fmt.Errorf("%w: device %q is not a block device in /dev", ErrRequest, p)
}

// maxLinks bounds the links followed when resolving a device path.
const maxLinks = 40

// resolveInDev resolves p, following links one path component at a time
// and refusing (ok false) as soon as p or any link leads outside /dev:
// nothing outside /dev is ever looked at.
func resolveInDev(p string) (string, bool) {
	if !filepath.IsAbs(p) {
		return "", false
	}
	p = filepath.Clean(p)
	for links := 0; ; {
		if !strings.HasPrefix(p, "/dev/") {
			return "", false
		}
		parts := strings.Split(strings.TrimPrefix(p, "/dev/"), "/")
		cur, next := "/dev", ""
		for i, part := range parts {
			cur += "/" + part
			st, err := os.Lstat(cur)
			if err != nil {
				return "", false
			}
			if st.Mode()&os.ModeSymlink == 0 {
				continue
			}
			if links++; links > maxLinks {
				return "", false
			}
			target, err := os.Readlink(cur)
			if err != nil {
				return "", false
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(cur), target)
			}
			next = filepath.Join(append([]string{target}, parts[i+1:]...)...)
			break
		}
		if next == "" {
			return cur, true
		}
		p = filepath.Clean(next)
	}
}

// checkDevice resolves the requested device and accepts only a block
// device node directly under /dev, reached through /dev only, with an
// identity. It returns the resolved path, which is what gets written.
// With AllowFiles (tests) a regular file (not a symlink) is accepted as
// is, and isFile is set.
func (s *server) checkDevice(req Request) (dev string, isFile bool, err error) {
	if s.opts.AllowFiles {
		if st, err := os.Lstat(req.Device); err == nil && st.Mode().IsRegular() {
			return req.Device, true, nil
		}
	}
	real, ok := resolveInDev(req.Device)
	if !ok || !devNodeRe.MatchString(real) {
		return "", false, errNotDevice(req.Device)
	}
	st, err := os.Lstat(real)
	if err != nil || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return "", false, errNotDevice(req.Device)
	}
	if req.Identity == nil {
		return "", false, fmt.Errorf("%w: no identity for %s: choose the disk from the disk list", ErrRequest, req.Device)
	}
	return real, false, nil
}

// checkDisk guards the device about to be written (the writer guards it
// again) and applies the helper's own rule for loop devices.
func (s *server) checkDisk(dev string, req Request) (disk.Disk, error) {
	d, err := disk.Guard(s.opts.Root, dev, req.Identity.Disk(), nil)
	if err != nil {
		return d, err
	}
	s.protectLoop(&d, req.AllowLoop)
	if !d.Eligible {
		return d, &disk.ProtectedError{Path: d.Path, Reason: d.Reason}
	}
	return d, nil
}

// protectLoop makes an eligible loop device protected when the helper
// acts for a user (not root) and the loop's backing file is not that
// user's, unless allow (the user asked for it, --allow-loop).
func (s *server) protectLoop(d *disk.Disk, allow bool) {
	if allow || s.opts.UID <= 0 || d.Bus != "loop" || !d.Eligible {
		return
	}
	uid, err := loopOwner(*d)
	switch {
	case err != nil:
		d.Reason = fmt.Sprintf("loop device whose backing file's owner cannot be told (%v); --allow-loop writes it", err)
	case uid != s.opts.UID:
		d.Reason = fmt.Sprintf("loop device backed by a file of another user (uid %d); --allow-loop writes it", uid)
	default:
		return
	}
	d.Eligible, d.NeedsTypedConfirm = false, false
}

// errLoopBacking means the path of a loop device's backing file no longer
// names the file the kernel says backs it (deleted, renamed, replaced).
var errLoopBacking = errors.New("its backing file is not at its path any more")

// distinctFromRunning refuses d when it is one medium with a disk being
// written (s.mu held).
func (s *server) distinctFromRunning(d disk.Disk) error {
	if d.Path == "" {
		return nil
	}
	for _, o := range s.writing {
		if same, why := disk.SameMedium(o, d); same {
			return &disk.SameMediumError{A: o.Path, B: d.Path, Why: why + ", and " + o.Path + " is being written"}
		}
	}
	return nil
}
