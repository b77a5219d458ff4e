package gui

import (
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"

	"github.com/pistudio/pistudio/flash/firstboot"
)

// small is the window size of the scrolling tests: forms do not fit it.
var small = fyne.NewSize(800, 600)

// layoutSmall lays the window out again at the small size, as the
// driver does when what it shows has grown (the test canvas does not).
func (h *harness) layoutSmall() {
	h.w.Resize(small.AddWidthHeight(1, 1))
	h.w.Resize(small)
}

// inView reports whether o lies wholly in the visible part of s.
func inView(s *container.Scroll, o fyne.CanvasObject) bool {
	d := fyne.CurrentApp().Driver()
	at := d.AbsolutePositionForObject(o).Subtract(d.AbsolutePositionForObject(s))
	const slack = 0.5
	return at.Y >= -slack && at.Y+o.Size().Height <= s.Size().Height+slack
}

// tabTo moves the focus with move (Tab or Shift+Tab) until target has
// it, failing as soon as a focused object inside s is out of its view.
func (h *harness) tabTo(move func(), target fyne.Focusable, s *container.Scroll) {
	h.t.Helper()
	c := h.w.Canvas()
	for i := 0; c.Focused() != target; i++ {
		if i == 500 {
			h.t.Fatalf("the focus never reached the %T", target)
		}
		move()
		o, ok := c.Focused().(fyne.CanvasObject)
		if ok && slices.Contains(scrollsAround(o), s) && !inView(s, o) {
			h.t.Fatalf("Tab step %d: the focused %T is out of view (scrolled to %v of %v)",
				i, o, s.Offset.Y, s.Content.Size().Height-s.Size().Height)
		}
	}
}

// lowestField is the Configure field shown lowest in the form.
func (h *harness) lowestField() fyne.Focusable {
	d := fyne.CurrentApp().Driver()
	var low fyne.CanvasObject
	for _, f := range h.g.cfg.fields {
		if low == nil || d.AbsolutePositionForObject(f.obj).Y > d.AbsolutePositionForObject(low).Y {
			low = f.obj
		}
	}
	return low.(fyne.Focusable)
}

// TestTabScrollsTheFocusedFieldIntoView: in an 800x600 window, Tab down
// the Configure form to its last field keeps every focused field in
// view, scrolling the form; Shift+Tab back up to the first field does
// too.
func TestTabScrollsTheFocusedFieldIntoView(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	h.g.Show(SectionConfigure)
	h.layoutSmall()
	s := h.g.cfg.formScroll
	last := h.lowestField()
	if inView(s, last.(fyne.CanvasObject)) {
		t.Fatal("the whole form fits: nothing to scroll")
	}
	c := h.w.Canvas()
	h.tabTo(c.FocusNext, last, s)
	down := s.Offset.Y
	if down == 0 || !inView(s, last.(fyne.CanvasObject)) {
		t.Fatalf("Tab to the last field left the form at %v", down)
	}
	h.tabTo(c.FocusPrevious, h.g.cfg.devSel, s)
	if s.Offset.Y >= down || !inView(s, h.g.cfg.devSel) {
		t.Fatalf("Shift+Tab to the first field left the form at %v", s.Offset.Y)
	}
}

// TestTabScrollsEveryForm: the Settings and Flash sections' forms follow
// the focus too.
func TestTabScrollsEveryForm(t *testing.T) {
	h := newHarness(t)
	custom := h.customReady(h.sampleImage())
	custom.enable.SetChecked(true)
	h.g.doctor.cacheOn.SetChecked(true) // enables the cache fields at the bottom
	for _, tc := range []struct {
		section int
		scroll  *container.Scroll
		target  fyne.Focusable
	}{
		{SectionSettings, h.g.settings.content.(*container.Scroll), h.g.doctor.offline},
		{SectionFlash, custom.scroll, custom.entries[firstboot.FieldTimezone]},
	} {
		h.g.Show(tc.section)
		h.layoutSmall()
		h.w.Canvas().Unfocus()
		if inView(tc.scroll, tc.target.(fyne.CanvasObject)) {
			t.Fatalf("%s: the whole form fits: nothing to scroll", Sections[tc.section])
		}
		h.tabTo(h.w.Canvas().FocusNext, tc.target, tc.scroll)
		if !inView(tc.scroll, tc.target.(fyne.CanvasObject)) {
			t.Errorf("%s: the last field is out of view", Sections[tc.section])
		}
	}
}
