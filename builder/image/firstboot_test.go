package image

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/internal/imager"
	"github.com/pistudio/pistudio/internal/manifest"
)

func TestFirstbootOf(t *testing.T) {
	tests := []struct {
		vars map[string]config.VarValue
		want string
	}{
		{map[string]config.VarValue{"IGconf_layer_base": {Value: "bookworm-minbase"}}, "none"},
		{map[string]config.VarValue{"IGconf_layer_base": {Value: "bookworm-minbase"}, "IGconf_layer_firstboot": {Value: "firstboot-cloudinit"}}, "cloudinit"},
		{map[string]config.VarValue{"IGconf_layer_x": {Value: "firstboot-rpi-preseed"}}, "rpi-preseed"},
		{map[string]config.VarValue{"IGconf_image_layer": {Value: "firstboot-cloudinit"}}, "none"},
	}
	for _, tt := range tests {
		if got := FirstbootOf(tt.vars); got != tt.want {
			t.Errorf("FirstbootOf(%v) = %s, want %s", tt.vars, got, tt.want)
		}
	}
}

func TestWriteImagerManifest(t *testing.T) {
	dir := t.TempDir()
	m := &manifest.Manifest{Layout: manifest.LayoutRPiOS, Name: "pi", Firstboot: "cloudinit", Roles: map[string]string{"sd": "pi.img"},
		Artifacts: []manifest.Artifact{{File: "pi.img", Kind: manifest.KindDisk, Size: 1234, SHA256: "ab"}}}
	if err := writeImagerManifest(dir, "/out/set", m, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "pi"+imager.Ext))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := imager.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	e := got.OSList[0]
	if len(got.OSList) != 1 || e.URL != "file:///out/set/pi.img" || e.InitFormat != "cloudinit" || e.ExtractSize != 1234 ||
		e.ExtractSHA256 != "ab" || e.ReleaseDate != "2026-12-07" {
		t.Errorf("manifest %+v", got)
	}
}
