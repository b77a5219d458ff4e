package disk

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// errNoAccess means the device node may not be opened by this process
// (an unprivileged scan); the scan then falls back to what sysfs says.
var errNoAccess = errors.New("no access to the device node")

// errNotAttached means the loop device has no backing any more.
var errNotAttached = errors.New("loop device not attached")

// loopStatus asks the kernel (LOOP_GET_STATUS64) what backs the loop
// device node devPath, which must be block device major:minor: it is
// checked with stat before the open and with fstat after it, so no other
// device is ever opened. The node is opened read-only, not exclusively.
func loopStatus(devPath string, major, minor uint32) (LoopBacking, error) {
	if maj, min, ok := rdev(devPath); !ok || maj != major || min != minor {
		return LoopBacking{}, fmt.Errorf("%s is not device %d:%d", devPath, major, minor)
	}
	fd, err := unix.Open(devPath, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return LoopBacking{}, fmt.Errorf("%s: %w: %w", devPath, errNoAccess, err)
	}
	if err != nil {
		return LoopBacking{}, fmt.Errorf("opening %s: %w", devPath, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return LoopBacking{}, fmt.Errorf("%s: %w", devPath, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor {
		return LoopBacking{}, fmt.Errorf("%s is not device %d:%d", devPath, major, minor)
	}
	info, err := unix.IoctlLoopGetStatus64(fd)
	if errors.Is(err, unix.ENXIO) {
		return LoopBacking{}, fmt.Errorf("%s: %w", devPath, errNotAttached)
	}
	if err != nil {
		return LoopBacking{}, fmt.Errorf("%s: LOOP_GET_STATUS64: %w", devPath, err)
	}
	b := LoopBacking{
		DevMajor: unix.Major(info.Device), DevMinor: unix.Minor(info.Device), Inode: info.Inode,
		RdevMajor: unix.Major(info.Rdevice), RdevMinor: unix.Minor(info.Rdevice),
		Offset: info.Offset,
	}
	return b, nil
}

// probeBusy opens devPath (block device major:minor, checked with stat
// first) O_RDONLY|O_EXCL|O_NONBLOCK and closes it at once: EBUSY means
// the kernel has it claimed (mounted, a RAID or btrfs member, held open
// exclusively), as a writer would find it.
func probeBusy(devPath string, major, minor uint32) (bool, error) {
	if maj, min, ok := rdev(devPath); !ok || maj != major || min != minor {
		return false, fmt.Errorf("%s is not device %d:%d", devPath, major, minor)
	}
	fd, err := unix.Open(devPath, unix.O_RDONLY|unix.O_EXCL|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if errors.Is(err, unix.EBUSY) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("opening %s: %w", devPath, err)
	}
	unix.Close(fd)
	return false, nil
}
