package gui

import (
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/gui/demo"
	"github.com/pistudio/pistudio/gui/form"
)

// vars makes variables of keys.
func vars(keys ...string) []form.Var {
	out := make([]form.Var, len(keys))
	for i, k := range keys {
		out[i] = form.Var{Key: k}
	}
	return out
}

// TestByUsage: rpi-image-gen's variables a user sets most come first, the
// others keep their layer's order.
func TestByUsage(t *testing.T) {
	got := byUsage(vars("device.class", "device.user1uid", "device.user1pass", "device.storage_type",
		"device.user1", "device.hostname", "ssh.pubkey_only", "ssh.pubkey_user1", "locale.timezone",
		"locale.keyboard_layout", "locale.keyboard_keymap", "locale.default", "device.user2", "raid.level"))
	var keys []string
	for _, v := range got {
		keys = append(keys, v.Key)
	}
	want := []string{"device.hostname", "device.user1", "device.user1pass", "ssh.pubkey_user1",
		"locale.default", "locale.keyboard_keymap", "locale.keyboard_layout", "locale.timezone",
		"device.class", "device.user1uid", "device.storage_type", "ssh.pubkey_only", "device.user2", "raid.level"}
	if !slices.Equal(keys, want) {
		t.Errorf("order\n%v\nwant\n%v", keys, want)
	}
}

// rowOrder lists the keys of the fields in form, in the order shown.
func (h *harness) rowOrder(form *fyne.Container) []string {
	var out []string
	for _, o := range form.Objects {
		for k, f := range h.g.cfg.fields {
			if f.row == o {
				out = append(out, k)
			}
		}
	}
	return out
}

// TestFormShowsMostUsedFirst: in the device card and in a section's card
// the most-used variables come first.
func TestFormShowsMostUsedFirst(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	cat := append(listCatalog{}, demo.NewCatalog().Layers()...)
	for i, l := range cat {
		switch l.Name {
		case "rpi5":
			cat[i].Vars = vars("device.storage_type", "device.user1pass", "device.user1")
		case "raid":
			cat[i].Vars = append(vars("locale.keyboard_layout", "locale.extra", "locale.timezone"), l.Vars...)
		case "bookworm-minbase":
			cat[i].Vars = vars("locale.default")
		}
	}
	h.g.cfg.setCatalog(cat)
	h.validated()
	if got, want := h.rowOrder(h.g.cfg.devForm), []string{keyHostname, "device.user1", "device.user1pass", "device.storage_type"}; !slices.Equal(got, want) {
		t.Errorf("device card %v, want %v", got, want)
	}
	var locale []string
	for _, o := range h.g.cfg.extra.Objects {
		if c, ok := o.(*widget.Card); ok && c.Title == "Locale" {
			locale = h.rowOrder(c.Content.(*fyne.Container))
		}
	}
	if want := []string{"locale.default", "locale.keyboard_layout", "locale.timezone", "locale.extra"}; !slices.Equal(locale, want) {
		t.Errorf("locale card %v, want %v", locale, want)
	}
}
