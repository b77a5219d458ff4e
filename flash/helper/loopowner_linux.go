//go:build linux

package helper

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/disk"
)

// loopOwner returns the owner of loop device d's backing file: the file
// at its backing path (d.Serial), only if it is the inode the kernel
// reports (d.Loop). A loop device on a block device is owned by whoever
// owns that node.
func loopOwner(d disk.Disk) (int, error) {
	if d.Loop == nil {
		return 0, errors.New("what backs it cannot be read")
	}
	p := strings.TrimSuffix(d.Serial, " (deleted)")
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, fmt.Errorf("%w: %w", errLoopBacking, err)
	}
	b := d.Loop
	if unix.Major(st.Dev) != b.DevMajor || unix.Minor(st.Dev) != b.DevMinor || st.Ino != b.Inode {
		return 0, errLoopBacking
	}
	return int(st.Uid), nil
}
