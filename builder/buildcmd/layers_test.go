package buildcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/internal/cli"
)

// run calls a registered command the way cli.Main does.
func run(t *testing.T, getenv map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return getenv[k] }}
	code = cli.Main(context.Background(), env, Commands(), args)
	return out.String(), errb.String(), code
}

var noTool = map[string]string{"PATH": "/nonexistent", "HOME": "/nonexistent"}

func TestLayersCommand(t *testing.T) {
	tree := filepath.Join("..", "testdata", "tree")
	out, errs, code := run(t, noTool, "layers", "--rpi-image-gen", tree, "-S", filepath.Join("..", "testdata", "src"))
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "testdev") || !strings.Contains(out, "raid") {
		t.Errorf("output:\n%s", out)
	}
	if !strings.Contains(out, "9.9.9") {
		t.Error("the -S layer must shadow the tool's")
	}

	out, errs, code = run(t, map[string]string{"PISTUDIO_RPI_IMAGE_GEN": tree}, "layers", "--json")
	if code != 0 {
		t.Fatalf("json: exit %d, %s", code, errs)
	}
	var layers []layerJSON
	if err := json.Unmarshal([]byte(out), &layers); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range layers {
		if l.Name == "testimg" {
			found = true
			if l.Category != "image" || l.Description != "Test image layout." || len(l.Variables) != 4 || l.Variables[0].Env != "IGconf_image_rootfs_type" ||
				l.Variables[0].Kind != "enum" || strings.Join(l.Variables[0].Choices, ",") != "ext4,btrfs" {
				t.Errorf("testimg = %+v", l)
			}
		}
	}
	if !found {
		t.Error("testimg missing from JSON")
	}

	// No tool anywhere: still lists the embedded layers, warns on stderr.
	out, errs, code = run(t, noTool, "layers")
	if code != 0 || !strings.Contains(out, "raid") || strings.Contains(out, "testdev") {
		t.Errorf("no tool: exit %d\n%s", code, out)
	}
	if lines := strings.Split(strings.TrimSpace(errs), "\n"); len(lines) != 1 || !strings.Contains(errs, "warning") {
		t.Errorf("want one warning line, got %q", errs)
	}

	_, errs, code = run(t, noTool, "layers", "extra")
	if code != 2 {
		t.Errorf("extra arg: exit %d (%s)", code, errs)
	}
	_, _, code = run(t, noTool, "layers", "--rpi-image-gen", "/nonexistent")
	if code != 2 {
		t.Errorf("bad --rpi-image-gen: exit %d", code)
	}
}
