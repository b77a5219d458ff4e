package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/builder/runner"
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

// TestStatusOfAnotherConfigIsCleared: opening another config clears the
// last build's status, stages and failure card.
func TestStatusOfAnotherConfigIsCleared(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	h.g.build.start(runner.StageFull)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	run := h.be.Runner.Last()
	run.Send(runner.Event{Kind: runner.EventLog, Text: "E: broken", Explain: "Fix it."})
	run.Finish(runner.Result{State: runner.Failed, ExitStatus: 1})
	h.waitFor("finish", func() bool { return !h.g.build.Running() && h.g.build.explainCard.Visible() })
	h.open("minimal-config.yaml")
	if got := h.g.build.status.Text; got != "Ready" || h.g.build.explainCard.Visible() {
		t.Errorf("status %q, failure card shown %v after opening another config", got, h.g.build.explainCard.Visible())
	}
}
