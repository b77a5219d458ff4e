package form

import (
	"strings"
	"testing"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/config"
)

// TestValidateWithoutTool: without rpi-image-gen the layers it provides are
// not reported as errors of the config ("unknown layer essential"), and the
// values of our own layers' variables are still checked.
func TestValidateWithoutTool(t *testing.T) {
	c := Configs{}
	cat, err := c.EmbeddedCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cat.Lookup("raid"); !ok {
		t.Fatal("embedded catalog lacks raid")
	}
	b, err := assets.Config("raid-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := config.ParseConfig("raid-config.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(d, cat); len(ps) != 0 {
		t.Errorf("problems in the sample config without the tool: %+v", ps)
	}
	if err := d.Set("raid.devices", "12"); err != nil {
		t.Fatal(err)
	}
	ps := c.Validate(d, cat)
	if len(ps) != 1 || ps[0].Key != "raid.devices" || ps[0].Line == 0 {
		t.Fatalf("problems %+v, want one at raid.devices", ps)
	}
	for _, p := range ps {
		if strings.Contains(p.Msg, "unknown layer") {
			t.Errorf("problem %q", p.Msg)
		}
	}
}
