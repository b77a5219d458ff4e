package flashcmd

import (
	"path/filepath"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/internal/cli/clitest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	clitest.Main(m, Commands)
}

// TestScripts runs the command contracts in testdata/script: output,
// exit codes, messages on stderr, and what a failed command leaves
// behind. $SYSROOT is a fake machine (sysfs, udev data, mounts) for
// `disks --root`.
func TestScripts(t *testing.T) {
	root := disktest.Sample(t).Root
	clitest.Run(t, filepath.Join("testdata", "script"), func(e *testscript.Env) error {
		e.Setenv("SYSROOT", root)
		return nil
	})
}
