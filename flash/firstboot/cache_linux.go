package firstboot

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dropCache makes the next reads of f come from the medium: the page
// cache of a file is dropped, a block device's buffers are flushed.
func dropCache(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	if st.Mode()&os.ModeDevice != 0 {
		if err := unix.IoctlSetInt(int(f.Fd()), unix.BLKFLSBUF, 0); err != nil {
			return fmt.Errorf("flushing the buffers of %s: %w", f.Name(), err)
		}
		return nil
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("dropping the cached pages of %s: %w", f.Name(), err)
	}
	return nil
}
