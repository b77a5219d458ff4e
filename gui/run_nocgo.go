//go:build !cgo

package gui

import (
	"fmt"
	"os"
)

// Run reports that this binary was built without cgo, which the desktop
// app's OpenGL driver needs; the command-line tools still work.
func Run() {
	fmt.Fprintln(os.Stderr, "pistudio: this binary was built without cgo, so the desktop app is not available; run `pistudio help` for the command-line tools")
	os.Exit(2)
}
