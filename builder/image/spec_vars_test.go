package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/internal/manifest"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Values from include: files and -- overrides reach the native stage.
func TestSpecFromVarsIncludesAndOverrides(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"base.yaml": "image:\n  layer: raid\n  name: fromBase\nraid:\n  devices: 3\n  external_size: 2G\n",
		"top.yaml":  "include:\n  file: base.yaml\ndevice:\n  hostname: h\n",
	})
	cfg, err := config.LoadConfig(filepath.Join(dir, "top.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := SpecFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Layout != manifest.LayoutRAID || spec.Name != "fromBase" || spec.Devices != 3 || spec.ExternalSize != 2<<30 {
		t.Fatalf("spec from includes = %+v", spec)
	}
	vars, err := cfg.MergedVars([]string{"IGconf_raid_devices=4", "IGconf_image_name=over"})
	if err != nil {
		t.Fatal(err)
	}
	spec, err = SpecFromVars(vars, cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Devices != 4 || spec.Name != "over" {
		t.Fatalf("overrides not applied: %+v", spec)
	}
	vars, _ = cfg.MergedVars([]string{"IGconf_raid_devices=9"})
	_, err = SpecFromVars(vars, cfg.Path)
	if err == nil || err.Error() != "command line: raid.devices (IGconf_raid_devices): 9: want 2-8" {
		t.Fatalf("err = %v", err)
	}
}

// Native-stage errors name file:line, key and variable.
func TestSpecErrorsNameFileAndKey(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"image:\n  layer: raid\n  name: r\nraid:\n  level: RAID1\n  sdcard_size: 200M\n  devices: 9\n",
			"raid.yaml:7: raid.devices (IGconf_raid_devices): 9: want 2-8"},
		{"image:\n  layer: raid\n  name: r\nraid:\n  external_size: 50%\n",
			`raid.yaml:5: raid.external_size (IGconf_raid_external_size): "50%": a percentage is not allowed here`},
		{"image:\n  layer: image-rpios\n  name: r\n  root_part_size: 0\n",
			`raid.yaml:4: image.root_part_size (IGconf_image_root_part_size): "0": a size of 0 is not allowed`},
		{"image:\n  layer: raid\n  name: r\nraid:\n  external_size: 4294967297s\n",
			"raid.yaml:5: raid.external_size (IGconf_raid_external_size): external disk image is "},
		{"image:\n  layer: image-rpios\n  name: r\n  boot_part_size: 3000G\n",
			"raid.yaml:4: image.boot_part_size (IGconf_image_boot_part_size): boot partition is 3000G, more than the 2048G"},
		{"image:\n  layer: raid\n  name: r\n  rootfs_type: xfs\n",
			`raid.yaml:4: image.rootfs_type (IGconf_image_rootfs_type): "xfs": the native image stage writes ext4 only`},
	}
	for _, c := range cases {
		cfg, err := config.ParseConfig("raid.yaml", []byte(c.yaml))
		if err != nil {
			t.Fatal(err)
		}
		_, err = SpecFromConfig(cfg)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q:\n err = %v\nwant %s", c.yaml, err, c.want)
		}
	}
}

// Sizes beyond the MBR limit are refused before anything is written,
// naming the key; a percentage of huge content cannot overflow.
func TestSizeBeyondMBRRefusedEarly(t *testing.T) {
	fsDir := makeRootfs(t, "")
	out := filepath.Join(t.TempDir(), "out")
	for _, spec := range []Spec{
		{Layout: manifest.LayoutRAID, Name: "x", Level: "RAID1", Devices: 2, SDCardSize: 200 << 20, ExternalSize: MaxDiskBytes + 4096},
		{Layout: manifest.LayoutRPiOS, Name: "x", RootPartSize: MaxDiskBytes},
	} {
		_, err := Build(context.Background(), spec, fsDir, out, nil)
		var se *SizeError
		if !errors.As(err, &se) || !errors.Is(err, ErrTooLarge) || se.Setting == "" {
			t.Fatalf("err = %v, want a too-large SizeError", err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatal("out dir written")
		}
	}
	s := Spec{Layout: manifest.LayoutRPiOS}
	_, err := s.sizeFor("root filesystem", "image.root_part_size", 0, 1<<30, 1<<40, 0)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "image.root_part_size") {
		t.Fatalf("overflowing percentage: %v", err)
	}
	if n, err := s.sizeFor("root", "k", 0, 200, 100<<20, 0); err != nil || n != 200<<20 {
		t.Fatalf("200%% of 100M = %d, %v", n, err)
	}
}

// The raid defaults come from the raid layer's own header.
func TestRaidDefaultsFromLayer(t *testing.T) {
	l, err := RaidLayer()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.ParseConfig("c.yaml", []byte("image: {layer: raid, name: r}\n"))
	spec, err := SpecFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for key, got := range map[string]string{"level": spec.Level} {
		if v, _ := l.Var(key); v == nil || v.Default != got {
			t.Errorf("%s: spec %q, layer %+v", key, got, v)
		}
	}
	for _, key := range []string{"devices", "sdcard_size", "external_size"} {
		o := spec.Origins["raid."+key]
		v, _ := l.Var(key)
		if v == nil || !o.Default || o.Value != v.Default {
			t.Errorf("%s: origin %+v, layer %+v", key, o, v)
		}
	}
}
