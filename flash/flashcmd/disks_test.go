package flashcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/internal/cli"
)

func runDisksCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	err := runDisks(context.Background(), env, args)
	return out.String(), err
}

func TestDisksJSONFields(t *testing.T) {
	tr := disktest.Sample(t)
	out, err := runDisksCmd(t, "--json", "--all", "--root="+tr.Root)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) < 10 {
		t.Fatalf("only %d disks", len(list))
	}
	for _, k := range []string{"path", "size_bytes", "model", "bus", "removable", "eligible", "reason", "partitions", "needs_typed_confirm"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("JSON object lacks %q: %v", k, list[0])
		}
	}
	eligible := 0
	for _, d := range list {
		if d["eligible"] == true {
			eligible++
		}
	}
	out, err = runDisksCmd(t, "--json", "--root", tr.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != eligible {
		t.Errorf("default lists %d disks (%v), want the %d eligible ones", len(list), err, eligible)
	}
}

func TestDisksRegistered(t *testing.T) {
	for _, c := range Commands() {
		if c.Name == "disks" {
			return
		}
	}
	t.Error("disks is not registered")
}

func TestDisksEmptyAndErrors(t *testing.T) {
	tr := disktest.New(t)
	out, err := runDisksCmd(t, "--root", tr.Root)
	if err != nil || !strings.Contains(out, "No disk to write to") {
		t.Errorf("empty tree: %q %v", out, err)
	}
	out, err = runDisksCmd(t, "--json", "--root", tr.Root)
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("empty tree JSON: %q %v", out, err)
	}
	var ue *cli.UsageError
	for _, args := range [][]string{{"--bogus"}, {"extra"}, {"--root"}} {
		if _, err := runDisksCmd(t, args...); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if _, err := runDisksCmd(t, "--root", t.TempDir()); err == nil || cli.ExitCode(err) != 1 {
		t.Errorf("missing sysfs: %v", err)
	}
	out, err = runDisksCmd(t, "--help")
	if !errors.Is(err, cli.ErrHelp) || strings.Contains(out, "root") {
		t.Errorf("help: %q %v (must not show --root)", out, err)
	}
}
