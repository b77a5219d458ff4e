package logview

import (
	"fmt"
	"os"
	"testing"
)

// TestMain keeps Fyne's font cache, which it writes below the user's cache
// directory, inside a temporary directory removed after the tests.
func TestMain(m *testing.M) {
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
