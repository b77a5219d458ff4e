package disk

import "golang.org/x/sys/unix"

// statDev returns the major:minor of the device holding file p.
func statDev(p string) (uint32, uint32, bool) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, 0, false
	}
	return unix.Major(st.Dev), unix.Minor(st.Dev), true
}

// rdev returns the major:minor of block device node p (stat only, never opened).
func rdev(p string) (uint32, uint32, bool) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, false
	}
	return unix.Major(st.Rdev), unix.Minor(st.Rdev), true
}
