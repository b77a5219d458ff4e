package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebugfsNames: files under boot/firmware whose names hold quotes,
// spaces, backslashes or a leading '#' are removed from the ext4 image as
// named (no command injected: /etc/hostname survives a name built to
// remove it); a name with a line break is refused, naming the file.
func TestDebugfsNames(t *testing.T) {
	needTools(t, "mke2fs", "debugfs")
	for _, tc := range []struct {
		name    string
		files   []string
		refused string
	}{
		{"quotes and friends", []string{`a"b`, `q""q`, `"lead`, `trail"`, `x" "hostname`, "sp ace", `back\slash`, "#hash", "tab\tx", "single'q"}, ""},
		{"newline", []string{"ok.txt", "new\nline"}, "boot/firmware/new\nline"},
		{"carriage return", []string{"cr\rx"}, "boot/firmware/cr\rx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := t.TempDir()
			fw := filepath.Join(src, "boot", "firmware")
			if err := os.MkdirAll(filepath.Join(src, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(src, "etc", "hostname"), []byte("pi\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(fw, `sub"dir`), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(fw, f), []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			img := filepath.Join(t.TempDir(), "root.ext4")
			err := makeExt4(context.Background(), img, 8<<20, "rootfs", "8d1b7f4e-5d2c-4c1e-9a53-4b1f2e3d4c5b", src, nil, []string{"boot/firmware"})
			if tc.refused != "" {
				var ue *UnsafeNameError
				if !errors.As(err, &ue) || !strings.HasSuffix(ue.Path, tc.refused) {
					t.Fatalf("makeExt4 = %v, want an UnsafeNameError naming %q", err, tc.refused)
				}
				if _, err := os.Stat(img); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left behind: %v", img, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("makeExt4: %v", err)
			}
			if ls := run(t, "debugfs", "-R", "ls -p /boot/firmware", img); strings.Count(ls, "\n/") != 2 {
				t.Errorf("/boot/firmware not emptied:\n%s", ls)
			}
			if got := debugfsCat(t, img, "/etc/hostname"); got != "pi\n" {
				t.Errorf("/etc/hostname = %q, want it untouched", got)
			}
		})
	}
}
