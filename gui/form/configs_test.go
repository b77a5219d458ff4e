package form

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/layers"
)

func TestRaidLayerVarsFromEmbeddedCatalog(t *testing.T) {
	t.Setenv("PISTUDIO_RPI_IMAGE_GEN", "")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	cat, err := Configs{}.Catalog("")
	if err != nil {
		t.Fatal(err)
	}
	l, ok := cat.Lookup("raid")
	if !ok {
		t.Fatal("raid layer missing")
	}
	if l.Category != CategoryImage {
		t.Errorf("category %q", l.Category)
	}
	vars := map[string]Var{}
	for _, v := range l.Vars {
		vars[v.Key] = v
	}
	tests := []struct {
		key  string
		kind VarKind
		good string
		bad  string
	}{
		{"raid.level", KindEnum, "RAID0", "RAID5"},
		{"raid.devices", KindInt, "4", "12"},
		{"raid.sdcard_size", -1, "200M", "lots"}, // size, or a regex of sizes
	}
	for _, tt := range tests {
		v, ok := vars[tt.key]
		if !ok {
			t.Errorf("%s missing", tt.key)
			continue
		}
		if (tt.kind >= 0 && v.Kind != tt.kind) || v.Desc == "" || v.Check == nil {
			t.Errorf("%s: kind %v desc %q check %v", tt.key, v.Kind, v.Desc, v.Check != nil)
			continue
		}
		if err := v.Check(tt.good); err != nil {
			t.Errorf("%s rejects %q: %v", tt.key, tt.good, err)
		}
		if err := v.Check(tt.bad); err == nil {
			t.Errorf("%s accepts %q", tt.key, tt.bad)
		}
	}
	if got := vars["raid.level"].Choices; strings.Join(got, ",") != "RAID0,RAID1" {
		t.Errorf("choices %v", got)
	}
}

func TestConfigEditKeepsComments(t *testing.T) {
	b, err := assets.Config("raid-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := Configs{}
	d, err := c.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get("raid.level"); v != "RAID1" {
		t.Fatalf("raid.level = %q", v)
	}
	if err := d.Set("raid.devices", "3"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.yaml")
	text := d.Bytes()
	if err := c.Save(out, text); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(b), "devices: 2 ", "devices: 3 ", 1)
	if string(got) != want {
		t.Errorf("saved:\n%s\nwant:\n%s", got, want)
	}
	if _, err := c.New(); err != nil {
		t.Fatal(err)
	}
}

// A problem located in a layer's header keeps no config line: the form's
// Line is a line of the config. The message says where it is.
func TestFormProblemInLayer(t *testing.T) {
	p := formProblem(layers.Problem{File: "/t/image/mbr/simple_dual/image.yaml", Line: 18, InLayer: true, Key: "linux.page_size",
		Var: "IGconf_linux_page_size", Layer: "image-rpios", Msg: "referenced by IGconf_fs_ext4_mkfs_args"})
	if p.Line != 0 || p.Key != "linux.page_size" || p.Msg != "referenced by IGconf_fs_ext4_mkfs_args (layer image-rpios, /t/image/mbr/simple_dual/image.yaml line 18)" {
		t.Errorf("in layer: %+v", p)
	}
	p = formProblem(layers.Problem{File: "c.yaml", Line: 7, Key: "image.rootfs_type", Layer: "testimg", Msg: "'xfs' is not one of ext4, btrfs"})
	if p.Line != 7 || p.Msg != "'xfs' is not one of ext4, btrfs (layer testimg)" {
		t.Errorf("in config: %+v", p)
	}
}
