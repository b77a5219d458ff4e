package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/pistudio/pistudio/internal/pkexec"
)

// ErrNoAgent is matched by errors.Is for every NeedsSudoError.
var ErrNoAgent = errors.New("no polkit authentication agent is running")

// ErrNotAuthorized means the administrator password was not given (the
// dialog was dismissed or the password was wrong).
var ErrNotAuthorized = errors.New("not authorized to install packages")

// NeedsSudoError is returned by Install when pkexec cannot ask for the
// password because no polkit authentication agent runs in the session
// (i3, sway, a bare X session). Command is what to type instead.
type NeedsSudoError struct {
	// Command is the exact command line to run in a terminal.
	Command string
}

// Error says why and what to run instead.
func (e *NeedsSudoError) Error() string {
	return "installing packages needs the administrator password, but no polkit authentication agent is running in this session, so it cannot be asked for; run in a terminal: " + e.Command
}

// Is makes errors.Is(err, ErrNoAgent) true.
func (e *NeedsSudoError) Is(target error) bool { return target == ErrNoAgent }

// InstallOptions tune Install.
type InstallOptions struct {
	// Out receives apt-get's output; nil discards it.
	Out io.Writer
	// Euid is the effective user id; nil means os.Geteuid.
	Euid func() int
	// Pkexec is the pkexec program; "" means "pkexec" on PATH.
	Pkexec string
	// AptGet is the apt-get program; "" means "apt-get" on PATH.
	AptGet string
}

// Install installs pkgs with apt-get update and InstallArgv: directly as
// root, else through pkexec (one password prompt for both steps). Show
// pkgs to the user first. Without a polkit agent it returns a
// *NeedsSudoError with the command to type; a refused password is
// ErrNotAuthorized.
func Install(ctx context.Context, pkgs []string, o InstallOptions) error {
	if len(pkgs) == 0 {
		return nil
	}
	for _, p := range pkgs {
		if !validPackageName(p) {
			return fmt.Errorf("installing packages: %q is not a Debian package name", p)
		}
	}
	if o.Euid == nil {
		o.Euid = os.Geteuid
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	apt := o.AptGet
	if apt == "" {
		apt = "apt-get"
	}
	script := "set -e; export DEBIAN_FRONTEND=noninteractive; " + apt + " update; " + strings.Join(append([]string{apt}, InstallArgv(pkgs)[1:]...), " ")
	var cmd *exec.Cmd
	if o.Euid() == 0 {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", script)
	} else {
		pk := o.Pkexec
		if pk == "" {
			pk = "pkexec"
		}
		cmd = exec.CommandContext(ctx, pk, "/bin/sh", "-c", script)
	}
	tail := &pkexec.Tail{Max: 4096}
	out := &lockedWriter{w: o.Out}
	cmd.Stdout = out
	cmd.Stderr = io.MultiWriter(out, tail)
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if o.Euid() != 0 {
		if aerr := pkexecError(err, tail.String(), pkgs); aerr != nil {
			return aerr
		}
	}
	return fmt.Errorf("installing %s: %w", strings.Join(pkgs, " "), err)
}

// pkexecError classifies pkexec's exit (see pkexec.Classify).
func pkexecError(err error, stderr string, pkgs []string) error {
	switch pkexec.Classify(err, stderr) {
	case pkexec.NoAgent:
		return &NeedsSudoError{Command: InstallCommand(pkgs)}
	case pkexec.NotAuthorized:
		return ErrNotAuthorized
	}
	return nil
}

func validPackageName(p string) bool {
	if len(p) < 2 || len(p) > 128 {
		return false
	}
	for i, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (i > 0 && strings.ContainsRune("+-.", r))
		if !ok {
			return false
		}
	}
	return true
}

// lockedWriter serializes writes from the stdout and stderr copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write implements io.Writer.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
