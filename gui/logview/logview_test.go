package logview

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"\x1b[1m==> deploy\x1b[0m", "==> deploy"},
		{"\x1b[38;5;196mred\x1b[m text", "red text"},
		{"progress\r", "progress"},
		{"a\tb", "a    b"},
		{"\x1b(Bx", "x"},
		{"broken \x1b[", "broken "},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Clean(strings.Repeat("x", 5000)); len(got) > maxLineLen+4 {
		t.Errorf("long line kept %d bytes", len(got))
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "\x1b[1mx", "\x1b", "\r\n\t", strings.Repeat("\x1b[", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		if strings.ContainsRune(out, 0x1b) && !strings.ContainsRune(s, 0x1b) {
			t.Fatal("escape introduced")
		}
		if strings.ContainsRune(out, '\r') {
			t.Fatal("carriage return kept")
		}
	})
}

func TestRing(t *testing.T) {
	tests := []struct {
		cap     int
		batches [][]string
		want    []string
	}{
		{3, [][]string{{"a"}, {"b"}}, []string{"a", "b"}},
		{3, [][]string{{"a", "b"}, {"c", "d"}}, []string{"b", "c", "d"}},
		{3, [][]string{{"a"}, {"b", "c", "d", "e", "f"}}, []string{"d", "e", "f"}},
		{2, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}}, []string{"d", "e"}},
	}
	for i, tt := range tests {
		r := newRing(tt.cap)
		for _, b := range tt.batches {
			r.push(b)
		}
		var got []string
		for j := 0; j < r.len(); j++ {
			got = append(got, r.at(j))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%d: %v, want %v", i, got, tt.want)
		}
	}
}

// queue stands in for fyne.Do: the test goroutine runs what is queued.
type queue chan func()

func (q queue) do(f func()) { q <- f }

func (q queue) runUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case f := <-q:
			f()
		case <-deadline:
			t.Fatal("timeout")
		case <-time.After(time.Millisecond):
		}
	}
}

func newView(t *testing.T, max int) (*View, queue) {
	t.Helper()
	a := test.NewTempApp(t)
	q := make(queue, 1024)
	v := New(max, q.do)
	w := a.NewWindow("log")
	w.SetContent(v)
	w.Resize(fyne.NewSize(600, 300))
	return v, q
}

func TestFloodIsBoundedAndBatched(t *testing.T) {
	v, q := newView(t, 1000)
	const n = 200000
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			v.Append(fmt.Sprintf("line %d", i))
		}
	}()
	q.runUntil(t, func() bool { return v.Len() > 0 && v.Line(v.Len()-1) == fmt.Sprintf("line %d", n-1) })
	el := time.Since(t0)
	if v.Len() != 1000 || v.Line(0) != fmt.Sprintf("line %d", n-1000) {
		t.Errorf("len %d, first %q", v.Len(), v.Line(0))
	}
	if max := int64(el/DefaultInterval) + 2; v.Refreshes() > max {
		t.Errorf("%d refreshes in %v, want ≤ %d", v.Refreshes(), el, max)
	}
}

func TestSearchStopsFollowing(t *testing.T) {
	v, q := newView(t, 100)
	v.Append("alpha", "beta", "gamma", "beta two", "delta")
	q.runUntil(t, func() bool { return v.Len() == 5 })
	if !v.Following() {
		t.Fatal("not following at start")
	}
	v.SetSearch("BETA")
	v.FindPrevious()
	if v.Selected() != 3 || v.Following() {
		t.Errorf("selected %d following %v, want 3 and not following", v.Selected(), v.Following())
	}
	v.FindPrevious()
	if v.Selected() != 1 {
		t.Errorf("second search selected %d, want 1", v.Selected())
	}
	if v.Text() != "beta" {
		t.Errorf("Text() = %q", v.Text())
	}
	v.SetSearch("nothing")
	v.FindPrevious()
	if v.status.Text != "No match" {
		t.Errorf("status %q", v.status.Text)
	}
	v.Copy()
	if got := fyne.CurrentApp().Clipboard().Content(); got != "beta" {
		t.Errorf("clipboard %q", got)
	}
}

// TestLongLinesScrollSideways: the list is as wide as the longest line,
// so a horizontal scroll reveals it; Clear starts again.
func TestLongLinesScrollSideways(t *testing.T) {
	v, q := newView(t, 100)
	v.Append("short")
	q.runUntil(t, func() bool { return v.Len() == 1 })
	short := v.ContentWidth()
	v.Append(strings.Repeat("x", 400))
	q.runUntil(t, func() bool { return v.Len() == 2 })
	if w := v.ContentWidth(); w < 4*short || w < 1000 {
		t.Errorf("content width %v for a 400-character line (short line: %v)", w, short)
	}
	v.Clear()
	if v.ContentWidth() != 0 {
		t.Errorf("width %v after Clear", v.ContentWidth())
	}
}

func TestOpenFileNeedsALog(t *testing.T) {
	v, _ := newView(t, 100)
	if v.CanOpen() {
		t.Error("Open log file enabled without a log")
	}
	v.SetCanOpen(true)
	if !v.CanOpen() {
		t.Error("not enabled")
	}
}
