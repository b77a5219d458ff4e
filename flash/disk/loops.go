package disk

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/flash/disk/internal/devscope"
)

// findLoops records what backs each attached loop device: a block device
// (the loop is then protected, and counts as a holder of that device) or
// a file, whose device counts the loop among its holders — so the disk
// under a live system's squashfs loop mounted at / holds the running
// system.
//
// On the running system the kernel is asked (LOOP_GET_STATUS64) for the
// backing's device numbers: a path in loop/backing_file may name a node
// that was deleted, renamed or lives in another mount namespace. Only an
// unprivileged scan, which may not open loop devices, falls back to the
// path (the writer's Guard runs as root). A loop whose backing cannot be
// read is recorded in s.unresolved. Under a fake root the path is used.
func (s *scanner) findLoops() {
	names := make([]string, 0, len(s.devs))
	for n, d := range s.devs {
		if d.parent == "" && strings.HasPrefix(n, "loop") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		d := s.devs[name]
		back := readTrim(filepath.Join(d.dir, "loop", "backing_file"))
		if back == "" {
			continue // not attached
		}
		if !s.real {
			s.loopFromPath(name, back)
			continue
		}
		if !devscope.Allowed("/dev/" + name) {
			continue
		}
		b, err := loopStatus("/dev/"+name, d.major, d.minor)
		switch {
		case err == nil:
			s.loopFromKernel(name, b)
		case errors.Is(err, errNotAttached):
		case errors.Is(err, errNoAccess):
			s.loopFromPath(name, back)
		default:
			s.unresolved[name] = err.Error()
		}
	}
}

// loopFromKernel records loop device name as a holder of what backs it.
func (s *scanner) loopFromKernel(name string, b LoopBacking) {
	s.loops[name] = b
	if b.IsBlock() {
		dev := s.byNum[[2]uint32{b.RdevMajor, b.RdevMinor}]
		if dev == "" {
			s.loopBlock[name] = fmt.Sprintf("%d:%d", b.RdevMajor, b.RdevMinor)
			return
		}
		s.loopBlock[name] = "/dev/" + dev
		s.addLoopOn(dev, name)
		return
	}
	if dev := s.fsDevice(b.DevMajor, b.DevMinor); dev != "" {
		s.addLoopOn(dev, name)
	}
}

// fsDevice returns the block device holding a filesystem with st_dev
// major:minor: the device itself, or for anonymous devices (btrfs) the
// source of a mount of that filesystem. "" for filesystems on no block
// device (tmpfs).
func (s *scanner) fsDevice(major, minor uint32) string {
	if n := s.byNum[[2]uint32{major, minor}]; n != "" {
		return n
	}
	for _, m := range s.mtab {
		if m.Major == major && m.Minor == minor {
			if n := s.devName(m.Source); n != "" {
				return n
			}
		}
	}
	return ""
}

// loopFromPath records loop device name from its backing file's path.
func (s *scanner) loopFromPath(name, back string) {
	back = strings.TrimSuffix(back, " (deleted)")
	dev, isBlock := s.blockDev(back)
	if isBlock {
		s.loopBlock[name] = back
		if dev != "" {
			s.loopBlock[name] = "/dev/" + dev
		}
	} else if s.real {
		dev = s.deviceOfPath(back)
	} else if filepath.IsAbs(back) {
		dev = s.mountDevOf(filepath.Clean(back))
	}
	s.addLoopOn(dev, name)
}

func (s *scanner) addLoopOn(dev, loop string) {
	if dev != "" && dev != loop && !contains(s.loopOn[dev], loop) {
		s.loopOn[dev] = append(s.loopOn[dev], loop)
	}
}

// unresolvedReasons names the loop devices whose backing could not be
// read and that could sit on disk d: any but d's own stack that is not
// larger than d (a loop device on a block device is never larger than
// it).
func (s *scanner) unresolvedReasons(d *Disk, stack []string) []string {
	var out []string
	names := make([]string, 0, len(s.unresolved))
	for n := range s.unresolved {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if contains(stack, n) {
			continue
		}
		if n == d.Name {
			out = append(out, "what it is attached to cannot be read ("+s.unresolved[n]+")")
			continue
		}
		if dv := s.devs[n]; dv != nil && sectors(dv) <= d.SizeBytes/512 {
			out = append(out, "loop device "+n+" may be stacked on it (what it is attached to cannot be read: "+s.unresolved[n]+")")
		}
	}
	return out
}

func sectors(d *sysDev) int64 {
	var n int64
	fmt.Sscan(readTrim(filepath.Join(d.dir, "size")), &n)
	return n
}
