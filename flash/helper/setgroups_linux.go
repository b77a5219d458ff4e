//go:build linux && !386 && !arm

package helper

import "golang.org/x/sys/unix"

// sysSetgroups is the setgroups call taking 32-bit group ids.
const sysSetgroups = unix.SYS_SETGROUPS
