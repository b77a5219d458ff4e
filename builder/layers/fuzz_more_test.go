package layers

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzParseSize checks that a size either parses to a non-negative byte
// count or percentage, never both, or is refused — and that the rule
// "size" agrees with ParseSize on what is a size.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"12345", "20k", "128M", "1G", "512s", "50%", "0", "-1", "1.5G", "9223372036854775807", "9999999999G", "%", "k", "08", " 1G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, pct, err := ParseSize(s)
		if err != nil {
			if n != 0 || pct != 0 {
				t.Fatalf("%q: error %v with values %d, %d%%", s, err, n, pct)
			}
			return
		}
		if n < 0 || pct < 0 || (n != 0 && pct != 0) {
			t.Fatalf("%q: bytes %d pct %d", s, n, pct)
		}
		if plain, err := strconv.ParseInt(s, 10, 64); err == nil && plain != n {
			t.Fatalf("%q: plain number parsed as %d", s, n)
		}
	})
}

// FuzzLoadTraits feeds arbitrary trait files to the registry loader: it
// must return a registry or an error, never panic or loop.
func FuzzLoadTraits(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("..", "testdata", "tree", "trait", "hw.deb822")); err == nil {
		f.Add(seed)
	}
	f.Add([]byte("Trait: hw:x\nDesc: a\n\nTrait: hw:y\nInclude: other.deb822\n"))
	f.Add([]byte("Include: self.deb822\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "self.deb822"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := LoadTraits(dir)
		if err == nil && r == nil {
			t.Fatal("no registry and no error")
		}
	})
}
