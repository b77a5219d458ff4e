package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/internal/golden"
)

// yamlErrorCases are configs with one error each and the true line and
// column (0: not determined) of the error; viaVars errors show when the
// merged values are read (includes, section types).
var yamlErrorCases = []struct {
	name, src string
	line, col int
	viaVars   bool
}{
	{"tab-line3", "device:\n  layer: rpi5\n\thostname: x\n", 3, 1, false},
	{"tab-after-spaces-line4", "device:\n  layer: rpi5\nimage:\n  \tname: x\n", 4, 0, false},
	{"bad-key-line5", "device:\n  layer: rpi5\nimage:\n  name: x\nbad key here\n", 5, 0, false},
	{"bad-indent-line5", "device:\n  layer: rpi5\nimage:\n  name: x\n layer: y\n", 5, 0, false},
	{"mapping-in-value-line5", "device:\n  layer: rpi5\nimage:\n  name: x\n  layer: a: b\n", 5, 0, false},
	{"unclosed-flow-line4", "device:\n  layer: rpi5\nimage:\n  name: [x, y\n", 4, 0, false},
	{"unclosed-flow-map-line4", "device:\n  layer: rpi5\nimage:\n  opts: {a: 1\n", 4, 0, false},
	{"bad-char-line3", "device:\n  layer: rpi5\n  hostname: @x\n", 3, 0, false},
	{"unknown-anchor-line3", "device:\n  layer: rpi5\n  hostname: *x\n", 3, 0, false},
	{"bad-utf8-line2", "device:\n  layer: r\xffpi5\n", 2, 11, false},
	{"bad-utf8-after-multibyte", "image:\n  name: \u00e9t\u00e9\xc3\n", 2, 12, false},
	{"type-error-line2", "device: {layer: rpi5}\nimage: 3\n", 2, 1, true},
	{"broken-include-line2", "device: {layer: rpi5}\ninclude: {file: missing.yaml}\n", 2, 17, true},
	{"broken-include-list-line3", "device: {layer: rpi5}\ninclude:\n  - missing.yaml\n", 3, 5, true},
}

func TestYAMLErrorLinesGolden(t *testing.T) {
	var out strings.Builder
	for _, c := range yamlErrorCases {
		dir := t.TempDir()
		p := filepath.Join(dir, c.name+".yaml")
		if err := os.WriteFile(p, []byte(c.src), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(p)
		if c.viaVars {
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			_, err = cfg.OrderedVars()
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want a ParseError", c.name, err)
			continue
		}
		if pe.Line != c.line || pe.Column != c.col {
			t.Errorf("%s: at %d:%d, want %d:%d (%v)", c.name, pe.Line, pe.Column, c.line, c.col, err)
		}
		out.WriteString(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "") + "\n")
	}
	golden.Check(t, filepath.Join("testdata", "yaml-errors.golden"), []byte(out.String()))
}

func FuzzYAMLError(f *testing.F) {
	for _, c := range yamlErrorCases {
		f.Add([]byte(c.src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseConfig("f.yaml", data)
		var pe *ParseError
		if err != nil && errors.As(err, &pe) {
			if n := strings.Count(string(data), "\n") + 1; pe.Line < 1 || pe.Line > n {
				t.Fatalf("line %d outside 1-%d: %v", pe.Line, n, err)
			}
		}
	})
}
