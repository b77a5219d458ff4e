package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// wheelRenderer is a field's renderer with a wheel catcher laid over the
// whole field: Fyne gives a wheel event to the innermost scrollable
// object under the pointer, which for an entry is the entry's own text
// scroller, so without the catcher the form would not scroll over it.
type wheelRenderer struct {
	fyne.WidgetRenderer
	catcher *wheelCatcher
}

// withWheel wraps the renderer r of field: the wheel over the field
// scrolls the field's own scroller (own, nil when it has none) while
// that can move that way, and the scroll containers around the field
// otherwise.
func withWheel(r fyne.WidgetRenderer, field fyne.Widget, own func() *container.Scroll) fyne.WidgetRenderer {
	c := &wheelCatcher{field: field, own: own}
	c.ExtendBaseWidget(c)
	c.Resize(field.Size())
	return &wheelRenderer{WidgetRenderer: r, catcher: c}
}

// Layout lays the field out and the catcher over all of it.
func (r *wheelRenderer) Layout(size fyne.Size) {
	r.WidgetRenderer.Layout(size)
	r.catcher.Move(fyne.Position{})
	r.catcher.Resize(size)
}

// Objects are the field's objects with the catcher last, on top.
func (r *wheelRenderer) Objects() []fyne.CanvasObject {
	objs := r.WidgetRenderer.Objects()
	return append(objs[:len(objs):len(objs)], r.catcher)
}

// wheelCatcher takes the wheel events over a field and nothing else (it
// is neither tappable nor hoverable, so clicks, drags and the cursor
// still reach the field under it).
type wheelCatcher struct {
	widget.BaseWidget
	field fyne.CanvasObject
	own   func() *container.Scroll
}

// CreateRenderer draws nothing.
func (c *wheelCatcher) CreateRenderer() fyne.WidgetRenderer { return emptyRenderer{} }

// Scrolled scrolls the field's own scroller while it can move that way,
// else the scroll containers around the field.
func (c *wheelCatcher) Scrolled(ev *fyne.ScrollEvent) {
	if own := c.own(); own != nil && canScroll(own, ev.Scrolled) {
		own.Scrolled(ev)
		return
	}
	passWheel(c.field, ev)
}

// passWheel gives a wheel event over o to the innermost scroll container
// around o that can move that way; when none can, nothing moves.
func passWheel(o fyne.CanvasObject, ev *fyne.ScrollEvent) {
	ss := scrollsAround(o)
	for i := len(ss) - 1; i >= 0; i-- {
		if canScroll(ss[i], ev.Scrolled) {
			ss[i].Scrolled(ev)
			return
		}
	}
}

// canScroll reports whether s can move the way d asks: up or down when
// d is mostly vertical, left or right otherwise.
func canScroll(s *container.Scroll, d fyne.Delta) bool {
	if s.Content == nil || d.DX == 0 && d.DY == 0 {
		return false
	}
	room := s.Content.Size().Subtract(s.Size())
	if abs32(d.DY) >= abs32(d.DX) {
		return scrollsVertically(s) && canMove(s.Offset.Y, room.Height, d.DY)
	}
	return scrollsHorizontally(s) && canMove(s.Offset.X, room.Width, d.DX)
}

// canMove reports whether an offset off in [0, room] can move by a wheel
// delta (positive moves the content down, towards offset 0).
func canMove(off, room, delta float32) bool {
	if delta > 0 {
		return off > 0
	}
	return off < room
}

func abs32(f float32) float32 {
	if f < 0 {
		return -f
	}
	return f
}

// ownScroll finds a field's own scroller among its renderer's objects.
func ownScroll(r fyne.WidgetRenderer) *container.Scroll {
	for _, o := range r.Objects() {
		if s, ok := o.(*container.Scroll); ok && s.Visible() {
			return s
		}
	}
	return nil
}

// emptyRenderer draws nothing.
type emptyRenderer struct{}

// Destroy has nothing to free.
func (emptyRenderer) Destroy() {}

// Layout has nothing to place.
func (emptyRenderer) Layout(fyne.Size) {}

// MinSize is zero.
func (emptyRenderer) MinSize() fyne.Size { return fyne.Size{} }

// Objects are none.
func (emptyRenderer) Objects() []fyne.CanvasObject { return nil }

// Refresh has nothing to redraw.
func (emptyRenderer) Refresh() {}
