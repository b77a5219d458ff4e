package gui

import (
	"testing"

	"github.com/pistudio/pistudio/gui/form"
)

func TestReadableDefault(t *testing.T) {
	vals := map[string]string{"device.class": "pi5"}
	lookup := func(k string) string { return vals[k] }
	for _, tc := range []struct{ def, want string }{
		{"${IGconf_device_class}-$(tr -dc 'a-z' < /dev/urandom | head -c 6)", "pi5-xxxxxx, random"},
		{"${IGconf_image_name}.img", "<image name>.img"},
		{"$(date +%Y)", "…"},
		{"200M", "200M"},
	} {
		if got := readableDefault(tc.def, lookup); got != tc.want {
			t.Errorf("%q → %q, want %q", tc.def, got, tc.want)
		}
	}
}

// TestHostnamePlaceholderReadable: a hostname default computed at build
// time reads as the device class and a random part.
func TestHostnamePlaceholderReadable(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	v := form.Var{Key: keyHostname, Name: "hostname", Default: "${IGconf_device_class}-$(tr -dc 'a-z' < /dev/urandom | head -c 6)"}
	if err := h.g.cfg.doc.Set("device.class", "pi5"); err != nil {
		t.Fatal(err)
	}
	f := h.g.cfg.newField(v)
	if got := f.entry.PlaceHolder; got != "pi5-xxxxxx, random" {
		t.Errorf("placeholder %q", got)
	}
}
