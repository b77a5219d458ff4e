// Package clitest runs command-line contracts written as scripts
// (testscript .txtar files: commands, their exit codes, their output and
// the files they leave) against pistudio subcommands built into the test
// binary.
//
// A package's TestMain calls Main with its commands; a test calls Run with
// the folder of its scripts. Scripts call the commands as `pistudio ...`
// and may use, beside testscript's own commands:
//
//	exits N pistudio ARGS...   run and require exit status N (0, 1, 2, 130)
//	absent PATH...             require that no file or folder PATH exists
//
// PISTUDIO_UPDATE_SCRIPTS=1 rewrites the expected outputs of failing cmp
// lines inside the scripts.
package clitest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"github.com/pistudio/pistudio/internal/cli"
	"github.com/rogpeppe/go-internal/testscript"
)

// Main makes "pistudio" a command of the scripts that runs cmds, then
// runs the package's tests; it does not return. cmds is called in the
// child process, so it may read that process's environment (a test's own
// stand-ins are chosen there, never in the shipped binary).
func Main(m *testing.M, cmds func() []cli.Command) {
	testscript.Main(m, map[string]func(){
		"pistudio": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := cli.Main(ctx, cli.OSEnv(), cmds(), os.Args[1:])
			stop()
			os.Exit(code)
		},
	})
}

// Run runs every script in dir (relative to the test's folder). setup,
// if not nil, adds to each script's environment.
func Run(t *testing.T, dir string, setup func(*testscript.Env) error) {
	t.Helper()
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		Setup:               setup,
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("PISTUDIO_UPDATE_SCRIPTS") != "",
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exits":  exits,
			"absent": absent,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// exits runs a command and requires its exit status.
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exits")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %q is not a number", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Logf("stdout:\n%s", ts.ReadFile("stdout"))
		ts.Logf("stderr:\n%s", ts.ReadFile("stderr"))
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// absent requires that none of the paths exists.
func absent(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! absent (use exists)")
	}
	for _, a := range args {
		if _, err := os.Lstat(ts.MkAbs(a)); err == nil {
			ts.Fatalf("%s exists; it must not", a)
		} else if !errors.Is(err, os.ErrNotExist) {
			ts.Fatalf("%s: %v", a, err)
		}
	}
}
