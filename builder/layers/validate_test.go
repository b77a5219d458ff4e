package layers

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	cat, err := LoadCatalog(CatalogOptions{ToolDir: "../testdata/tree"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Errors) > 0 {
		t.Fatal(cat.Errors)
	}
	return cat
}

func loadTestConfig(t *testing.T, name string) *config.Config {
	t.Helper()
	c, err := config.LoadConfig(filepath.Join("..", "testdata", "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolve(t *testing.T) {
	cat := testCatalog(t)
	plan, err := ResolveConfig(loadTestConfig(t, "valid.yaml"), cat)
	if err != nil {
		t.Fatal(err)
	}
	// Dependencies first; image-base pulls user-layer in through its
	// Provides token cap-user.
	if got := strings.Join(plan.Names(), ","); got != "base-layer,essential,testdev,user-layer,image-base,testimg" {
		t.Errorf("order = %s", got)
	}
	if plan.Providers["cap-user"] != "user-layer" {
		t.Errorf("providers = %v", plan.Providers)
	}
	var keys []string
	for _, pv := range plan.Variables() {
		keys = append(keys, pv.Key+"@"+pv.Layer.Name)
	}
	if got := strings.Join(keys, ","); got != "sys.workroot@base-layer,device.storage_type@testdev,device.hostname@testdev,device.class@testdev,"+
		"image.rootfs_type@testimg,image.boot_part_size@testimg,image.name@testimg,image.template@testimg" {
		t.Errorf("Variables() = %s", got)
	}
	// AfterProvider moves a consumer after its provider.
	plan, err = Resolve(cat, []string{"after-user", "user-layer"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Names(), ","); got != "user-layer,after-user" {
		t.Errorf("AfterProvider order = %s", got)
	}
	errCases := []struct {
		cfg  string
		kind error
		msg  string
	}{
		{"typo.yaml", ErrMissingLayer, `unknown layer "testdv" (did you mean testdev?)`},
		{"conflict.yaml", ErrLayerConflict, "layer conflicting conflicts with base-layer"},
		{"missing.yaml", ErrMissingLayer, `layer broken-dep requires "no-such-layer", which was not found`},
	}
	for _, tc := range errCases {
		_, err := ResolveConfig(loadTestConfig(t, tc.cfg), cat)
		var re *ResolveError
		if !errors.Is(err, tc.kind) || !errors.As(err, &re) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.cfg, err, tc.kind, tc.msg)
		}
	}
	// RequiresProvider: testimg needs test-device.
	if _, err := Resolve(cat, []string{"testimg"}); !errors.Is(err, ErrMissingProvider) || !strings.Contains(err.Error(), `layer testimg requires provider "test-device"`) {
		t.Errorf("missing provider: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cat := testCatalog(t)
	if probs := Validate(loadTestConfig(t, "valid.yaml"), cat); len(probs) != 0 {
		t.Errorf("valid.yaml: %v", probs)
	}
	if probs := Validate(loadTestConfig(t, "inc-top.yaml"), cat); len(probs) != 0 {
		t.Errorf("inc-top.yaml: %v", probs)
	}
	got := map[string]bool{}
	for _, p := range Validate(loadTestConfig(t, "invalid.yaml"), cat) {
		got[p.String()] = true
	}
	f := filepath.Join("..", "testdata", "configs", "invalid.yaml")
	want := []string{
		f + ":3: device.hostname (IGconf_device_hostname): 'Bad_Host' does not match ^[a-z][a-z0-9-]*$ (layer testdev)",
		f + ":7: image.rootfs_type (IGconf_image_rootfs_type): 'xfs' is not one of ext4, btrfs (layer testimg)",
		f + ":8: image.boot_part_size (IGconf_image_boot_part_size): '12q' is not a size (12345, 20k, 128M, 1G, 512s or 50%) (layer testimg)",
		f + ": image.name (IGconf_image_name): required but not set (layer testimg)",
		f + ":12: rules.b (IGconf_rules_b): 'maybe' is not a boolean (true/false, 1/0, yes/no, y/n) (layer allrules)",
		f + ":13: rules.r (IGconf_rules_r): '101' is above the maximum 100 (layer allrules)",
		f + ":14: rules.one (IGconf_rules_one): 'trivy' is not one of syft (layer allrules)",
		f + ":15: rules.kw (IGconf_rules_kw): 'staging' is not one of dev, test, prod (layer allrules)",
		f + ":16: rules.l (IGconf_rules_l): 'rsa' is listed more than once (layer allrules)",
		f + ":17: rules.pw (IGconf_rules_pw): 'weak' does not match ^(?=.*[a-z])(?=.*[A-Z])(?=.*\\d)(?=.*[@$!%*?&])[A-Za-z\\d@$!%*?&]{8,}$ (layer allrules)",
		f + ":18: rules.cap (IGconf_rules_cap): '1000MB' uses decimal units; a capacity needs binary units (K/M/G/T or KiB/MiB/GiB/TiB) (layer allrules)",
		f + ":19: rules.s (IGconf_rules_s): value is empty (layer allrules)",
		f + ":20: rules.d (IGconf_rules_d): '/no/such/dir' is not an existing directory (layer allrules)",
		f + ":21: rules.f (IGconf_rules_f): '/no/such/file' is not an existing regular file (layer allrules)",
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("missing problem:\n  %s", w)
		}
		delete(got, w)
	}
	for g := range got {
		t.Errorf("unexpected problem:\n  %s", g)
	}
	// The force policy wins over the config; ${STORAGE} is skipped.
	probs := Validate(loadTestConfig(t, "required.yaml"), cat)
	if len(probs) != 1 || probs[0].Var != "IGconf_image_name" || probs[0].Msg != "required but not set" {
		t.Errorf("required.yaml: %v", probs)
	}
	probs = Validate(loadTestConfig(t, "typo.yaml"), cat)
	if len(probs) != 1 || probs[0].String() != filepath.Join("..", "testdata", "configs", "typo.yaml")+`:2: device.layer (IGconf_device_layer): unknown layer "testdv" (did you mean testdev?)` {
		t.Errorf("typo.yaml: %v", probs)
	}
	probs = Validate(loadTestConfig(t, "cycle-a.yaml"), cat)
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "include cycle") {
		t.Errorf("cycle: %v", probs)
	}
}

func TestValidateVarRequires(t *testing.T) {
	cat := testCatalog(t)
	// image-base requires IGconf_device_class (keywords:testdev); testdev
	// forces it, so a config value cannot break it, but a VarRequires of
	// an unknown variable must be reported.
	c, err := config.ParseConfig("v.yaml", []byte("device: {layer: testdev}\nimage: {layer: testimg, name: n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := ResolveConfig(c, cat)
	if err != nil {
		t.Fatal(err)
	}
	plan.Layers[0].VarRequires = append(plan.Layers[0].VarRequires, ExtVar{Name: "MY_THING"})
	defer func() { plan.Layers[0].VarRequires = plan.Layers[0].VarRequires[:0] }()
	vars, _ := c.OrderedVars()
	probs := ValidatePlan(plan, vars, "v.yaml")
	if len(probs) != 1 || probs[0].String() != "v.yaml: MY_THING: required by the layer but not set (layer base-layer)" {
		t.Errorf("probs = %v", probs)
	}
	c2, err := config.ParseConfig("v.yaml", []byte("device: {layer: testdev}\nimage: {layer: testimg, name: n}\nenv:\n  MY_THING: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	vars2, _ := c2.OrderedVars()
	if probs := ValidatePlan(plan, vars2, "v.yaml"); len(probs) != 0 {
		t.Errorf("env: should satisfy VarRequires: %v", probs)
	}
}

func TestWinner(t *testing.T) {
	mk := func(specs ...string) []varDef {
		var defs []varDef
		for i, s := range specs {
			p, _ := ParseSetPolicy(s)
			defs = append(defs, varDef{&Layer{Name: string(rune('a' + i))}, &Var{Set: p}})
		}
		return defs
	}
	cases := []struct {
		specs []string
		want  string
	}{
		{[]string{"y", "y"}, "a"},                 // immediate: first wins
		{[]string{"lazy", "y", "lazy"}, "b"},      // immediate beats lazy
		{[]string{"lazy", "lazy"}, "b"},           // lazy: last wins
		{[]string{"force", "y", "force"}, "c"},    // force: last force wins
		{[]string{"n", "skip"}, "a"},              // only skip: first
		{[]string{"n", "lazy", "immediate"}, "c"}, // skip never wins over a setter
	}
	for _, tc := range cases {
		if got := winner(mk(tc.specs...)).layer.Name; got != tc.want {
			t.Errorf("%v: winner %s, want %s", tc.specs, got, tc.want)
		}
	}
	if _, err := ParseSetPolicy("sometimes"); err == nil {
		t.Error("unknown policy must fail")
	}
}
