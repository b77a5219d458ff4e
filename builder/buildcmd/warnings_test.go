package buildcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Lint warnings of the catalog are shown by layers and validate (on
// stderr, prefixed "warning:") and do not fail the command.
func TestCatalogWarningsShown(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "layer"), 0o755); err != nil {
		t.Fatal(err)
	}
	layer := "# METABEGIN\n# X-Env-Layer-Name: linty\n# X-Env-Layer-Category: general\n# X-Env-Layer-Bogus: 1\n# METAEND\n---\n"
	if err := os.WriteFile(filepath.Join(src, "layer", "linty.yaml"), []byte(layer), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join("..", "testdata", "tree")
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("device: {layer: testdev, hostname: h}\nimage: {layer: testimg, name: n}\n"), 0o644)
	for _, args := range [][]string{
		{"layers", "--rpi-image-gen", tree, "-S", src},
		{"validate", "-c", cfg, "--rpi-image-gen", tree, "-S", src},
	} {
		_, errs, _ := run(t, noTool, args...)
		if !strings.Contains(errs, "warning: ") || !strings.Contains(errs, "linty.yaml:4: ") {
			t.Errorf("%s: stderr lacks the lint warning:\n%s", args[0], errs)
		}
	}
	_, errs, code := run(t, noTool, "layers", "--rpi-image-gen", tree, "-S", src)
	if code != 0 {
		t.Errorf("layers exit %d: %s", code, errs)
	}
}
