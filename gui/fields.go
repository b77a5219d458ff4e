package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// The fields and buttons of the app's forms. Each scrolls itself into
// view when it gets the keyboard focus (reveal.go), and the mouse wheel
// over an entry scrolls the form around it unless the entry's own text
// can scroll that way (wheel.go). Selects, checks and buttons do not take
// the wheel, so it reaches the form over them already.

// formEntry is a text field of a form. Set Password or MultiLine before
// it is shown for those kinds.
type formEntry struct {
	widget.Entry
	self fyne.Widget // the widget in the tree: this entry or one embedding it
}

func newFormEntry() *formEntry {
	e := &formEntry{}
	e.extend(e)
	return e
}

// extend makes self, this entry or a widget embedding it, the widget
// shown, with NewEntry's defaults.
func (e *formEntry) extend(self fyne.Widget) {
	e.self = self
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ExtendBaseWidget(self)
}

// CreateRenderer is the entry's renderer under a wheel catcher.
func (e *formEntry) CreateRenderer() fyne.WidgetRenderer {
	r := e.Entry.CreateRenderer()
	return withWheel(r, e.self, func() *container.Scroll { return ownScroll(r) })
}

// FocusGained shows the focus and scrolls the entry into view.
func (e *formEntry) FocusGained() {
	e.Entry.FocusGained()
	reveal(e.self)
}

// formSelect is a drop-down field of a form.
type formSelect struct{ widget.Select }

func newFormSelect(options []string, changed func(string)) *formSelect {
	s := &formSelect{}
	s.Options, s.OnChanged = options, changed
	s.ExtendBaseWidget(s)
	return s
}

// FocusGained shows the focus and scrolls the select into view.
func (s *formSelect) FocusGained() {
	s.Select.FocusGained()
	reveal(s)
}

// formCheck is a check box of a form.
type formCheck struct{ widget.Check }

func newFormCheck(label string, changed func(bool)) *formCheck {
	c := &formCheck{}
	c.Text, c.OnChanged = label, changed
	c.ExtendBaseWidget(c)
	return c
}

// FocusGained shows the focus and scrolls the check box into view.
func (c *formCheck) FocusGained() {
	c.Check.FocusGained()
	reveal(c)
}

// formButton is a button inside a form.
type formButton struct{ widget.Button }

func newFormButton(label string, icon fyne.Resource, tapped func()) *formButton {
	b := &formButton{}
	b.Text, b.Icon, b.OnTapped = label, icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

// FocusGained shows the focus and scrolls the button into view.
func (b *formButton) FocusGained() {
	b.Button.FocusGained()
	reveal(b)
}
