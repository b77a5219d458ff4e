package helper

import (
	"errors"
	"strings"

	"github.com/pistudio/pistudio/internal/pkexec"
)

// ErrNoAgent is matched by errors.Is for every NoAgentError.
var ErrNoAgent = errors.New("no polkit authentication agent is running")

// ErrNotAuthorized means pkexec ran but the user was not authorized (the
// password dialog was dismissed or the password was wrong).
var ErrNotAuthorized = errors.New("not authorized to write disks")

// NoAgentError is returned when pkexec could not ask for the password
// because no polkit authentication agent runs in this session (i3, sway
// or a bare X session start none). Command is what to run instead.
type NoAgentError struct {
	// Command is the exact command line that does the same as root,
	// e.g. "sudo /usr/bin/pistudio flash 'img' /dev/sdb".
	Command string
	// Stderr is what pkexec printed.
	Stderr string
}

// Error says why and what to run instead.
func (e *NoAgentError) Error() string {
	s := "writing disks needs the administrator password, but no polkit authentication agent is running in this session (i3, sway and bare X sessions start none), so pkexec cannot ask for it"
	if e.Command != "" {
		s += "; run this in a terminal instead: " + e.Command
	}
	return s
}

// Is makes errors.Is(err, ErrNoAgent) and errors.Is(err, ErrHelperExited) true.
func (e *NoAgentError) Is(target error) bool {
	return target == ErrNoAgent || target == ErrHelperExited
}

// authError classifies the helper's exit through pkexec (see
// pkexec.Classify); other exits are not authorization errors (nil).
func authError(waitErr error, stderr string) error {
	switch pkexec.Classify(waitErr, stderr) {
	case pkexec.NoAgent:
		return &NoAgentError{Stderr: strings.TrimSpace(stderr)}
	case pkexec.NotAuthorized:
		return ErrNotAuthorized
	}
	return nil
}

// withSudo fills a NoAgentError's command with `sudo <this program> args`.
func (c *Client) withSudo(err error, args ...string) error {
	var na *NoAgentError
	if !errors.As(err, &na) {
		return err
	}
	self := c.self
	if self == "" {
		self = "pistudio"
	}
	out := *na
	out.Command = pkexec.SudoCommand(append([]string{self}, args...)...)
	return &out
}

// SudoCommand returns the sudo command line of err when it is (or wraps)
// a NoAgentError, for the GUI to show.
func SudoCommand(err error) (string, bool) {
	var na *NoAgentError
	if errors.As(err, &na) && na.Command != "" {
		return na.Command, true
	}
	return "", false
}
