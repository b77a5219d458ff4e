package buildjob

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/image"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/manifest"
)

// image.layer, image.name and artefact.version from an included file and
// -- overrides decide the job, as they decide the build.
func TestNewUsesIncludesAndOverrides(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "base.yaml", "image:\n  layer: raid\n  name: included\nartefact:\n  version: v1\nraid:\n  devices: 3\n")
	top := writeFile(t, dir, "top.yaml", "include:\n  file: base.yaml\ndevice:\n  hostname: h\n")
	o := Options{ToolDir: standIn(t), Getenv: noEnv, WorkDir: filepath.Join(dir, "work")}
	job, err := New(top, runner.StageImage, o)
	if err != nil {
		t.Fatal(err)
	}
	if job.NativeImage == nil || job.ImageName != "included" || job.ArtefactVersion != "v1" {
		t.Fatalf("job = %+v (native %v)", job, job.NativeImage != nil)
	}
	o.Overrides = []string{"IGconf_image_name=over", "IGconf_artefact_version=v2"}
	if job, err = New(top, runner.StageImage, o); err != nil || job.ImageName != "over" || job.ArtefactVersion != "v2" {
		t.Fatalf("with overrides: job %+v, %v", job, err)
	}
	o.Overrides = []string{"IGconf_raid_devices=9"}
	_, err = New(top, runner.StageImage, o)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "raid.devices (IGconf_raid_devices): 9") {
		t.Fatalf("override devices=9: %v", err)
	}
}

func TestNewRejectsBrokenIncludes(t *testing.T) {
	dir := t.TempDir()
	missing := writeFile(t, dir, "missing.yaml", "include:\n  file: nope.yaml\nimage: {layer: image-rpios, name: x}\n")
	writeFile(t, dir, "a.yaml", "include:\n  file: b.yaml\n")
	writeFile(t, dir, "b.yaml", "include:\n  file: a.yaml\n")
	cyclic := filepath.Join(dir, "a.yaml")
	for _, cfg := range []string{missing, cyclic} {
		_, err := New(cfg, runner.StageFilesystem, Options{ToolDir: standIn(t), Getenv: noEnv, WorkDir: filepath.Join(dir, "work")})
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", cfg, err)
		}
	}
	_, err := New(cyclic, runner.StageFilesystem, Options{ToolDir: standIn(t), Getenv: noEnv, WorkDir: filepath.Join(dir, "work")})
	if !errors.Is(err, config.ErrIncludeCycle) {
		t.Errorf("cycle: %v", err)
	}
}

// The native hook never replaces a work-dir image folder it did not write
// (e.g. one of an earlier genimage build) and says how to proceed.
func TestHookKeepsForeignImageDir(t *testing.T) {
	dir := t.TempDir()
	fsDir := filepath.Join(dir, "filesystem")
	if err := os.MkdirAll(filepath.Join(fsDir, "boot", "firmware"), 0o755); err != nil {
		t.Fatal(err)
	}
	imgDir := filepath.Join(dir, "image-x")
	os.MkdirAll(imgDir, 0o755)
	writeFile(t, imgDir, "x.img", "genimage output")
	hook := Hook(image.Spec{Layout: manifest.LayoutRPiOS, Name: "x"}, nil)
	_, err := hook(context.Background(), runner.NativeDirs{Filesystem: fsDir, Image: imgDir}, func(string) {})
	if !errors.Is(err, image.ErrOutDirInUse) || !strings.Contains(err.Error(), "remove "+imgDir) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(imgDir, "x.img")); string(b) != "genimage output" {
		t.Error("foreign image folder touched")
	}
}
