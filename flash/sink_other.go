//go:build !linux

package flash

import (
	"context"
	"errors"
	"runtime"
)

func openTarget(w *writer, ctx context.Context) (sink, error) {
	return nil, errors.New("writing disks is not supported on " + runtime.GOOS)
}
