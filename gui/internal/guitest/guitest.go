// Package guitest holds what the GUI packages' tests share.
package guitest

import (
	"fmt"
	"os"
	"testing"
)

// Main runs the tests with the user's cache and configuration directories
// (where Fyne writes its font cache and preferences) inside a temporary
// directory removed afterwards, and exits with their status. Call it
// from TestMain.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "pistudio-gui-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	os.Setenv("XDG_CONFIG_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
