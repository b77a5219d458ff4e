// Package logview is a bounded, throttled log widget: lines arrive in
// batches from any goroutine, the view keeps only the last N of them (the
// full log lives in a file) and refreshes at most a few times a second. It
// follows the end until the user scrolls up, and offers search, copy and
// "open log file".
package logview

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// DefaultMax is the default number of lines kept in the view.
const DefaultMax = 20000

// DefaultInterval is the shortest time between two refreshes (20 per second).
const DefaultInterval = 50 * time.Millisecond

// maxLineLen caps one displayed line; the file keeps the full text.
const maxLineLen = 2000

// View is the log widget. Append may be called from any goroutine; every
// other method belongs to the UI goroutine.
type View struct {
	widget.BaseWidget

	// Interval is the shortest time between two refreshes.
	Interval time.Duration
	// OnOpenFile, when set, is called by the "Open log file" button.
	OnOpenFile func()

	do func(func())

	mu        sync.Mutex
	pending   []string
	scheduled bool
	lastFlush time.Time
	max       int // guarded by mu for Append's trimming

	refreshes atomic.Int64
	appended  atomic.Int64

	// UI goroutine only.
	ring       ring
	follow     bool
	lastBottom float32
	list       *widget.List
	followChk  *widget.Check
	search     *widget.Entry
	status     *widget.Label
	selected   int
	openBtn    *widget.Button
	width      *widthLayout // the list's width: the longest line seen
	longest    int          // runes of the longest line since Clear
}

// New returns a view keeping the last max lines. do schedules a function
// on the UI goroutine (fyne.Do in the app, a queue in tests).
func New(max int, do func(func())) *View {
	if max <= 0 {
		max = DefaultMax
	}
	v := &View{Interval: DefaultInterval, do: do, max: max, follow: true, selected: -1}
	v.ring = newRing(max)
	v.list = widget.NewList(v.ring.len, NewLine, func(id widget.ListItemID, o fyne.CanvasObject) {
		SetLine(o, v.ring.at(id))
	})
	v.list.HideSeparators = true
	v.list.OnSelected = func(id widget.ListItemID) { v.selected = id }
	v.list.OnUnselected = func(widget.ListItemID) { v.selected = -1 }
	v.followChk = widget.NewCheck("Follow", func(on bool) {
		v.follow = on
		if on {
			v.scrollEnd()
		}
	})
	v.followChk.SetChecked(true)
	v.search = widget.NewEntry()
	v.search.SetPlaceHolder("Search the log")
	v.search.OnSubmitted = func(string) { v.FindPrevious() }
	v.status = widget.NewLabel("")
	v.openBtn = widget.NewButtonWithIcon("Open log file", theme.FileTextIcon(), func() {
		if v.OnOpenFile != nil {
			v.OnOpenFile()
		}
	})
	v.openBtn.Disable() // until SetCanOpen(true): there is no log file yet
	v.width = &widthLayout{}
	v.ExtendBaseWidget(v)
	return v
}

// CreateRenderer lays out the toolbar above the line list.
func (v *View) CreateRenderer() fyne.WidgetRenderer {
	find := widget.NewButtonWithIcon("", theme.SearchIcon(), v.FindPrevious)
	cp := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), v.Copy)
	bar := container.NewBorder(nil, nil, nil,
		container.NewHBox(find, v.status, v.followChk, cp, v.openBtn),
		container.New(&widthLayout{min: searchMinWidth}, v.search))
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	// Long lines scroll sideways: the list is as wide as the longest line.
	return widget.NewSimpleRenderer(container.NewBorder(bar, nil, nil, nil,
		container.NewStack(bg, container.NewHScroll(container.New(v.width, v.list)))))
}

// Resize lays the view out again and, when following, keeps the end in
// sight (a panel appearing above or below must not leave it mid-log).
func (v *View) Resize(size fyne.Size) {
	v.BaseWidget.Resize(size)
	if v.follow {
		v.scrollEnd()
	}
}

// Append queues lines for display. It never blocks on the UI: lines are
// stripped of terminal colour codes here, kept bounded, and handed to the
// UI goroutine at most once per Interval.
func (v *View) Append(lines ...string) {
	if len(lines) == 0 {
		return
	}
	v.appended.Add(int64(len(lines)))
	v.mu.Lock()
	max := v.max
	if len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	for _, l := range lines {
		v.pending = append(v.pending, Clean(l))
	}
	if len(v.pending) > 2*max {
		v.pending = append([]string(nil), v.pending[len(v.pending)-max:]...)
	}
	if !v.scheduled {
		v.scheduled = true
		wait := v.Interval - time.Since(v.lastFlush)
		if wait < 0 {
			wait = 0
		}
		time.AfterFunc(wait, v.flush)
	}
	v.mu.Unlock()
}

func (v *View) flush() {
	v.mu.Lock()
	batch := v.pending
	v.pending = nil
	v.scheduled = false
	v.lastFlush = time.Now()
	v.mu.Unlock()
	v.do(func() { v.apply(batch) })
}

// apply runs on the UI goroutine.
func (v *View) apply(batch []string) {
	v.refreshes.Add(1)
	if v.follow && v.lastBottom > 0 && v.list.GetScrollOffset() < v.lastBottom-2 {
		// The user scrolled up since the last refresh: stop following.
		v.follow = false
		v.followChk.SetChecked(false)
	}
	v.ring.push(batch)
	v.widen(batch)
	v.list.Refresh()
	if v.follow {
		v.scrollEnd()
	}
}

func (v *View) scrollEnd() {
	v.list.ScrollToOffset(1 << 30)
	v.lastBottom = v.list.GetScrollOffset()
}

// SetCanOpen enables "Open log file" once a log file exists.
func (v *View) SetCanOpen(on bool) {
	if on {
		v.openBtn.Enable()
	} else {
		v.openBtn.Disable()
	}
}

// CanOpen reports whether "Open log file" is enabled.
func (v *View) CanOpen() bool { return !v.openBtn.Disabled() }

// ContentWidth is the width the lines need (the list scrolls sideways
// when the view is narrower).
func (v *View) ContentWidth() float32 { return v.width.min }

// widen makes the list as wide as the longest line seen since Clear.
func (v *View) widen(batch []string) {
	n := v.longest
	for _, l := range batch {
		if len(l) > n { // bytes bound runes: count only when it may matter
			if r := utf8.RuneCountInString(l); r > n {
				n = r
			}
		}
	}
	if n == v.longest {
		return
	}
	v.longest = n
	char := fyne.MeasureText("M", theme.TextSize(), fyne.TextStyle{Monospace: true}).Width
	v.width.min = float32(n)*char + 4*theme.Padding()
}

// searchMinWidth keeps the search field's placeholder readable in a
// narrow window.
const searchMinWidth = 170

// widthLayout gives its one object at least min width.
type widthLayout struct{ min float32 }

func (l *widthLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	s := objects[0].MinSize()
	return fyne.NewSize(max(l.min, s.Width), s.Height)
}

func (l *widthLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	objects[0].Move(fyne.NewPos(0, 0))
	objects[0].Resize(size)
}

// Clear empties the view and any queued lines.
func (v *View) Clear() {
	v.mu.Lock()
	v.pending = nil
	v.mu.Unlock()
	v.ring = newRing(v.ring.cap())
	v.selected = -1
	v.lastBottom = 0
	v.longest, v.width.min = 0, 0
	v.list.UnselectAll()
	v.list.Refresh()
	v.status.SetText("")
}

// SetMax changes the number of lines kept; the view is cleared.
func (v *View) SetMax(max int) {
	if max <= 0 {
		max = DefaultMax
	}
	v.mu.Lock()
	v.max = max
	v.mu.Unlock()
	v.ring = newRing(max)
	v.list.Refresh()
}

// Len returns the number of lines shown.
func (v *View) Len() int { return v.ring.len() }

// Line returns a shown line; 0 is the oldest.
func (v *View) Line(i int) string { return v.ring.at(i) }

// Following reports whether the view follows the end.
func (v *View) Following() bool { return v.follow }

// Refreshes returns how many times the view was refreshed with new lines.
func (v *View) Refreshes() int64 { return v.refreshes.Load() }

// Appended returns how many lines were handed to Append in total.
func (v *View) Appended() int64 { return v.appended.Load() }

// SetSearch sets the search text.
func (v *View) SetSearch(s string) { v.search.SetText(s) }

// FindPrevious selects the newest line above the selection (or the end)
// that contains the search text, ignoring case.
func (v *View) FindPrevious() {
	q := strings.ToLower(strings.TrimSpace(v.search.Text))
	if q == "" {
		v.status.SetText("")
		return
	}
	start := v.ring.len() - 1
	if v.selected >= 0 {
		start = v.selected - 1
	}
	for i := start; i >= 0; i-- {
		if strings.Contains(strings.ToLower(v.ring.at(i)), q) {
			v.follow = false
			v.followChk.SetChecked(false)
			v.list.Select(i)
			v.list.ScrollTo(i)
			v.status.SetText("")
			return
		}
	}
	v.status.SetText("No match")
}

// Selected returns the selected line index or -1.
func (v *View) Selected() int { return v.selected }

// Text returns the selected line, or every shown line when none is selected.
func (v *View) Text() string {
	if v.selected >= 0 && v.selected < v.ring.len() {
		return v.ring.at(v.selected)
	}
	var b strings.Builder
	for i := 0; i < v.ring.len(); i++ {
		b.WriteString(v.ring.at(i))
		b.WriteByte('\n')
	}
	return b.String()
}

// Copy puts Text on the clipboard.
func (v *View) Copy() {
	fyne.CurrentApp().Clipboard().SetContent(v.Text())
}

// Clean removes terminal escape sequences and carriage returns and caps
// the line length.
func Clean(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 && strings.IndexByte(s, '\r') < 0 && strings.IndexByte(s, '\t') < 0 && len(s) <= maxLineLen {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b:
			// CSI: ESC [ params final-byte; other ESC x pairs are skipped whole.
			if i+1 < len(s) && s[i+1] == '[' {
				j := i + 2
				for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
					j++
				}
				i = j
			} else if i+1 < len(s) && (s[i+1] == '(' || s[i+1] == ')') {
				i += 2 // charset designation: ESC ( B
			} else {
				i++
			}
		case c == '\r':
		case c == '\t':
			b.WriteString("    ")
		default:
			b.WriteByte(c)
		}
		if b.Len() >= maxLineLen {
			b.WriteString("…")
			break
		}
	}
	return b.String()
}

// ring is a fixed-capacity line buffer; index 0 is the oldest line.
type ring struct {
	buf   []string
	start int
	n     int
}

func newRing(capacity int) ring { return ring{buf: make([]string, capacity)} }

func (r *ring) cap() int { return len(r.buf) }
func (r *ring) len() int { return r.n }

func (r *ring) at(i int) string {
	if i < 0 || i >= r.n {
		return ""
	}
	return r.buf[(r.start+i)%len(r.buf)]
}

func (r *ring) push(lines []string) {
	c := len(r.buf)
	if len(lines) >= c {
		copy(r.buf, lines[len(lines)-c:])
		r.start, r.n = 0, c
		return
	}
	for _, l := range lines {
		if r.n < c {
			r.buf[(r.start+r.n)%c] = l
			r.n++
		} else {
			r.buf[r.start] = l
			r.start = (r.start + 1) % c
		}
	}
}

// NewLine returns a list row showing one monospace line (see SetLine).
func NewLine() fyne.CanvasObject {
	t := canvas.NewText("", theme.Color(theme.ColorNameForeground))
	t.TextStyle = fyne.TextStyle{Monospace: true}
	t.TextSize = theme.TextSize()
	return container.New(rowLayout{}, t)
}

// SetLine shows text in a row made by NewLine.
func SetLine(o fyne.CanvasObject, text string) {
	t := o.(*fyne.Container).Objects[0].(*canvas.Text)
	t.Text = text
	t.Color = theme.Color(theme.ColorNameForeground)
	t.Refresh()
}

// rowLayout gives a log line a whole-pixel height, so that rows sit at
// whole-pixel offsets: Fyne 2.7 draws a text's glyphs into a texture of the
// text's own height and at fractional offsets loses the monospace
// underscore, which sits on the font's descent line.
type rowLayout struct{}

func (rowLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	s := objects[0].MinSize()
	return fyne.NewSize(s.Width, float32(math.Ceil(float64(s.Height)))+1)
}

func (rowLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	objects[0].Move(fyne.NewPos(theme.Padding(), 0))
	objects[0].Resize(objects[0].MinSize())
}
