package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func makeTool(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ToolScript), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFindTool(t *testing.T) {
	root := t.TempDir()
	flagDir := makeTool(t, filepath.Join(root, "flag"))
	envDir := makeTool(t, filepath.Join(root, "env"))
	real := makeTool(t, filepath.Join(root, "real"))
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(real, ToolScript), filepath.Join(bin, ToolScript)); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(root, "home")
	homeTool := makeTool(t, filepath.Join(home, "rpi-image-gen"))
	emptyHome := filepath.Join(root, "nohome")

	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cases := []struct {
		name, flag string
		env        map[string]string
		want       string
	}{
		{"flag", flagDir, map[string]string{ToolEnvVar: envDir, "PATH": bin, "HOME": home}, flagDir},
		{"env", "", map[string]string{ToolEnvVar: envDir, "PATH": bin, "HOME": home}, envDir},
		{"path-symlink", "", map[string]string{"PATH": root + ":" + bin, "HOME": home}, real},
		{"home", "", map[string]string{"PATH": root, "HOME": home}, homeTool},
	}
	for _, tc := range cases {
		got, err := FindTool(tc.flag, env(tc.env))
		if err != nil || got != tc.want {
			t.Errorf("%s: FindTool = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	_, err := FindTool("", env(map[string]string{"PATH": root, "HOME": emptyHome}))
	if !errors.Is(err, ErrToolNotFound) {
		t.Fatalf("err = %v, want ErrToolNotFound", err)
	}
	for _, s := range []string{"on $PATH", filepath.Join(emptyHome, "rpi-image-gen"), "git clone https://github.com/raspberrypi/rpi-image-gen", ToolEnvVar} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	// An explicit flag that is wrong is an error even if other places would work.
	if _, err := FindTool(filepath.Join(root, "nope"), env(map[string]string{"HOME": home})); !errors.Is(err, ErrToolNotFound) || !strings.Contains(err.Error(), "--rpi-image-gen") {
		t.Errorf("bad flag: %v", err)
	}
}
