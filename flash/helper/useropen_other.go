//go:build !linux

package helper

import (
	"errors"
	"os"
	"runtime"
)

func openAsUser(p string, c creds) (*os.File, error) {
	return nil, errors.New("opening files for another user is not supported on " + runtime.GOOS)
}
