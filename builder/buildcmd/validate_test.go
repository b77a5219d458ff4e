package buildcmd

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	tree := filepath.Join("..", "testdata", "tree")
	cfgs := filepath.Join("..", "testdata", "configs")

	out, errs, code := run(t, noTool, "validate", "-c", filepath.Join(cfgs, "valid.yaml"), "--rpi-image-gen", tree)
	if code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("valid: exit %d\n%s%s", code, out, errs)
	}

	out, _, code = run(t, map[string]string{"PISTUDIO_RPI_IMAGE_GEN": tree}, "validate", "-c", filepath.Join(cfgs, "invalid.yaml"))
	if code != 1 {
		t.Errorf("invalid: exit %d", code)
	}
	want := filepath.Join(cfgs, "invalid.yaml") + ":7: image.rootfs_type (IGconf_image_rootfs_type): 'xfs' is not one of ext4, btrfs (layer testimg)\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if n := strings.Count(out, "\n"); n != 14 {
		t.Errorf("%d problem lines, want 14:\n%s", n, out)
	}

	// Overrides after -- are checked as a build would apply them.
	valid := []string{"validate", "-c", filepath.Join(cfgs, "valid.yaml"), "--rpi-image-gen", tree, "--"}
	out, errs, code = run(t, noTool, append(valid, "IGconf_image_rootfs_type=xfs")...)
	if code != 1 || !strings.Contains(out, "'xfs' is not one of ext4, btrfs") || strings.Count(out, "\n") != 1 {
		t.Errorf("override xfs: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = run(t, noTool, append(valid, "IGconf_image_rootfs_type=ext4")...)
	if code != 0 || !strings.Contains(out, "valid") {
		t.Errorf("override ext4: exit %d\n%s%s", code, out, errs)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"bad override", append(append([]string(nil), valid...), "rootfs_type")},
		{"no -c", []string{"validate", "--rpi-image-gen", tree}},
		{"missing file", []string{"validate", "-c", filepath.Join(cfgs, "nope.yaml"), "--rpi-image-gen", tree}},
		{"no tool", []string{"validate", "-c", filepath.Join(cfgs, "valid.yaml")}},
		{"bad flag", []string{"validate", "--bogus"}},
	} {
		_, errs, code := run(t, noTool, tc.args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2 (%s)", tc.name, code, errs)
		}
		if errs == "" {
			t.Errorf("%s: no message on stderr", tc.name)
		}
	}
}
