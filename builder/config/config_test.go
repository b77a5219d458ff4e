package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/internal/golden"
)

type edit struct {
	op, key, value string // op: set or del
}

func TestConfigRoundTripGolden(t *testing.T) {
	cases := []struct {
		name, in string
		edits    []edit
	}{
		{"raid-set-flow", "raid.yaml", []edit{{"set", "image.rootfs_type", "btrfs"}, {"set", "device.hostname", "raid 2, with comma"}}},
		{"raid-set-commented", "raid.yaml", []edit{{"set", "raid.level", "RAID0"}, {"set", "raid.devices", "4"}}},
		{"raid-add", "raid.yaml", []edit{{"set", "device.user1", "pi"}, {"set", "raid.spare", "1"}, {"set", "sys.apt_proxy", "http://proxy:3142"}}},
		{"raid-delete", "raid.yaml", []edit{{"del", "raid.devices", ""}, {"del", "image.name", ""}, {"del", "device.layer", ""}}},
		{"commented-set", "commented.yaml", []edit{{"set", "device.hostname", "other"}, {"set", "device.user1", "it's"}, {"set", "image.boot_part_size", "true"}, {"set", "layer.1", "new-layer"}}},
		{"commented-add", "commented.yaml", []edit{{"set", "image.rootfs_type", "btrfs"}, {"set", "empty.key", "v"}, {"set", "custom.nested.more", "x: y"}, {"set", "new.deeper.key", "1"}}},
		{"commented-delete", "commented.yaml", []edit{{"del", "device.hostname", ""}, {"del", "image.motd", ""}, {"del", "custom", ""}}},
		{"nonl-add", "nonl.yaml", []edit{{"set", "image.rootfs_type", "ext4"}, {"set", "image.name", ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := filepath.Join("..", "testdata", "configs", tc.in)
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ParseConfig(in, src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Bytes(), src) {
				t.Fatal("unedited config does not round-trip byte for byte")
			}
			for _, e := range tc.edits {
				switch e.op {
				case "set":
					if err := c.Set(e.key, e.value); err != nil {
						t.Fatalf("Set(%s): %v", e.key, err)
					}
					if got, ok := c.Get(e.key); !ok || got != e.value {
						t.Fatalf("Get(%s) = %q, %v after Set %q", e.key, got, ok, e.value)
					}
				case "del":
					if err := c.Delete(e.key); err != nil {
						t.Fatalf("Delete(%s): %v", e.key, err)
					}
					if c.Has(e.key) {
						t.Fatalf("%s still present after Delete", e.key)
					}
				}
			}
			goldenFile := filepath.Join("testdata", tc.name+".golden")
			golden.Check(t, goldenFile, c.Bytes())
			// Untouched lines stay byte-identical: every line of the input that
			// does not mention an edited key survives.
			for _, line := range strings.Split(string(src), "\n") {
				touched := false
				for _, e := range tc.edits {
					parts := strings.Split(e.key, ".")
					if strings.Contains(line, parts[len(parts)-1]) || strings.Contains(line, parts[0]) {
						touched = true
					}
				}
				if !touched && tc.edits[0].op == "set" && !strings.Contains(string(c.Bytes()), line) {
					t.Errorf("untouched line %q lost", line)
				}
			}
		})
	}
}

func TestConfigSaveWritesBytes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	src, err := os.ReadFile("../testdata/configs/raid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, src, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("raid.level", "RAID0"); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, c.Bytes()) {
		t.Error("Save wrote something other than Bytes()")
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", st.Mode().Perm())
	}
	p2 := filepath.Join(dir, "d.yaml")
	if err := c.SaveAs(p2); err != nil || c.Path != p2 {
		t.Fatalf("SaveAs: %v, path %s", err, c.Path)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestConfigAccessors(t *testing.T) {
	c, err := LoadConfig("../testdata/configs/raid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"device.layer": "rpi5", "device.hostname": "raid-device", "image.layer": "raid",
		"raid.level": "RAID1", "raid.devices": "2", "layer.base": "bookworm-minbase",
	} {
		if got, ok := c.Get(key); !ok || got != want {
			t.Errorf("Get(%s) = %q, %v; want %q", key, got, ok, want)
		}
	}
	if _, ok := c.Get("raid"); ok {
		t.Error("Get of a mapping should report !ok")
	}
	if _, ok := c.Get("nope.key"); ok {
		t.Error("Get of a missing key should report !ok")
	}
	if got := c.Line("raid.devices"); got != 7 {
		t.Errorf("Line(raid.devices) = %d, want 7", got)
	}
	if c.DeviceLayer() != "rpi5" || c.ImageLayer() != "raid" {
		t.Errorf("DeviceLayer/ImageLayer = %q/%q", c.DeviceLayer(), c.ImageLayer())
	}
	if got := c.Layers(); len(got) != 1 || got[0] != "bookworm-minbase" {
		t.Errorf("Layers() = %v", got)
	}
	cm, err := LoadConfig("../testdata/configs/commented.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cm.Layers(), ","); got != "trixie-minbase,extra-layer" {
		t.Errorf("list Layers() = %s", got)
	}
	if v, _ := cm.Get("custom.ref"); v != "value" {
		t.Errorf("alias value = %q", v)
	}
	if err := cm.Set("image.motd", "x"); !errors.Is(err, ErrUnsupportedEdit) {
		t.Errorf("editing a block scalar: err = %v, want ErrUnsupportedEdit", err)
	}
	before := cm.Bytes()
	if err := cm.Set("custom.anchor", "x"); err == nil {
		t.Error("editing an anchored value should fail")
	}
	if !bytes.Equal(before, cm.Bytes()) {
		t.Error("a failed edit changed the bytes")
	}
	env, err := ParseConfig("e.yaml", []byte("env:\n  FOO: ${HOME}/x\npackages: [vim, git]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if env.Env()["FOO"] != "${HOME}/x" {
		t.Errorf("Env() = %v (values must stay unexpanded)", env.Env())
	}
	if got := strings.Join(env.Packages(), " "); got != "vim git" {
		t.Errorf("Packages() = %q", got)
	}
}

func TestConfigYAMLError(t *testing.T) {
	_, err := ParseConfig("bad.yaml", []byte("device:\n  layer: rpi5\n bad: [\n"))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "bad.yaml" || pe.Line == 0 {
		t.Fatalf("err = %v, want ParseError naming bad.yaml and a line", err)
	}
	if !strings.HasPrefix(err.Error(), "bad.yaml:") {
		t.Errorf("message %q does not start with the file name", err)
	}
	if _, err := ParseConfig("list.yaml", []byte("- a\n- b\n")); err == nil {
		t.Error("a top-level list must be rejected")
	}
}

func TestConfigIncludes(t *testing.T) {
	c, err := LoadConfig("../testdata/configs/inc-top.yaml")
	if err != nil {
		t.Fatal(err)
	}
	incs, err := c.Includes()
	if err != nil || len(incs) != 1 || incs[0] != filepath.Join("..", "testdata", "configs", "inc-mid.yaml") {
		t.Fatalf("Includes() = %v, %v", incs, err)
	}
	vars, err := c.Vars()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct{ value, file string }{
		"IGconf_device_layer":      {"testdev", "inc-base.yaml"},
		"IGconf_device_hostname":   {"from-base", "inc-base.yaml"},
		"IGconf_image_name":        {"mid-name", "inc-mid.yaml"},
		"IGconf_image_rootfs_type": {"ext4", "inc-top.yaml"},
		"IGconf_extra_k":           {"v", "inc-top.yaml"},
	}
	for name, w := range want {
		v, ok := vars[name]
		if !ok || v.Value != w.value || filepath.Base(v.File) != w.file || v.Line == 0 {
			t.Errorf("%s = %+v, want %q from %s", name, v, w.value, w.file)
		}
	}
	if _, ok := vars["IGconf_include_file"]; ok {
		t.Error("include: must not become a variable")
	}
	ordered, _ := c.OrderedVars()
	if got := strings.Join(TargetLayers(ordered), ","); got != "essential,testdev,testimg" {
		t.Errorf("TargetLayers = %s", got)
	}
	cy, err := LoadConfig("../testdata/configs/cycle-a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cy.Vars(); !errors.Is(err, ErrIncludeCycle) {
		t.Errorf("cycle: err = %v, want ErrIncludeCycle", err)
	}
	abs, _ := ParseConfig("a.yaml", []byte("include: {file: /etc/x.yaml}\n"))
	if _, err := abs.Includes(); err == nil {
		t.Error("absolute include must be rejected")
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"raid.yaml", "commented.yaml", "nonl.yaml", "invalid.yaml", "inc-top.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "configs", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "image.name", "new value", uint8(0))
		f.Add(b, "", "x, y # z", uint8(3))
		f.Add(b, "", "", uint8(200))
	}
	f.Add([]byte("a: {b: 1}\n"), "a.c", "x,y", uint8(0))
	f.Add([]byte(""), "s.k", "v", uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, key, value string, pick uint8) {
		c, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Bytes(), data) {
			t.Fatal("round trip changed bytes")
		}
		c.Vars()
		c.Layers()
		if key == "" {
			// Edit an existing key so that the patching paths get exercised.
			var keys []string
			for _, s := range c.Sections() {
				for _, k := range c.Keys(s) {
					keys = append(keys, s+"."+k)
				}
			}
			if len(keys) == 0 {
				return
			}
			key = keys[int(pick)%len(keys)]
			if pick >= 128 {
				before := c.Bytes()
				if err := c.Delete(key); err != nil {
					if !bytes.Equal(before, c.Bytes()) {
						t.Fatal("failed Delete changed the bytes")
					}
				} else if c.Has(key) {
					t.Fatalf("%s still present after Delete", key)
				}
				return
			}
		}
		before := c.Bytes()
		others := snapshot(c)
		if err := c.Set(key, value); err != nil {
			if !bytes.Equal(before, c.Bytes()) {
				t.Fatal("failed Set changed the bytes")
			}
			return
		}
		if got, ok := c.Get(key); !ok || got != value {
			t.Fatalf("Get(%q) = %q, %v after Set(%q)", key, got, ok, value)
		}
		after := snapshot(c)
		for k, v := range others {
			if k != key && !strings.HasPrefix(key, k+".") && after[k] != v {
				t.Fatalf("Set(%q) changed %s from %q to %q", key, k, v, after[k])
			}
		}
		if _, err := ParseConfig("again.yaml", c.Bytes()); err != nil {
			t.Fatalf("edited config no longer parses: %v", err)
		}
	})
}

// snapshot maps every section.key scalar of c to its value.
func snapshot(c *Config) map[string]string {
	m := map[string]string{}
	for _, s := range c.Sections() {
		for _, k := range c.Keys(s) {
			if v, ok := c.Get(s + "." + k); ok {
				m[s+"."+k] = v
			}
		}
	}
	return m
}

func TestSetLiteral(t *testing.T) {
	c, err := ParseConfig("t.yaml", []byte("device: {layer: rpi5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetLiteral("trait.hw:storage:nvme", "true"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLiteral("device.flag", "true"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("device.text", "true"); err != nil {
		t.Fatal(err)
	}
	want := "device: {layer: rpi5, flag: true, text: \"true\"}\ntrait:\n  hw:storage:nvme: true\n"
	if got := string(c.Bytes()); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{"", "a # b", "[x", " x"} {
		before := c.Bytes()
		if err := c.SetLiteral("device.bad", bad); err == nil {
			t.Errorf("SetLiteral(%q) accepted", bad)
		}
		if !bytes.Equal(before, c.Bytes()) {
			t.Errorf("SetLiteral(%q) changed the bytes", bad)
		}
	}
}

// SplitEnvName undoes EnvName: the section ends at the first '_'.
func TestSplitEnvName(t *testing.T) {
	tests := []struct{ name, section, key string }{
		{"IGconf_linux_page_size", "linux", "page_size"},
		{"IGconf_image_rootfs_type", "image", "rootfs_type"},
		{"IGconf_sys_apt_cachedir", "sys", "apt_cachedir"},
		{"IGconf_solo", "solo", ""},
	}
	for _, tc := range tests {
		s, k, ok := SplitEnvName(tc.name)
		if !ok || s != tc.section || k != tc.key {
			t.Errorf("SplitEnvName(%s) = %q, %q, %v; want %q, %q", tc.name, s, k, ok, tc.section, tc.key)
		}
		if k != "" && EnvName(s, k) != tc.name {
			t.Errorf("EnvName(%q, %q) = %s, want %s", s, k, EnvName(s, k), tc.name)
		}
	}
	if _, _, ok := SplitEnvName("HOME"); ok {
		t.Error("SplitEnvName(HOME) ok")
	}
}
