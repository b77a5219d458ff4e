//go:build !linux

package disk

import (
	"errors"
	"fmt"
	"runtime"
)

var (
	errNoAccess    = errors.New("no access to the device node")
	errNotAttached = errors.New("loop device not attached")
)

func loopStatus(devPath string, major, minor uint32) (LoopBacking, error) {
	return LoopBacking{}, fmt.Errorf("%s: loop devices are not supported on %s", devPath, runtime.GOOS)
}

func probeBusy(devPath string, major, minor uint32) (bool, error) {
	return false, fmt.Errorf("%s: probing is not supported on %s", devPath, runtime.GOOS)
}
