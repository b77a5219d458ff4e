package layers

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

// refLayers are extra layers (an -S dir) for TestValidateUndefinedRefs.
var refLayers = map[string]string{
	// A default that refers to a variable nothing declares.
	"refdefault.yaml": `# METABEGIN
# X-Env-Layer-Name: refdefault
# X-Env-Layer-Category: misc
# X-Env-VarPrefix: ref
# X-Env-Var-dir: ${IGconf_nowhere_dir}/x
# X-Env-Var-dir-Set: y
# METAEND
`,
	// The same default, never assigned (Set: n).
	"refskipped.yaml": `# METABEGIN
# X-Env-Layer-Name: refskipped
# X-Env-Layer-Category: misc
# X-Env-VarPrefix: refskip
# X-Env-Var-dir: ${IGconf_nowhere_dir}/x
# X-Env-Var-dir-Set: n
# METAEND
`,
	// A reference to a declared variable that is never assigned.
	"refdeclared.yaml": `# METABEGIN
# X-Env-Layer-Name: refdeclared
# X-Env-Layer-Category: misc
# X-Env-VarPrefix: decl
# X-Env-Var-base:
# X-Env-Var-base-Set: n
# X-Env-Var-path: ${IGconf_decl_base}/p
# X-Env-Var-path-Set: lazy
# METAEND
`,
	// A trigger that fires only because another trigger set its source.
	"refchain.yaml": `# METABEGIN
# X-Env-Layer-Name: refchain
# X-Env-Layer-Category: misc
# X-Env-VarPrefix: chain
# X-Env-Var-a: on
# X-Env-Var-a-Triggers: when=IGconf_chain_a == 'on' set IGconf_chain_b=yes policy=lazy
# X-Env-Var-b: no
# X-Env-Var-b-Set: n
# X-Env-Var-b-Triggers:
#  when=IGconf_chain_b == 'yes' set IGconf_chain_c="${IGconf_nowhere_c}"
# METAEND
`,
	// Unconditional and undecidable triggers, tool and anchor references.
	"refmisc.yaml": `# METABEGIN
# X-Env-Layer-Name: refmisc
# X-Env-Layer-Category: misc
# X-Env-Layer-Sets: REF_SETS=${IGconf_nowhere_sets}
# X-Env-VarPrefix: misc
# X-Env-Var-always: x
# X-Env-Var-always-Triggers: set IGconf_misc_t='${IGconf_nowhere_t}' policy=force
# X-Env-Var-dyn: $(hostname)
# X-Env-Var-dyn-Triggers: when=IGconf_misc_dyn == 'h' set IGconf_misc_u=${IGconf_nowhere_u}
# X-Env-Var-tool: ${IGconf_sys_target}/${@IGROOT}/${DIRECTORY}
# METAEND
`,
	// A force default is assigned even when the config sets the variable.
	"refforce.yaml": `# METABEGIN
# X-Env-Layer-Name: refforce
# X-Env-Layer-Category: misc
# X-Env-VarPrefix: force
# X-Env-Var-v: ${IGconf_nowhere_f}
# X-Env-Var-v-Set: force
# METAEND
`,
}

func refCatalog(t *testing.T) *Catalog {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "layer"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range refLayers {
		if err := os.WriteFile(filepath.Join(dir, "layer", name), []byte(text+"---\nmmdebstrap: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, err := LoadCatalog(CatalogOptions{ToolDir: "../testdata/tree", SourceDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Errors) > 0 {
		t.Fatal(cat.Errors)
	}
	return cat
}

// TestValidateUndefinedRefs: a ${IGconf_...} in a value the build assigns
// (default, trigger, X-Env-Layer-Sets) that nothing sets is reported at
// the layer's line, as rpi-image-gen's "Undefined variable"; references in
// values the build does not assign are not.
func TestValidateUndefinedRefs(t *testing.T) {
	cat := refCatalog(t)
	const pages = "device: {layer: testdev, hostname: box-1}\nimage: {layer: testimg-pages, name: pages%s}\n"
	type want struct {
		file  string // suffix of Problem.File
		line  int
		ref   string
		key   string
		layer string
		has   []string
	}
	pageSize := want{"tree/image/pages/image.yaml", 14, "IGconf_linux_page_size", "linux.page_size", "testimg-pages", []string{
		"referenced by IGconf_fs_ext4_mkfs_args (set by a trigger of IGconf_image_rootfs_type), but no layer of the build declares it and the config does not set it",
		`rpi-image-gen would stop with "Undefined variable 'IGconf_linux_page_size'"`,
		"Set it in the config (linux: {page_size: ...}) or add the layer that declares it, linux-base, to the build",
		"layer: {linux: linux-base}",
	}}
	tests := []struct {
		name      string
		cfg       string
		overrides []string
		want      []want
	}{
		{"ext4 trigger applies", strings.Replace(pages, "%s", ", rootfs_type: ext4", 1), nil, []want{pageSize}},
		{"ext4 by default", strings.Replace(pages, "%s", "", 1), nil, []want{pageSize}},
		{"btrfs trigger sets no reference", strings.Replace(pages, "%s", ", rootfs_type: btrfs", 1), nil, nil},
		{"config sets the variable", strings.Replace(pages, "%s", "", 1) + "linux: {page_size: 16384}\n", nil, nil},
		{"override sets the variable", strings.Replace(pages, "%s", "", 1), []string{"IGconf_linux_page_size=4096"}, nil},
		{"layer declares the variable", strings.Replace(pages, "%s", "", 1) + "layer: {linux: linux-base}\n", nil, nil},
		{"config sets the lazy target", strings.Replace(pages, "%s", "", 1) + "fs: {ext4_mkfs_args: -F}\n", nil, nil},
		{"override of the condition", strings.Replace(pages, "%s", ", rootfs_type: ext4", 1), []string{"IGconf_image_rootfs_type=btrfs"}, nil},
		{"default refers to an undeclared variable", "device: {layer: testdev}\nlayer: {r: refdefault}\n", nil, []want{{
			"refdefault.yaml", 5, "IGconf_nowhere_dir", "nowhere.dir", "refdefault", []string{
				"referenced by the default of IGconf_ref_dir, but no layer",
				"Set it in the config (nowhere: {dir: ...}) or add a layer that declares it to the build",
			}}}},
		{"config overrides the default", "device: {layer: testdev}\nlayer: {r: refdefault}\nref: {dir: /x}\n", nil, nil},
		{"default never assigned", "device: {layer: testdev}\nlayer: {r: refskipped}\n", nil, nil},
		{"declared but Set: n", "device: {layer: testdev}\nlayer: {r: refdeclared}\n", nil, []want{{
			"refdeclared.yaml", 7, "IGconf_decl_base", "decl.base", "refdeclared", []string{
				"referenced by the default of IGconf_decl_path, but layer refdeclared declares it with Set: n and the config does not set it",
				"Set it in the config (decl: {base: ...})",
			}}}},
		{"declared, set by the config", "device: {layer: testdev}\nlayer: {r: refdeclared}\ndecl: {base: /b}\n", nil, nil},
		{"trigger chain", "device: {layer: testdev}\nlayer: {r: refchain}\n", nil, []want{{
			"refchain.yaml", 10, "IGconf_nowhere_c", "nowhere.c", "refchain", []string{
				"referenced by IGconf_chain_c (set by a trigger of IGconf_chain_b)",
			}}}},
		{"trigger chain broken", "device: {layer: testdev}\nlayer: {r: refchain}\nchain: {a: off}\n", nil, nil},
		{"unconditional trigger, sets, undecidable condition", "device: {layer: testdev}\nlayer: {r: refmisc}\n", nil, []want{
			{"refmisc.yaml", 4, "IGconf_nowhere_sets", "nowhere.sets", "refmisc", []string{"referenced by X-Env-Layer-Sets REF_SETS"}},
			{"refmisc.yaml", 7, "IGconf_nowhere_t", "nowhere.t", "refmisc", []string{"referenced by IGconf_misc_t (set by a trigger of IGconf_misc_always)"}},
		}},
		{"force default", "device: {layer: testdev}\nlayer: {r: refforce}\nforce: {v: x}\n", nil, []want{{
			"refforce.yaml", 5, "IGconf_nowhere_f", "nowhere.f", "refforce", []string{"referenced by the default of IGconf_force_v"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseConfig("c.yaml", []byte(tc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			var got []Problem
			for _, p := range ValidateOverrides(cfg, cat, tc.overrides) {
				if p.InLayer {
					got = append(got, p)
				} else if p.Key != "image.name" && p.Var != "IGconf_device_hostname" {
					t.Errorf("other problem: %s", p)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d undefined references, want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				p := got[i]
				if !strings.HasSuffix(filepath.ToSlash(p.File), w.file) || p.Line != w.line || p.Var != w.ref || p.Key != w.key || p.Layer != w.layer {
					t.Errorf("problem %d = %s:%d var %s key %s layer %s; want %s:%d %s %s %s", i, p.File, p.Line, p.Var, p.Key, p.Layer, w.file, w.line, w.ref, w.key, w.layer)
				}
				for _, h := range w.has {
					if !strings.Contains(p.Msg, h) {
						t.Errorf("problem %d: %q\nlacks %q", i, p.Msg, h)
					}
				}
			}
		})
	}
}

// TestValidateUndefinedRefsPartial: when the layers do not resolve, the
// references are not checked (the missing layer may declare them).
func TestValidateUndefinedRefsPartial(t *testing.T) {
	cfg, err := config.ParseConfig("c.yaml", []byte("device: {layer: testdev, hostname: box-1}\nimage: {layer: testimg-pages, name: p}\nlayer: {x: no-such-layer}\n"))
	if err != nil {
		t.Fatal(err)
	}
	probs := Validate(cfg, testCatalog(t))
	if len(probs) == 0 || !strings.Contains(probs[0].Msg, "no-such-layer") {
		t.Fatalf("problems %v", probs)
	}
	for _, p := range probs {
		if p.InLayer {
			t.Errorf("reference checked on a partial plan: %s", p)
		}
	}
}

func TestParseTrigger(t *testing.T) {
	tests := []struct {
		rule, cond, target, value string
		policy                    SetPolicy
	}{
		{`when=IGconf_image_rootfs_type == 'ext4' set IGconf_fs_ext4_mkfs_args="-F -b ${IGconf_linux_page_size}" policy=lazy`,
			"IGconf_image_rootfs_type == 'ext4'", "IGconf_fs_ext4_mkfs_args", "-F -b ${IGconf_linux_page_size}", SetLazy},
		{`set IGconf_fs_btrfs_mkfs_args=""`, "", "IGconf_fs_btrfs_mkfs_args", "", SetImmediate},
		{`when=IGconf_x in ['a set b'] set IGconf_y='it''s' policy=force`, "IGconf_x in ['a set b']", "IGconf_y", "its", SetForce},
		{`when=has('hw:crypto') set IGconf_c=a\ b policy=bogus`, "has('hw:crypto')", "IGconf_c", "a b", SetImmediate},
		{`set IGconf_q="say \"hi\" \$x"`, "", "IGconf_q", `say "hi" $x`, SetImmediate},
	}
	for _, tc := range tests {
		got, err := parseTrigger(tc.rule)
		if err != nil || got.cond != tc.cond || got.target != tc.target || got.value != tc.value || got.policy != tc.policy {
			t.Errorf("parseTrigger(%s) = %+v, %v", tc.rule, got, err)
		}
	}
	for _, bad := range []string{`when=x`, `when= set IGconf_a=b`, `set`, `set 1a=b`, `unset IGconf_a=b`, `set IGconf_a="open`} {
		if _, err := parseTrigger(bad); err == nil {
			t.Errorf("parseTrigger(%s) accepted", bad)
		}
	}
}

// TestCatalogDeclaring names the layers that declare a variable.
func TestCatalogDeclaring(t *testing.T) {
	cat := testCatalog(t)
	var names []string
	for _, l := range cat.Declaring("IGconf_image_rootfs_type") {
		names = append(names, l.Name)
	}
	if !slices.Equal(names, []string{"testimg", "testimg-pages"}) {
		t.Errorf("Declaring(IGconf_image_rootfs_type) = %v", names)
	}
	if got := cat.Declaring("IGconf_nowhere_x"); len(got) != 0 {
		t.Errorf("Declaring(IGconf_nowhere_x) = %v", got)
	}
}
