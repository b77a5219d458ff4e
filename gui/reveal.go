package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// reveal scrolls every scroll container around o, the innermost first,
// just as far as needed for o to be wholly in view: a field that gets
// the keyboard focus below or above the visible part of its form comes
// to the nearest edge.
func reveal(o fyne.CanvasObject) {
	ss := scrollsAround(o)
	for i := len(ss) - 1; i >= 0; i-- {
		scrollTo(ss[i], o)
	}
}

// scrollTo moves s the least that shows o (its top-left part when o is
// larger than s).
func scrollTo(s *container.Scroll, o fyne.CanvasObject) {
	d := fyne.CurrentApp().Driver()
	at := d.AbsolutePositionForObject(o).Subtract(d.AbsolutePositionForObject(s))
	off := s.Offset
	if scrollsVertically(s) {
		off.Y = nearestOffset(off.Y, at.Y, o.Size().Height, s.Size().Height)
	}
	if scrollsHorizontally(s) {
		off.X = nearestOffset(off.X, at.X, o.Size().Width, s.Size().Width)
	}
	s.ScrollToOffset(off)
}

// nearestOffset is the scroll offset, along one axis, that shows an
// object at at (relative to the visible area) of length size in a view
// of length view, moved from off as little as possible.
func nearestOffset(off, at, size, view float32) float32 {
	switch {
	case at < 0:
		return off + at
	case at+size > view:
		return off + min(at, at+size-view)
	}
	return off
}

func scrollsVertically(s *container.Scroll) bool {
	return s.Direction == container.ScrollVerticalOnly || s.Direction == container.ScrollBoth
}

func scrollsHorizontally(s *container.Scroll) bool {
	return s.Direction == container.ScrollHorizontalOnly || s.Direction == container.ScrollBoth
}

// scrollsAround returns the scroll containers that hold o on its
// canvas (the top dialog first, else the window content), outermost
// first; none when o is not shown.
func scrollsAround(o fyne.CanvasObject) []*container.Scroll {
	c := fyne.CurrentApp().Driver().CanvasForObject(o)
	if c == nil {
		return nil
	}
	for _, root := range []fyne.CanvasObject{c.Overlays().Top(), c.Content()} {
		if path, ok := scrollPath(root, o, nil); ok {
			return path
		}
	}
	return nil
}

// scrollPath appends to path the scroll containers from "from" down to
// o; ok is false when o is not shown inside from.
func scrollPath(from, o fyne.CanvasObject, path []*container.Scroll) ([]*container.Scroll, bool) {
	if from == nil || !from.Visible() {
		return path, false
	}
	if from == o {
		return path, true
	}
	if s, ok := from.(*container.Scroll); ok {
		path = append(path, s)
	}
	for _, child := range shownChildren(from) {
		if p, ok := scrollPath(child, o, path); ok {
			return p, true
		}
	}
	return path, false
}

// shownChildren lists what o shows inside it, for the kinds of objects
// the app's forms are built of (containers, scrolls, cards, splits, tabs,
// dialogs and Fyne's form); other widgets count as leaves.
func shownChildren(o fyne.CanvasObject) []fyne.CanvasObject {
	switch t := o.(type) {
	case *fyne.Container:
		return t.Objects
	case *container.Scroll:
		return []fyne.CanvasObject{t.Content}
	case *widget.Card:
		return []fyne.CanvasObject{t.Content}
	case *container.Split:
		return []fyne.CanvasObject{t.Leading, t.Trailing}
	case *container.AppTabs:
		if it := t.Selected(); it != nil {
			return []fyne.CanvasObject{it.Content}
		}
	case *widget.PopUp:
		return []fyne.CanvasObject{t.Content}
	case *widget.Form:
		var out []fyne.CanvasObject
		for _, it := range t.Items {
			out = append(out, it.Widget)
		}
		return out
	}
	return nil
}
