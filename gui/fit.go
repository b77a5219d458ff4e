package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
)

// sectionMax is the most a section's content may ask for: with the tab
// bar beside it the window still fits an 800x600 screen.
var sectionMax = fyne.NewSize(640, 560)

// capLayout lays out one scroll over the whole area and asks for the
// scroll's content minimum, but never for more than max: content larger
// than that scrolls instead of growing the window.
type capLayout struct {
	scroll *container.Scroll
	max    fyne.Size
}

func (l *capLayout) MinSize([]fyne.CanvasObject) fyne.Size {
	m := l.scroll.Content.MinSize()
	return fyne.NewSize(min(m.Width, l.max.Width), min(m.Height, l.max.Height))
}

func (l *capLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// capped shows obj at the size of its area, scrolling it in either
// direction when the area is smaller than obj's minimum; it asks for at
// most max, so obj never raises the window's minimum size beyond it.
func capped(obj fyne.CanvasObject, max fyne.Size) fyne.CanvasObject {
	s := container.NewScroll(obj)
	return container.New(&capLayout{scroll: s, max: max}, s)
}
