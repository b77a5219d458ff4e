package layers

import (
	"errors"
	"strings"
	"testing"
)

func TestConditions(t *testing.T) {
	vars := map[string]string{"IGconf_a": "x", "IGconf_b": "", "IGconf_c": "pi5"}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	has := func(tok string) bool { return tok == "hw:storage:sd" }
	cases := []struct {
		expr string
		want bool
	}{
		{"IGconf_a == 'x'", true},
		{"IGconf_a != 'x'", false},
		{`IGconf_b == ""`, true},
		{"IGconf_c in ['pi4', 'cm4', 'pi5']", true},
		{"IGconf_c not in ['zero2w']", true},
		{"IGconf_a == 'x' and IGconf_c == 'pi4'", false},
		{"IGconf_a == 'y' or IGconf_c == 'pi5'", true},
		{"has('hw:storage:sd')", true},
		{"not has('hw:storage:sd')", false},
		{"IGconf_a == 'x' and not has('hw:storage:nvme')", true},
		{"(IGconf_a == 'y' or has('hw:storage:sd')) and IGconf_b != 'z'", true},
		{"'x' == IGconf_a", true},
	}
	for _, tc := range cases {
		c, err := ParseCondition(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		got, err := c.Eval(lookup, has)
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
	c, _ := ParseCondition("IGconf_unknown == 'x'")
	if _, err := c.Eval(lookup, has); !errors.Is(err, errUnknownVar) {
		t.Errorf("unknown variable: %v", err)
	}
	for _, bad := range []string{"", "IGconf_a", "IGconf_a == ", "not IGconf_a == 'x'", "has(x)", "IGconf_a < 'x'", "'open", "(IGconf_a == 'x'", "IGconf_a == 'x' and"} {
		if _, err := ParseCondition(bad); !errors.Is(err, ErrCondition) {
			t.Errorf("ParseCondition(%q) err = %v", bad, err)
		}
	}
}

func TestTraitsAndConflicts(t *testing.T) {
	cat := testCatalog(t)
	if got := strings.Join(cat.Traits.Expand("hw:device:test:one"), ","); got != "hw:device,hw:device:test,hw:device:test:one,hw:storage,hw:storage:sd" {
		t.Errorf("Expand = %s", got)
	}
	if !cat.Traits.Has("hw:storage:nvme") || cat.Traits.Desc("hw:storage:nvme") != "NVMe disk" {
		t.Errorf("tokens = %v", cat.Traits.Tokens())
	}
	plan, err := ResolveConfig(loadTestConfig(t, "valid.yaml"), cat)
	if err != nil {
		t.Fatal(err)
	}
	if !plan.HasToken("hw:storage:sd") || plan.HasToken("hw:storage:nvme") {
		t.Errorf("providers = %v", plan.Providers)
	}
	probs := Validate(loadTestConfig(t, "nvme.yaml"), cat)
	if len(probs) != 1 || probs[0].Key != "device.storage_type" || !strings.Contains(probs[0].Msg, "conflicts with the build: IGconf_device_storage_type == 'nvme' and not has('hw:storage:nvme')") {
		t.Errorf("nvme.yaml: %v", probs)
	}
	if probs := Validate(loadTestConfig(t, "nvme-trait.yaml"), cat); len(probs) != 0 {
		t.Errorf("nvme-trait.yaml: %v", probs)
	}
	// trait: hw:storage: false removes the tokens testimg requires.
	probs = Validate(loadTestConfig(t, "nosd.yaml"), cat)
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, `layer testimg requires provider "hw:storage"`) {
		t.Errorf("nosd.yaml: %v", probs)
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"IGconf_a == 'x' and not has('hw:x')", "IGconf_c in ['a', 'b']", "(a == 'b' or c != \"d\")"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition(s)
		if err != nil {
			return
		}
		c.Eval(func(string) (string, bool) { return "v", true }, func(string) bool { return true })
	})
}
