//go:build linux

package source

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipe makes the pipe r reads hold 1 MiB, so that decoded data comes
// in fewer, larger reads; it is only a speed-up.
func growPipe(r *os.File) {
	if rc, err := r.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20)
		})
	}
}
