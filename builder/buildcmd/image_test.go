package buildcmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder"
	"github.com/pistudio/pistudio/builder/cli"
	"github.com/pistudio/pistudio/builder/image"
)

func TestImageSpec(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       image.Spec
		err        string
	}{
		{"raid defaults", "device: {hostname: h}\nimage: {layer: raid, name: r}\n",
			image.Spec{Layout: "raid", Name: "r", Hostname: "h", RootfsType: "ext4", Level: "RAID1", Devices: 2, SDCardSize: 200 << 20, ExternalSize: 1 << 30}, ""},
		{"raid set", "image: {layer: raid, name: r}\nraid: {level: RAID0, devices: 3, sdcard_size: 100M, external_size: 2G}\n",
			image.Spec{Layout: "raid", Name: "r", RootfsType: "ext4", Level: "RAID0", Devices: 3, SDCardSize: 100 << 20, ExternalSize: 2 << 30}, ""},
		{"rpios", "image: {layer: image-rpios, name: n, boot_part_size: 200%, root_part_size: 1G}\n",
			image.Spec{Layout: "image-rpios", Name: "n", RootfsType: "ext4", BootPartPct: 200, RootPartSize: 1 << 30}, ""},
		{"other layer", "image: {layer: image-rota, name: n}\n", image.Spec{}, "raid and image-rpios only"},
		{"variable", "image: {layer: raid, name: '${X}'}\n", image.Spec{}, "literal"},
		{"bad size", "image: {layer: raid, name: r}\nraid: {external_size: 1X}\n", image.Spec{}, "invalid size"},
		{"pct not allowed", "image: {layer: raid, name: r}\nraid: {sdcard_size: 50%}\n", image.Spec{}, "percentage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := builder.ParseConfig("c.yaml", []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := imageSpec(cfg)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Layout != c.want.Layout || got.Name != c.want.Name || got.Hostname != c.want.Hostname || got.Level != c.want.Level ||
				got.Devices != c.want.Devices || got.SDCardSize != c.want.SDCardSize || got.ExternalSize != c.want.ExternalSize ||
				got.BootPartPct != c.want.BootPartPct || got.RootPartSize != c.want.RootPartSize || got.RootfsType != c.want.RootfsType {
				t.Fatalf("spec = %+v, want %+v", got, c.want)
			}
		})
	}
}

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
	m, err := image.ReadManifest(filepath.Join(work, "image-r"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Roles["external2"] != "external2.img" || !strings.Contains(stdout.String(), m.ArrayUUID) {
		t.Errorf("manifest roles %v, output:\n%s", m.Roles, stdout.String())
	}
	err = runImage(context.Background(), env, []string{"-c", cfg, "--fs", fsDir, "--engine", "genimage"})
	if cli.ExitCode(err) != 1 || !strings.Contains(err.Error(), "genimage cannot build the raid layout") {
		t.Errorf("genimage engine: %v", err)
	}
	if err := runImage(context.Background(), env, []string{"-c", cfg}); cli.ExitCode(err) != 2 {
		t.Errorf("missing --fs: %v", err)
	}
}
