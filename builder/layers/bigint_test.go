package layers

import (
	"strings"
	"testing"
)

// Integer rules work on integers of any size, as upstream's Python int()
// does (expectations checked against validators.py).
func TestIntRulesBeyond64Bits(t *testing.T) {
	cases := []struct {
		rule, value string
		err         string // "" accepts
	}{
		{"int", "18446744073709551617", ""},
		{"int", "-99999999999999999999", ""},
		{"int", "1_000", ""},
		{"int", "\u0663", ""},         // Arabic-Indic three
		{"int", "\U0001D7D7", ""},     // mathematical bold nine
		{"int", " \u30007\u00a0", ""}, // Unicode spaces around
		{"int", "\x1c5", "not an integer"},
		{"int", "1__0", "not an integer"},
		{"int", "_1", "not an integer"},
		{"int", "1_", "not an integer"},
		{"int", "+-1", "not an integer"},
		{"int:0-18446744073709551616", "18446744073709551616", ""},
		{"int:0-18446744073709551616", "18446744073709551617", "above the maximum 18446744073709551616"},
		{"int:18446744073709551616-18446744073709551620", "5", "below the minimum 18446744073709551616"},
		{"int:2-8", "99999999999999999999999", "above the maximum 8"},
		{"int:2-8", "-99999999999999999999999", "below the minimum 2"},
		{"capacity", "18446744073709551617", "not binary-aligned (must be a multiple of 1024)"},
		{"capacity", "18446744073709551616", ""},
		{"capacity", "256", "too small"},
	}
	for _, c := range cases {
		r, err := ParseRule(c.rule)
		if err != nil {
			t.Fatalf("%s: %v", c.rule, err)
		}
		err = r.Check(c.value, true)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s %q: %v", c.rule, c.value, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %q: err = %v, want %q", c.rule, c.value, err, c.err)
		}
	}
	r, _ := ParseRule("int:0-99999999999999999999")
	if lo, hi, ok := r.Range(); !ok || lo != 0 || hi != 1<<63-1 {
		t.Errorf("Range clamps: %d %d %v", lo, hi, ok)
	}
	if _, hi, ok := r.RangeBig(); !ok || hi.String() != "99999999999999999999" {
		t.Errorf("RangeBig = %v", hi)
	}
	for _, bad := range []string{"int:++1-5", "int:1_0-5", "int:-1-5"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
