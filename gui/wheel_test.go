package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/pistudio/pistudio/flash/firstboot"
)

// middle is the absolute position of o's centre.
func middle(o fyne.CanvasObject) fyne.Position {
	at := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	return at.Add(fyne.NewPos(o.Size().Width/2, o.Size().Height/2))
}

// TestWheelOverAnEntryScrollsTheForm: the mouse wheel over a single-line
// entry scrolls the Configure form.
func TestWheelOverAnEntryScrollsTheForm(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	h.g.Show(SectionConfigure)
	h.layoutSmall()
	s := h.g.cfg.formScroll
	e := h.field(keyHostname).entry
	if !inView(s, e) || s.Offset.Y != 0 {
		t.Fatalf("the hostname field is not in view at the top")
	}
	test.Scroll(h.w.Canvas(), middle(e), 0, -40)
	if s.Offset.Y != 40 {
		t.Fatalf("the wheel over the entry scrolled the form to %v, want 40", s.Offset.Y)
	}
	test.Scroll(h.w.Canvas(), middle(h.g.cfg.devSel), 0, 40)
	if s.Offset.Y != 0 {
		t.Fatalf("the wheel back up left the form at %v", s.Offset.Y)
	}
}

// TestWheelOverAMultiLineEntry: a multi-line entry keeps the wheel while
// its text can scroll that way; at its end the wheel scrolls the form.
func TestWheelOverAMultiLineEntry(t *testing.T) {
	h := newHarness(t)
	custom := h.customReady(h.sampleImage())
	h.g.Show(SectionFlash)
	e := custom.entries[firstboot.FieldSSHKeys]
	e.SetText(strings.Repeat("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 pi@host\n", 12))
	h.layoutSmall()
	s := custom.scroll
	scrollTo(s, e)
	own := ownScroll(test.WidgetRenderer(e))
	if own == nil || own.Content.Size().Height <= own.Size().Height || !canScroll(s, fyne.NewDelta(0, -20)) {
		t.Fatal("the keys do not overflow their field, or the form cannot scroll down")
	}
	own.ScrollToOffset(fyne.Position{})
	before := s.Offset
	test.Scroll(h.w.Canvas(), middle(e), 0, -20)
	if own.Offset.Y != 20 || s.Offset != before {
		t.Fatalf("the entry did not keep the wheel: its text at %v, the form at %v (was %v)", own.Offset.Y, s.Offset, before)
	}
	own.ScrollToOffset(fyne.NewPos(0, own.Content.Size().Height-own.Size().Height))
	test.Scroll(h.w.Canvas(), middle(e), 0, -20)
	if s.Offset.Y != before.Y+20 {
		t.Fatalf("at the end of its text the wheel left the form at %v (was %v)", s.Offset.Y, before.Y)
	}
}
