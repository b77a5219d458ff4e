//go:build !linux

package provision

import (
	"errors"
	"os"
	"runtime"

	"github.com/pistudio/pistudio/flash/disk"
)

func checkTarget(path string, id disk.Identity, isFile bool, imageSize int64) error {
	return errors.New("checking disks is not supported on " + runtime.GOOS)
}

func fileID(st os.FileInfo) (major, minor uint32, ino uint64, ok bool) { return 0, 0, 0, false }
