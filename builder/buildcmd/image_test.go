package buildcmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/manifest"
)

func TestImageCommand(t *testing.T) {
	for _, tool := range []string{"mke2fs", "debugfs", "mkfs.vfat", "mcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	fsDir := filepath.Join(dir, "fs")
	for p, s := range map[string]string{"boot/firmware/cmdline.txt": "console=tty1 root=x\n", "etc/hostname": "h\n"} {
		os.MkdirAll(filepath.Join(fsDir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(fsDir, p), []byte(s), 0o644)
	}
	cfg := filepath.Join(dir, "raid.yaml")
	os.WriteFile(cfg, []byte("device: {hostname: h}\nimage: {layer: raid, name: r}\nraid: {sdcard_size: 80M, external_size: 48M}\n"), 0o644)
	var stdout, stderr bytes.Buffer
	env := &cli.Env{Stdout: &stdout, Stderr: &stderr}
	work := filepath.Join(dir, "work")
	if err := runImage(context.Background(), env, []string{"-c", cfg, "--fs", fsDir, "-B", work}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	m, err := manifest.Read(filepath.Join(work, "image-r"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Roles["external2"] != "external2.img" || !strings.Contains(stdout.String(), m.ArrayUUID) {
		t.Errorf("manifest roles %v, output:\n%s", m.Roles, stdout.String())
	}
	// A second run replaces the earlier image set.
	if err := runImage(context.Background(), env, []string{"-c", cfg, "--fs", fsDir, "-B", work}); err != nil {
		t.Fatalf("rebuild over the earlier set: %v", err)
	}
	// -o naming a dir with other files is refused and the files are kept.
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	os.WriteFile(filepath.Join(home, "notes.txt"), []byte("mine"), 0o644)
	err = runImage(context.Background(), env, []string{"-c", cfg, "--fs", fsDir, "-o", home})
	if err == nil || !strings.Contains(err.Error(), "is not empty and does not hold an earlier image set; choose another -o") {
		t.Errorf("-o over user files: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "notes.txt")); string(b) != "mine" {
		t.Error("user file lost")
	}
	err = runImage(context.Background(), env, []string{"-c", cfg, "--fs", fsDir, "--engine", "genimage"})
	if cli.ExitCode(err) != 1 || !strings.Contains(err.Error(), "genimage cannot build the raid layout") {
		t.Errorf("genimage engine: %v", err)
	}
	if err := runImage(context.Background(), env, []string{"-c", cfg}); cli.ExitCode(err) != 2 {
		t.Errorf("missing --fs: %v", err)
	}
}
