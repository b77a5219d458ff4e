package helper

import (
	"errors"
	"os/exec"
	"strings"
	"sync"
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

// authError classifies the helper's exit: pkexec exits 127 when it
// could not authorize (and says "No authentication agent found" when no
// agent runs) and 126 when the dialog was dismissed. Other exits are not
// authorization errors (nil).
func authError(waitErr error, stderr string) error {
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return nil
	}
	code := ee.ExitCode()
	if code != 126 && code != 127 {
		return nil
	}
	if strings.Contains(stderr, "No authentication agent") || strings.Contains(stderr, "no authentication agent") {
		return &NoAgentError{Stderr: strings.TrimSpace(stderr)}
	}
	if strings.Contains(stderr, "Not authorized") || strings.Contains(stderr, "dismissed") || strings.Contains(stderr, "Error executing command as another user") {
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
	parts := []string{"sudo", shellQuote(self)}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	out.Command = strings.Join(parts, " ")
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

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:+,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

// Write implements io.Writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (t *tailBuffer) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
