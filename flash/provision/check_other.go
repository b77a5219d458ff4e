//go:build !linux

package provision

import (
	"errors"
	"runtime"

	"github.com/pistudio/pistudio/flash/disk"
)

func checkTarget(path string, id disk.Identity, isFile bool, imageSize int64) error {
	return errors.New("checking disks is not supported on " + runtime.GOOS)
}
