//go:build linux

package helper

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openAsUser opens the regular file p for reading with the file-system
// credentials of the user: fsuid, fsgid and supplementary groups are
// switched on one locked OS thread only (Linux keeps them per thread), so
// every permission check — each directory searched, ACLs, the file itself
// — is the kernel's, made for that user, at the moment of the open. The
// thread is never handed back to the runtime: it ends with its goroutine,
// so no other goroutine ever runs with the switched credentials, and no
// restore that could fail is needed.
//
// Symlinks are resolved as the user first; the final open refuses to
// follow one (O_NOFOLLOW), so a link swapped in between is refused.
func openAsUser(p string, c creds) (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread exits with this goroutine.
		f, err := openOnThread(p, c)
		ch <- result{f, err}
	}()
	r := <-ch
	return r.f, r.err
}

func openOnThread(p string, c creds) (*os.File, error) {
	gids := make([]uint32, len(c.groups))
	for i, g := range c.groups {
		gids[i] = uint32(g)
	}
	var ptr unsafe.Pointer
	if len(gids) > 0 {
		ptr = unsafe.Pointer(&gids[0])
	}
	// The raw system call changes this thread only (the C library and
	// syscall.Setgroups would change every thread).
	if _, _, e := unix.RawSyscall(sysSetgroups, uintptr(len(gids)), uintptr(ptr), 0); e != 0 {
		return nil, fmt.Errorf("dropping to the groups of user %d: %w", c.uid, e)
	}
	if err := unix.Setfsgid(c.gid); err != nil {
		return nil, fmt.Errorf("switching to group %d: %w", c.gid, err)
	}
	if err := unix.Setfsuid(c.uid); err != nil {
		return nil, fmt.Errorf("switching to user %d: %w", c.uid, err)
	}
	// setfsuid reports no failure: read the values back (an invalid id
	// changes nothing and returns the current one).
	if cur, _ := unix.SetfsuidRetUid(-1); cur != c.uid {
		return nil, fmt.Errorf("switching to user %d: fsuid is %d", c.uid, cur)
	}
	if cur, _ := unix.SetfsgidRetGid(-1); cur != c.gid {
		return nil, fmt.Errorf("switching to group %d: fsgid is %d", c.gid, cur)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, permErr(p, c.uid, err)
	}
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, permErr(p, c.uid, &os.PathError{Op: "open", Path: real, Err: err})
	}
	f := os.NewFile(uintptr(fd), p)
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return f, nil
}

// permErr words a refused open as the user's lack of permission.
func permErr(p string, uid int, err error) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("user %d may not read %s: %w", uid, p, err)
	}
	return err
}

// runAsUser returns what makes a command run with the user's ids and
// groups instead of root's.
func runAsUser(c creds) func(*exec.Cmd) {
	groups := make([]uint32, len(c.groups))
	for i, g := range c.groups {
		groups[i] = uint32(g)
	}
	return func(cmd *exec.Cmd) {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid), Groups: groups}
	}
}
