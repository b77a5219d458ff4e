//go:build !linux

package helper

import (
	"errors"
	"github.com/pistudio/pistudio/flash/disk"
	"os"
	"os/exec"
	"runtime"
)

func openAsUser(p string, c creds) (*os.File, error) {
	return nil, errors.New("opening files for another user is not supported on " + runtime.GOOS)
}

// runAsUser leaves the command as it is: the helper refuses to open
// images for another user here anyway.
func runAsUser(creds) func(*exec.Cmd) { return nil }

func loopOwner(d disk.Disk) (int, error) {
	return 0, errors.New("loop devices are not supported on " + runtime.GOOS)
}
