package layers

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/config"
)

// pi5Header is the real header of device/pi5/device.yaml quoted in the spec.
const pi5Header = `# METABEGIN
# X-Env-Layer-Name: rpi5
# X-Env-Layer-Category: device
# X-Env-Layer-Version: 3.0.0
# X-Env-Layer-Requires: rpi-device-base,rpi-linux-2712
# X-Env-Layer-Provides: rpi-device,hw:device:rpi:pi5
# X-Env-VarPrefix: device
# X-Env-Var-storage_type: sd
# X-Env-Var-storage_type-Valid: sd,nvme
# X-Env-Var-storage_type-Set: y
# X-Env-Var-storage_type-Conflicts:
#  IGconf_device_storage_type == 'nvme' and not has('hw:storage:nvme')
# METAEND
---
`

func TestParseSpecHeader(t *testing.T) {
	l, err := ParseLayer("/x/device/pi5/device.yaml", []byte(pi5Header))
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "rpi5" || l.Category != "device" || l.Version != "3.0.0" || l.VarPrefix != "device" {
		t.Errorf("layer = %+v", l)
	}
	if strings.Join(l.Requires, ",") != "rpi-device-base,rpi-linux-2712" || strings.Join(l.Provides, ",") != "rpi-device,hw:device:rpi:pi5" {
		t.Errorf("requires %v provides %v", l.Requires, l.Provides)
	}
	v, ok := l.Var("storage_type")
	if !ok {
		t.Fatal("storage_type missing")
	}
	if v.EnvName != "IGconf_device_storage_type" || v.Default != "sd" || v.Set != SetImmediate || v.Line != 8 {
		t.Errorf("var = %+v", v)
	}
	if got := strings.Join(v.Valid.Choices(), ","); got != "sd,nvme" || v.Valid.Kind() != KindEnum {
		t.Errorf("valid = %s", got)
	}
	if len(v.Conflicts) != 1 || v.Conflicts[0] != "IGconf_device_storage_type == 'nvme' and not has('hw:storage:nvme')" {
		t.Errorf("conflicts = %q", v.Conflicts)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("warnings: %v", l.Warnings)
	}
}

func TestParseRaidLayer(t *testing.T) {
	b, err := fs.ReadFile(assets.Layers(), "image/raid/image.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseLayer("image/raid/image.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "raid" || l.Category != "image" || !strings.HasPrefix(l.Desc, "RAID overlay layout: the SD card holds only the FAT boot partition;") {
		t.Errorf("layer = %q %q %q", l.Name, l.Category, l.Desc)
	}
	want := map[string]string{"level": "RAID1", "devices": "2", "sdcard_size": "200M", "external_size": "1G"}
	for n, d := range want {
		v, ok := l.Var(n)
		if !ok || v.Default != d || v.Valid.Check(d, true) != nil {
			t.Errorf("var %s = %+v", n, v)
		}
	}
}

func TestParseTestLayers(t *testing.T) {
	p, _ := filepath.Abs("../testdata/tree/layer/misc/rules.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseLayer(p, b)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]RuleKind{"b": KindBool, "i": KindInt, "r": KindInt, "e": KindEnum, "one": KindEnum, "kw": KindEnum,
		"l": KindList, "re": KindRegex, "pw": KindRegex, "sz": KindSize, "cap": KindCapacity, "s": KindString, "su": KindString,
		"se": KindString, "f": KindFile, "fz": KindFile, "d": KindDir}
	for n, k := range kinds {
		v, ok := l.Var(n)
		if !ok || v.Valid.Kind() != k {
			t.Errorf("var %s: kind %v, want %v", n, v.Valid.Kind(), k)
			continue
		}
		// Every default in the test layer satisfies its rule.
		if err := v.Valid.Check(v.Default, v.Set != SetSkip); err != nil {
			t.Errorf("default of %s: %v", n, err)
		}
	}
	f, _ := l.Var("f")
	fz, _ := l.Var("fz")
	d, _ := l.Var("d")
	lit, _ := l.Var("lit")
	if f.Default != p || fz.Default != p || d.Default != filepath.Dir(p) || lit.Default != "${DIRECTORY}/kept" {
		t.Errorf("placeholders: f=%q fz=%q d=%q lit=%q", f.Default, fz.Default, d.Default, lit.Default)
	}
	desc, _ := l.Var("desc")
	if desc.Desc != "First line second line after a blank comment line." || !desc.Required || desc.Anchor != "@DESC" || len(desc.Triggers) != 1 {
		t.Errorf("desc var = %+v", desc)
	}
	if lz, _ := l.Var("lazy"); lz.Set != SetLazy {
		t.Errorf("lazy set = %v", lz.Set)
	}
	if su, _ := l.Var("su"); su.Set != SetSkip {
		t.Errorf("su set = %v", su.Set)
	}
	if l.Sets["FOO"] != "1" || l.Sets["BAR"] != "two" || l.Version != "0.1.0" || l.Type != "static" {
		t.Errorf("sets %v version %s type %s", l.Sets, l.Version, l.Type)
	}
	if len(l.Traits) != 1 || l.Traits[0].Name != "fast" || l.Traits[0].Attrs["Valid"] != "bool" {
		t.Errorf("traits = %+v", l.Traits)
	}
	if len(l.VarOptional) != 1 || l.VarOptional[0].Name != "OPTIONAL_THING" || l.VarOptional[0].Valid.Kind() != KindString {
		t.Errorf("VarOptional = %+v", l.VarOptional)
	}
	if v, ok := l.Field("X-Env-Layer-Bogus"); !ok || v != "unknown fields are kept and linted" {
		t.Errorf("unknown field not kept: %q", v)
	}
	if len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0].String(), "rules.yaml:8: unknown field X-Env-Layer-Bogus") {
		t.Errorf("warnings = %v", l.Warnings)
	}
}

func TestParseLayerErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"no-indent", "# METABEGIN\n# X-Env-Layer-Name: a\n# not a field\n# METAEND\n", "f.yaml:3: "},
		{"bad-name", "# METABEGIN\n# X-Env-Layer-Name: a\n# X Env: b\n# METAEND\n", "f.yaml:3: invalid field name"},
		{"not-xenv", "# METABEGIN\n#\n# Name: a\n# METAEND\n", "f.yaml:3: invalid field name \"Name\""},
		{"bad-rule", "# METABEGIN\n# X-Env-Layer-Name: a\n# X-Env-VarPrefix: p\n# X-Env-Var-v: 1\n# X-Env-Var-v-Valid: single\n# METAEND\n", "f.yaml:5: X-Env-Var-v-Valid"},
		{"bad-set", "# METABEGIN\n# X-Env-Layer-Name: a\n# X-Env-VarPrefix: p\n# X-Env-Var-v: 1\n# X-Env-Var-v-Set: sometimes\n# METAEND\n", "f.yaml:5:"},
		{"no-prefix", "# METABEGIN\n# X-Env-Layer-Name: a\n# X-Env-Var-v: 1\n# METAEND\n", "VarPrefix is missing"},
		{"bad-dep", "# METABEGIN\n# X-Env-Layer-Name: a\n# X-Env-Layer-Requires: b c\n# METAEND\n", "f.yaml:3: X-Env-Layer-Requires"},
		{"bad-yaml", "# METABEGIN\n# X-Env-Layer-Name: a\n# METAEND\n---\nmmdebstrap: [\n", "f.yaml:"},
		{"cont-first", "# METABEGIN\n#  cont\n# METAEND\n", "f.yaml:2: continuation"},
	}
	for _, tc := range cases {
		_, err := ParseLayer("f.yaml", []byte(tc.src))
		var pe *config.ParseError
		if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), tc.want[:strings.Index(tc.want, ":")+1]) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := ParseLayer("f.yaml", []byte("mmdebstrap: {}\n")); !errors.Is(err, ErrNoHeader) {
		t.Errorf("no header: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	cat, err := LoadCatalog(CatalogOptions{ToolDir: "../testdata/tree", SourceDirs: []string{"../testdata/src"}, Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Errors) != 0 {
		t.Fatalf("errors: %v", cat.Errors)
	}
	base, ok := cat.Lookup("base-layer")
	if !ok || base.Version != "9.9.9" || base.Source != "../testdata/src" {
		t.Errorf("-S dir must win: %+v", base)
	}
	if len(cat.Shadowed) != 1 || cat.Shadowed[0].Source != "../testdata/tree" {
		t.Errorf("shadowed = %v", cat.Shadowed)
	}
	raid, ok := cat.Lookup("raid")
	if !ok || raid.Source != EmbeddedSource || raid.File != "embedded:image/raid/image.yaml" {
		t.Errorf("embedded raid = %+v", raid)
	}
	var names []string
	for _, l := range cat.ByCategory("image") {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, ","); got != "image-base,raid,testimg,testimg-pages" {
		t.Errorf("ByCategory(image) = %s", got)
	}
	if _, ok := cat.Lookup("no-header"); ok {
		t.Error("a file without header is not a layer")
	}
	if p := cat.Providers("cap-user"); len(p) != 1 || p[0].Name != "user-layer" {
		t.Errorf("Providers(cap-user) = %v", p)
	}
	if p := cat.Providers("hw:device:test"); len(p) != 1 || p[0].Name != "testdev" {
		t.Errorf("Providers(hw:device:test) = %v", p)
	}
	if s := cat.Suggest("testdv"); s != "testdev" {
		t.Errorf("Suggest = %q", s)
	}
	if s := cat.Suggest("completely-different-name"); s != "" {
		t.Errorf("Suggest far = %q", s)
	}
	if _, err := LoadCatalog(CatalogOptions{SourceDirs: []string{"../testdata/nope"}}); err == nil {
		t.Error("missing -S dir must be an error")
	}
	bad := fstest.MapFS{"layer/x.yaml": {Data: []byte("# METABEGIN\n# oops\n# METAEND\n")}}
	c2, err := LoadCatalog(CatalogOptions{Embedded: true, EmbeddedFS: bad})
	if err != nil || len(c2.Errors) != 1 || !strings.Contains(c2.Errors[0].Error(), "embedded:layer/x.yaml:2:") {
		t.Errorf("parse errors should be collected: %v %v", err, c2.Errors)
	}
}

func FuzzParseLayer(f *testing.F) {
	f.Add([]byte(pi5Header))
	for _, p := range []string{"../testdata/tree/layer/misc/rules.yaml", "../testdata/tree/device/testdev/device.yaml", "../testdata/tree/image/testimg/image.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("# METABEGIN\n#  x\n# X-Env-Var-a-Valid: regex:(?=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLayer("fuzz.yaml", data)
		if err != nil {
			var pe *config.ParseError
			if !errors.Is(err, ErrNoHeader) && !errors.As(err, &pe) {
				t.Fatalf("error of unexpected type %T: %v", err, err)
			}
			return
		}
		for _, v := range l.Vars {
			_ = v.Valid.Check(v.Default, true)
		}
	})
}
