//go:build !linux

package firstboot

import "os"

// dropCache does nothing where the kernel offers no portable way.
func dropCache(*os.File) error { return nil }
