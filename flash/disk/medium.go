package disk

import (
	"errors"
	"fmt"
)

// ErrSameMedium is matched (errors.Is) by every *SameMediumError.
var ErrSameMedium = errors.New("two targets are one medium")

// SameMediumError refuses to write two targets that are one medium:
// written at once, each overwrites the other and one fails to verify.
type SameMediumError struct {
	// A and B are the two device paths.
	A, B string
	// Why says what makes them one medium.
	Why string
}

func (e *SameMediumError) Error() string {
	return fmt.Sprintf("%s and %s are one medium (%s): choose another disk for one of them", e.A, e.B, e.Why)
}

// Is makes errors.Is(err, ErrSameMedium) true.
func (e *SameMediumError) Is(target error) bool { return target == ErrSameMedium }

// SameMedium reports whether a and b are one medium, and why: the same
// device; loop devices backed by the same file (the kernel's device and
// inode numbers) or the same block device; a loop device backed by the
// other disk; the same World Wide Name; or the same serial number at the
// same size (a loop device's serial is its backing file's path).
func SameMedium(a, b Disk) (bool, string) {
	switch {
	case a.Path != "" && a.Path == b.Path:
		return true, "the same device"
	case (a.Major != 0 || a.Minor != 0) && a.Major == b.Major && a.Minor == b.Minor:
		return true, fmt.Sprintf("the same device %d:%d", a.Major, a.Minor)
	}
	if same, why := sameLoopBacking(a, b); same {
		return true, why
	}
	if backs(a, b) || backs(b, a) {
		return true, "one is a loop device backed by the other"
	}
	return sameIDs(a, b)
}

// sameIDs compares what two disks report of themselves: WWN and serial.
func sameIDs(a, b Disk) (bool, string) {
	switch {
	case a.WWN != "" && a.WWN == b.WWN:
		return true, "the same World Wide Name " + a.WWN
	case a.Serial != "" && a.Serial == b.Serial && a.SizeBytes == b.SizeBytes:
		if a.Bus == "loop" && b.Bus == "loop" {
			return true, "both loop devices are backed by " + a.Serial
		}
		return true, fmt.Sprintf("the same serial number %q and size", a.Serial)
	}
	return false, ""
}

// sameLoopBacking compares what the kernel says backs two loop devices.
func sameLoopBacking(a, b Disk) (bool, string) {
	if a.Loop == nil || b.Loop == nil {
		return false, ""
	}
	la, lb := *a.Loop, *b.Loop
	switch {
	case la.IsBlock() && la.RdevMajor == lb.RdevMajor && la.RdevMinor == lb.RdevMinor:
		return true, fmt.Sprintf("both loop devices are backed by block device %d:%d", la.RdevMajor, la.RdevMinor)
	case !la.IsBlock() && !lb.IsBlock() && la.DevMajor == lb.DevMajor && la.DevMinor == lb.DevMinor && la.Inode == lb.Inode:
		return true, fmt.Sprintf("both loop devices are backed by the same file (inode %d on device %d:%d)", la.Inode, la.DevMajor, la.DevMinor)
	}
	return false, ""
}

// backs reports whether loop device a is backed by the block device b.
func backs(a, b Disk) bool {
	return a.Loop != nil && a.Loop.IsBlock() && a.Loop.RdevMajor == b.Major && a.Loop.RdevMinor == b.Minor
}

// CheckDistinct returns a *SameMediumError naming the first two of disks
// that are one medium (see SameMedium), or nil. Whatever writes several
// targets at once calls it first.
func CheckDistinct(disks []Disk) error {
	for i := range disks {
		for j := i + 1; j < len(disks); j++ {
			if same, why := SameMedium(disks[i], disks[j]); same {
				return &SameMediumError{A: disks[i].Path, B: disks[j].Path, Why: why}
			}
		}
	}
	return nil
}
