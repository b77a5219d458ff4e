package buildcmd

import (
	"path/filepath"
	"testing"

	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/cli/clitest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	clitest.Main(m, func() []cli.Command { return Commands() })
}

// TestScripts runs the command contracts in testdata/script: exit codes,
// messages on stderr, and what a failed command leaves behind.
func TestScripts(t *testing.T) {
	testdata, err := filepath.Abs(filepath.Join("..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	standin, err := filepath.Abs(filepath.Join("..", "runner", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	clitest.Run(t, filepath.Join("testdata", "script"), func(e *testscript.Env) error {
		e.Setenv("TESTDATA", testdata)
		e.Setenv("STANDIN", standin)
		return nil
	})
}
