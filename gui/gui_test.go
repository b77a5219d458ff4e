package gui

import (
	"testing"

	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
)

func TestMainHasEverySection(t *testing.T) {
	a := test.NewTempApp(t)
	w := a.NewWindow(Title)
	c := NewMain(a, w)
	tabs, ok := c.(*container.AppTabs)
	if !ok {
		t.Fatalf("content is %T, want *container.AppTabs", c)
	}
	if len(tabs.Items) != len(Sections) {
		t.Fatalf("%d tabs, want %d", len(tabs.Items), len(Sections))
	}
	for i, it := range tabs.Items {
		if it.Text != Sections[i] {
			t.Errorf("tab %d = %q, want %q", i, it.Text, Sections[i])
		}
	}
}
