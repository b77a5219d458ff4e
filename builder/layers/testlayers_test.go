package layers

import (
	"path/filepath"
	"testing"
)

// The test layers of make test-real and make test-boot (test/real/layers)
// parse without errors or warnings, as the real builds read them: a header
// mistake there would only show in a build that takes many minutes.
func TestRealTestLayersParse(t *testing.T) {
	dir := filepath.Join("..", "..", "test", "real", "layers")
	c, err := LoadCatalog(CatalogOptions{SourceDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Errors {
		t.Error(e)
	}
	for _, w := range c.Warnings {
		t.Errorf("%s:%d: %s", w.File, w.Line, w.Msg)
	}
	if len(c.Layers) == 0 {
		t.Fatalf("no layers found in %s", dir)
	}
}
