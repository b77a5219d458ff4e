package gui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestProblemJumpsToField: tapping a problem of the summary scrolls the
// form to its field and focuses it.
func TestProblemJumpsToField(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	f := h.field("raid.devices")
	f.entry.SetText("12")
	h.validated()
	h.g.cfg.formScroll.ScrollToTop()
	if len(h.g.cfg.summary.Objects) == 0 {
		t.Fatal("no problem listed")
	}
	l, ok := h.g.cfg.summary.Objects[0].(*tapLabel)
	if !ok {
		t.Fatalf("summary row is a %T", h.g.cfg.summary.Objects[0])
	}
	test.Tap(l)
	if h.w.Canvas().Focused() != f.entry {
		t.Error("the field is not focused")
	}
	if h.g.cfg.formScroll.Offset.Y <= 0 {
		t.Error("the form did not scroll to the field")
	}
}

// TestHostnameMustBeRFC1123: a host name with an underscore or a leading
// hyphen is flagged at its field; a valid one is not.
func TestHostnameMustBeRFC1123(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	e := h.field(keyHostname).entry
	for _, bad := range []string{"my_pi", "-pi", "pi-", "p i"} {
		if e.Validator(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"pi5", "raid-device", "P1"} {
		if err := e.Validator(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
}
