package helper

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash"
)

// fakePkexec writes a stand-in for pkexec that prints msg on stderr and
// exits with code, as pkexec does when it cannot authorize.
func fakePkexec(t *testing.T, msg string, code string) *exec.Cmd {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pkexec")
	script := "#!/bin/sh\necho '" + msg + "' >&2\nexit " + code + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return exec.Command(p, "/usr/bin/pistudio", "helper")
}

// Without a polkit agent, a request fails with a NoAgentError that
// carries the sudo command doing the same thing.
func TestNoAgentGivesSudoCommand(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		code     string
		noAgent  bool
		notAuth  bool
		disksCmd string
	}{
		{"no agent", "Error executing command as another user: No authentication agent found.", "127", true, false, "sudo /usr/bin/pistudio disks"},
		{"dismissed", "Error executing command as another user: Request dismissed", "126", false, true, ""},
		{"helper crashed", "panic: boom", "2", false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := StartCommand(context.Background(), fakePkexec(t, tc.msg, tc.code))
			if err != nil {
				t.Fatal(err)
			}
			c.self = "/usr/bin/pistudio"
			defer c.Close()
			_, err = c.Disks(context.Background())
			if got := errors.Is(err, ErrNoAgent); got != tc.noAgent {
				t.Errorf("Disks error %v: ErrNoAgent %v, want %v", err, got, tc.noAgent)
			}
			if got := errors.Is(err, ErrNotAuthorized); got != tc.notAuth {
				t.Errorf("Disks error %v: ErrNotAuthorized %v, want %v", err, got, tc.notAuth)
			}
			cmd, ok := SudoCommand(err)
			if cmd != tc.disksCmd || ok != (tc.disksCmd != "") {
				t.Errorf("SudoCommand = %q, %v; want %q", cmd, ok, tc.disksCmd)
			}
			if tc.noAgent {
				_, err = c.Flash(context.Background(), "/home/u/my image.img", flash.Target{Path: "/dev/sdb"}, flash.Options{})
				if cmd, _ := SudoCommand(err); cmd != "sudo /usr/bin/pistudio flash '/home/u/my image.img' /dev/sdb" {
					t.Errorf("flash sudo command %q", cmd)
				}
				if !strings.Contains(err.Error(), "no polkit authentication agent") {
					t.Errorf("message: %v", err)
				}
			}
		})
	}
}
