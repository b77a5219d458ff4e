//go:build !linux

package source

import "os"

// growPipe leaves the pipe as it is.
func growPipe(*os.File) {}
