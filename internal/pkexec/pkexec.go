// Package pkexec reads how a run through pkexec failed, and writes the sudo
// command line to offer instead. Both privileged paths use it: the disk
// helper (flash/helper) and the package installer (builder/doctor).
package pkexec

import (
	"errors"
	"os/exec"
	"strings"
	"sync"
)

// Failure is why pkexec did not run its program.
type Failure int

// The failures Classify tells apart.
const (
	// NotPkexec: the exit is not pkexec's own (the program ran, or the
	// error is not an exit status).
	NotPkexec Failure = iota
	// NoAgent: no polkit authentication agent runs in the session (i3,
	// sway, a bare X session), so no password could be asked for.
	NoAgent
	// NotAuthorized: the password dialog was dismissed or the password
	// was wrong.
	NotAuthorized
)

// Classify reads pkexec's exit: 127 with "No authentication agent" on
// stderr means NoAgent; 126 or 127 with "Not authorized", "dismissed" or
// "Error executing command as another user" means NotAuthorized.
func Classify(waitErr error, stderr string) Failure {
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) || (ee.ExitCode() != 126 && ee.ExitCode() != 127) {
		return NotPkexec
	}
	if strings.Contains(strings.ToLower(stderr), "no authentication agent") {
		return NoAgent
	}
	if strings.Contains(stderr, "Not authorized") || strings.Contains(stderr, "dismissed") ||
		strings.Contains(stderr, "Error executing command as another user") {
		return NotAuthorized
	}
	return NotPkexec
}

// SudoCommand is the command line that runs args as root in a terminal,
// each argument quoted for a POSIX shell where it needs it.
func SudoCommand(args ...string) string {
	parts := []string{"sudo"}
	for _, a := range args {
		parts = append(parts, Quote(a))
	}
	return strings.Join(parts, " ")
}

// Quote quotes s for a POSIX shell when it needs it.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:+,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Tail is an io.Writer that keeps the last Max bytes written to it (a
// program's stderr, to classify its exit). It is safe for concurrent use.
type Tail struct {
	// Max is how many bytes are kept.
	Max int
	mu  sync.Mutex
	b   []byte
}

// Write implements io.Writer.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.Max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.Max:]...)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *Tail) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
