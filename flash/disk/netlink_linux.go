package disk

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// listenUevents opens a kernel uevent socket and returns a channel that
// receives one value per burst of block-device events, debounce after the
// last one. The channel is closed when ctx is done or the socket fails.
func listenUevents(ctx context.Context, debounce time.Duration) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, fmt.Errorf("opening uevent socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding uevent socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	raw := make(chan struct{}, 1)
	go func() {
		defer unix.Close(fd)
		defer close(raw)
		buf := make([]byte, 16<<10)
		for ctx.Err() == nil {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			n, err := unix.Poll(pfd, 250)
			if err == unix.EINTR || n == 0 {
				continue
			}
			if err != nil {
				return
			}
			m, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err == unix.ENOBUFS {
				// Events were lost: re-scan to be sure.
				select {
				case raw <- struct{}{}:
				default:
				}
				continue
			}
			if err != nil {
				return
			}
			// Only the kernel (port 0) speaks on this group.
			if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
				continue
			}
			if ev, err := ParseUevent(buf[:m]); err == nil && ev.affectsDisks() {
				select {
				case raw <- struct{}{}:
				default:
				}
			}
		}
	}()
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		var timer <-chan time.Time
		for {
			select {
			case _, ok := <-raw:
				if !ok {
					return
				}
				timer = time.After(debounce)
			case <-timer:
				timer = nil
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, nil
}
