package layers

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/internal/imager"
)

// TestParseFirstbootLayers reads the first-boot layers we ship and checks
// that each one is named in imager.Layers with the format it reads.
func TestParseFirstbootLayers(t *testing.T) {
	for file, want := range map[string]string{
		"layer/firstboot/cloudinit.yaml":   "firstboot-cloudinit",
		"layer/firstboot/rpi-preseed.yaml": "firstboot-rpi-preseed",
	} {
		b, err := fs.ReadFile(assets.Layers(), file)
		if err != nil {
			t.Fatal(err)
		}
		l, err := ParseLayer(file, b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if l.Name != want || len(l.Warnings) != 0 {
			t.Errorf("%s: name %q, warnings %v", file, l.Name, l.Warnings)
		}
		if _, ok := imager.Layers[l.Name]; !ok {
			t.Errorf("%s is not in imager.Layers", l.Name)
		}
	}
	b, _ := fs.ReadFile(assets.Layers(), "layer/firstboot/cloudinit.yaml")
	for _, must := range []string{"seedfrom: file:///boot/firmware/", "shred", "RequiresMountsFor=/boot/firmware", "- cloud-init"} {
		if !strings.Contains(string(b), must) {
			t.Errorf("the cloud-init layer lacks %q", must)
		}
	}
}
