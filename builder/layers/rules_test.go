package layers

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	full := filepath.Join(dir, "full")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rule string
		kind RuleKind
		good []string
		bad  map[string]string // value -> part of the message
	}{
		{"bool", KindBool, []string{"true", "False", "1", "0", "yes", "NO", "y", "n"}, map[string]string{"maybe": "not a boolean", "": "not a boolean"}},
		{"int", KindInt, []string{"0", "-3", "+7", " 12 ", "1_000"}, map[string]string{"1.5": "not an integer", "x": "not an integer", "": "not an integer"}},
		{"int:1-100", KindInt, []string{"1", "100", "50"}, map[string]string{"0": "below the minimum 1", "101": "above the maximum 100"}},
		{"ext4,btrfs", KindEnum, []string{"ext4", "btrfs"}, map[string]string{"xfs": "'xfs' is not one of ext4, btrfs", "EXT4": "not one of"}},
		{"syft,", KindEnum, []string{"syft"}, map[string]string{"trivy": "'trivy' is not one of syft"}},
		{"keywords:dev,test", KindEnum, []string{"dev", "test"}, map[string]string{"prod": "not one of dev, test"}},
		{"list:rsa,ecdsa,ed25519", KindList, []string{"rsa", "rsa,ed25519", "ecdsa, rsa"}, map[string]string{"": "empty", "rsa,rsa": "more than once", "dsa": "'dsa' is not one of", "rsa,": "empty entry"}},
		{`regex:^[A-Z0-9]{2}$`, KindRegex, []string{"GB", "00"}, map[string]string{"gb": "does not match", "GBR": "does not match"}},
		{`regex:[a-z]+`, KindRegex, []string{"abc"}, map[string]string{"abc1": "does not match"}}, // full match, like Python's fullmatch
		{`regex:^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[@$!%*?&])[A-Za-z\d@$!%*?&]{8,}$`, KindRegex, []string{"Secr3t!pw", "Aa1!Aa1!"}, map[string]string{"secr3t!pw": "does not match", "Secret!pw": "does not match", "Sh0rt!": "does not match"}},
		{`regex:^(?!admin$)[a-z]+$`, KindRegex, []string{"pi"}, map[string]string{"admin": "does not match"}},
		{"size", KindSize, []string{"12345", "20k", "20K", "128M", "1g", "512s", "50%", "0"}, map[string]string{"0%": "not a size", "1.5G": "not a size", "1GB": "not a size", "": "not a size", "-1": "not a size"}},
		{"capacity", KindCapacity, []string{"512", "1024", "4096", "8K", "128MiB", "2T"}, map[string]string{"256": "too small", "1000": "binary-aligned", "3000": "binary-aligned", "1GB": "decimal units", "50%": "percentage", "1g": "not a capacity"}},
		{"string", KindString, []string{"x"}, map[string]string{"": "empty"}},
		{"string-or-empty", KindString, []string{"", "x"}, nil},
		{"string-or-unset", KindString, []string{"x"}, map[string]string{"": "empty"}},
		{"file", KindFile, []string{empty, full}, map[string]string{dir: "not an existing regular file", filepath.Join(dir, "nope"): "not an existing regular file"}},
		{"file-nzero", KindFile, []string{full}, map[string]string{empty: "is empty"}},
		{"dir", KindDir, []string{dir}, map[string]string{full: "not an existing directory"}},
	}
	for _, tc := range cases {
		r, err := ParseRule(tc.rule)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.rule, err)
			continue
		}
		if r.Kind() != tc.kind {
			t.Errorf("%q: kind %v, want %v", tc.rule, r.Kind(), tc.kind)
		}
		if r.String() != tc.rule {
			t.Errorf("String() = %q", r.String())
		}
		for _, v := range tc.good {
			if err := r.Check(v, true); err != nil {
				t.Errorf("%q.Check(%q): %v", tc.rule, v, err)
			}
		}
		for v, msg := range tc.bad {
			err := r.Check(v, true)
			if err == nil || !strings.Contains(err.Error(), msg) {
				t.Errorf("%q.Check(%q) = %v, want error containing %q", tc.rule, v, err, msg)
			}
		}
	}
}

func TestRuleUnset(t *testing.T) {
	for rule, ok := range map[string]bool{
		"string": false, "string-or-empty": false, "string-or-unset": true, "bool": false,
		"int": false, "a,b": false, "size": false, "file": true, "dir": true,
	} {
		r, err := ParseRule(rule)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Check("", false) == nil; got != ok {
			t.Errorf("%q unset accepted = %v, want %v", rule, got, ok)
		}
	}
	var zero Rule
	if zero.Check("anything", true) != nil || zero.Kind() != KindNone {
		t.Error("the zero Rule must accept everything")
	}
}

func TestRuleChoicesAndErrors(t *testing.T) {
	r, _ := ParseRule(" small, medium ,large ")
	if got := strings.Join(r.Choices(), "|"); got != "small|medium|large" {
		t.Errorf("Choices = %s", got)
	}
	r, _ = ParseRule("int:2-8")
	if lo, hi, ok := r.Range(); !ok || lo != 2 || hi != 8 {
		t.Errorf("Range = %d %d %v", lo, hi, ok)
	}
	if r.Choices() != nil {
		t.Error("int has no choices")
	}
	for _, bad := range []string{"", "syft", "int:1", "int:a-b", "int:1-2-3", "regex:[", "strng"} {
		if _, err := ParseRule(bad); !errors.Is(err, ErrBadRule) {
			t.Errorf("ParseRule(%q) err = %v, want ErrBadRule", bad, err)
		}
	}
	if _, err := ParseRule("syft"); err == nil || !strings.Contains(err.Error(), `"syft,"`) {
		t.Errorf("single value error should suggest the trailing comma: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in    string
		bytes int64
		pct   int
	}{
		{"12345", 12345, 0}, {"20k", 20 << 10, 0}, {"20K", 20 << 10, 0}, {"128M", 128 << 20, 0},
		{"128m", 128 << 20, 0}, {"1G", 1 << 30, 0}, {"4g", 4 << 30, 0}, {"512s", 512 * 512, 0},
		{"50%", 0, 50}, {"300%", 0, 300}, {"0", 0, 0},
	}
	for _, tc := range cases {
		b, p, err := ParseSize(tc.in)
		if err != nil || b != tc.bytes || p != tc.pct {
			t.Errorf("ParseSize(%q) = %d, %d, %v; want %d, %d", tc.in, b, p, err, tc.bytes, tc.pct)
		}
	}
	for _, bad := range []string{"", "1.5G", "0%", "1T", "G", "-5", "99999999999999999999", "9999999999999G"} {
		if _, _, err := ParseSize(bad); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) err = %v, want ErrBadSize", bad, err)
		}
	}
}
