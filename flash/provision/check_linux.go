//go:build linux

package provision

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/disk"
)

// checkTarget reads back the signature regions of a written target past
// imageSize, bypassing the page cache. A block device must still be the
// disk id names.
func checkTarget(path string, id disk.Identity, isFile bool, imageSize int64) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EINVAL) {
		// Filesystems without O_DIRECT (tmpfs): drop the cache instead.
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
	}
	if err != nil {
		return fmt.Errorf("opening %s to check it: %w", path, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	isDev := st.Mode&unix.S_IFMT == unix.S_IFBLK
	switch {
	case isFile && isDev:
		return fmt.Errorf("%s became a block device", path)
	case !isFile && (!isDev || unix.Major(st.Rdev) != id.Major || unix.Minor(st.Rdev) != id.Minor):
		return fmt.Errorf("%s: %w (the node is not %d:%d any more)", path, disk.ErrChanged, id.Major, id.Minor)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("size of %s: %w", path, err)
	}
	return CheckClean(f, size, imageSize)
}

// fileID returns the device and inode numbers of the file st.
func fileID(st os.FileInfo) (major, minor uint32, ino uint64, ok bool) {
	sys, ok := st.Sys().(*unix.Stat_t)
	if !ok {
		if s2, ok2 := st.Sys().(*syscall.Stat_t); ok2 {
			return unix.Major(s2.Dev), unix.Minor(s2.Dev), s2.Ino, true
		}
		return 0, 0, 0, false
	}
	return unix.Major(sys.Dev), unix.Minor(sys.Dev), sys.Ino, true
}
