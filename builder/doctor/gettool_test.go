package doctor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGit writes a git stand-in that prints clone progress and then
// creates the target (ok) or fails after creating part of it.
func fakeGit(t *testing.T, ok bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "git")
	status := "0"
	if !ok {
		status = "128"
	}
	script := `#!/bin/sh
for a; do dir=$a; done
echo "$@" > "$(dirname "$0")/args"
printf 'Cloning into %s...\n' "$dir" >&2
printf 'Receiving objects:  10%% (1/10)\rReceiving objects: 100%% (10/10), done.\n' >&2
printf 'Resolving deltas: 100%% (2/2), done.\n' >&2
mkdir -p "$dir" && touch "$dir/rpi-image-gen"
[ ` + status + ` = 0 ] || { echo "fatal: unable to access: Could not resolve host: github.com" >&2; exit ` + status + `; }
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGetTool(t *testing.T) {
	git := fakeGit(t, true)
	dir := filepath.Join(t.TempDir(), "home", "rpi-image-gen")
	var seen []CloneProgress
	if err := GetTool(context.Background(), dir, git, func(p CloneProgress) { seen = append(seen, p) }); err != nil {
		t.Fatal(err)
	}
	args, _ := os.ReadFile(filepath.Join(filepath.Dir(git), "args"))
	if !strings.Contains(string(args), "--branch "+UpstreamRelease) || !strings.Contains(string(args), UpstreamURL+" "+dir) {
		t.Errorf("git args: %s", args)
	}
	var percents []int
	for _, p := range seen {
		if p.Phase == "Receiving objects" {
			percents = append(percents, p.Percent)
		}
	}
	if len(percents) != 2 || percents[0] != 10 || percents[1] != 100 {
		t.Errorf("progress = %+v", seen)
	}
	// a second clone into the same, now non-empty, folder is refused
	if err := GetTool(context.Background(), dir, git, nil); !errors.Is(err, ErrToolDirExists) {
		t.Errorf("clone over a tree: %v", err)
	}
}

func TestGetToolFailureLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rpi-image-gen")
	err := GetTool(context.Background(), dir, fakeGit(t, false), nil)
	if err == nil || !strings.Contains(err.Error(), "Could not resolve host") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial clone left behind: %v", err)
	}
}
