package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/widget"
)

// TestBuildShowsPastBuilds: the Build section lists the work dir's past
// builds, newest first.
func TestBuildShowsPastBuilds(t *testing.T) {
	h := newHarness(t)
	if h.g.build.histCard.Visible() {
		t.Fatal("past builds shown before they were read")
	}
	h.g.Show(SectionBuild)
	h.waitFor("history", func() bool { return h.g.build.histCard.Visible() })
	rows := h.g.build.history.Objects
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	first, second := rows[0].(*widget.Label).Text, rows[1].(*widget.Label).Text
	if !strings.Contains(first, "succeeded") || !strings.Contains(second, "failed") || !strings.Contains(first, "raid-config.yaml") {
		t.Errorf("rows %q, %q: want the newest (succeeded) first", first, second)
	}
}
