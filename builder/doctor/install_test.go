package doctor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func script(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstall(t *testing.T) {
	log := filepath.Join(t.TempDir(), "apt.log")
	apt := script(t, "apt-get", `echo "$DEBIAN_FRONTEND $*" >> `+log+"\n")
	passPkexec := script(t, "pkexec", `exec "$@"`+"\n")
	noAgent := script(t, "pkexec", "echo 'Error executing command as another user: No authentication agent found.' >&2; exit 127\n")
	dismissed := script(t, "pkexec", "echo 'Error executing command as another user: Request dismissed' >&2; exit 126\n")
	tests := []struct {
		name    string
		euid    int
		pkexec  string
		wantErr error
		ran     bool
	}{
		{"root runs apt-get", 0, noAgent, nil, true},
		{"user through pkexec", 1000, passPkexec, nil, true},
		{"no agent", 1000, noAgent, ErrNoAgent, false},
		{"dismissed", 1000, dismissed, ErrNotAuthorized, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(log)
			var out bytes.Buffer
			err := Install(context.Background(), []string{"qemu-user-static", "binfmt-support"}, InstallOptions{
				Out: &out, Euid: func() int { return tc.euid }, Pkexec: tc.pkexec, AptGet: apt,
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			b, _ := os.ReadFile(log)
			if ran := len(b) > 0; ran != tc.ran {
				t.Fatalf("apt-get ran = %v:\n%s", ran, b)
			}
			if tc.ran && string(b) != "noninteractive update\nnoninteractive install -y --no-install-recommends qemu-user-static binfmt-support\n" {
				t.Errorf("apt-get calls:\n%s", b)
			}
			var ns *NeedsSudoError
			if errors.As(err, &ns) && !strings.Contains(ns.Command, "sudo apt-get") {
				t.Errorf("sudo command %q", ns.Command)
			}
		})
	}
	if err := Install(context.Background(), []string{"x; rm -rf /"}, InstallOptions{AptGet: apt}); err == nil {
		t.Error("a bad package name was accepted")
	}
}
