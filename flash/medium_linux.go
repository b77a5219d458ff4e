package flash

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mediumKey names what a target path writes to: a block device by its
// whole-disk device number (a loop device by its backing file's device
// and inode), a file by its device and inode.
func mediumKey(path string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if os.IsNotExist(err) {
			return "new:" + filepath.Clean(path), nil
		}
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return fmt.Sprintf("file:%d:%d", st.Dev, st.Ino), nil
	}
	maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", maj, min)
	if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
		// A partition: its whole disk is the parent directory.
		if real, err := filepath.EvalSymlinks(sys); err == nil {
			if b, err := os.ReadFile(filepath.Join(filepath.Dir(real), "dev")); err == nil {
				return mediumOfDisk(filepath.Dir(real), strings.TrimSpace(string(b)))
			}
		}
	}
	return mediumOfDisk(sys, fmt.Sprintf("%d:%d", maj, min))
}

func mediumOfDisk(sys, devno string) (string, error) {
	b, err := os.ReadFile(filepath.Join(sys, "loop", "backing_file"))
	if err != nil {
		return "disk:" + devno, nil
	}
	var st unix.Stat_t
	back := strings.TrimSpace(string(b))
	if err := unix.Stat(strings.TrimSuffix(back, " (deleted)"), &st); err != nil {
		return "loop:" + devno, nil
	}
	return fmt.Sprintf("file:%d:%d", st.Dev, st.Ino), nil
}
