package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// asCLI makes the test binary run main() with its own arguments, so that
// the tests see exactly what the pistudio command prints.
const asCLI = "PISTUDIO_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestCommandsPrintNoGUINoise: the command line links the GUI, but starting
// it must not touch Fyne (whose start-up complaints, such as "Attempt to
// access current Fyne app", would land on every command's stderr).
func TestCommandsPrintNoGUINoise(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"help"}, {"validate", "--help"}, {"flash", "--help"}} {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), asCLI+"=1", "LANG=C.UTF-8", "LC_ALL=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("pistudio %s: %v", strings.Join(args, " "), err)
			}
		}
		if strings.Contains(string(out), "Fyne") || len(out) == 0 {
			t.Errorf("pistudio %s printed:\n%s", strings.Join(args, " "), out)
		}
	}
}
