package gui

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/pistudio/pistudio/builder/runner"
	rcause "github.com/pistudio/pistudio/builder/runner/cause"
)

// The Build section shows the cause the runner recorded, the same one
// the command line and the run record show; the environment dump in the
// run's error never reaches the details.
func TestCauseOfShowsTheRecordedCause(t *testing.T) {
	rc := &rcause.Cause{Kind: rcause.Generic, Summary: "apt cannot reach archive.raspberrypi.com", Fix: "Check the network.",
		Line: "E: Could not resolve 'archive.raspberrypi.com'", LineNo: 42}
	res := &runner.Result{State: runner.Failed, ExitStatus: 1, Cause: rc,
		Err: errors.New("generate_filesystem failed\nIGconf_device_class=pi5\n[SET] IGconf_image_name=x")}
	got := causeOf(res)
	if got.Line != rc.Summary || got.Fix != rc.Fix {
		t.Errorf("cause %+v, want the recorded one", got)
	}
	if !strings.Contains(got.Details, "Log line 42: E: Could not resolve") {
		t.Errorf("details %q lack the log line the cause was read from", got.Details)
	}
	for _, s := range []string{got.Line, got.Fix, got.Details} {
		if strings.Contains(s, "IGconf_") {
			t.Errorf("the environment dump is shown: %q", s)
		}
	}
	if !strings.Contains(got.Details, "generate_filesystem failed") || !strings.Contains(got.Details, "Exit status 1") {
		t.Errorf("details %q", got.Details)
	}
}

// A result without a cause (a run that ended without one) still says the
// build failed and what to do, with the error in the details.
func TestCauseOfWithoutARecordedCause(t *testing.T) {
	got := causeOf(&runner.Result{State: runner.Failed, ExitStatus: 2, Err: errors.New("the build ended without a result")})
	if got.Line == "" || got.Fix == "" || !strings.Contains(got.Details, "ended without a result") {
		t.Errorf("%+v", got)
	}
}

// TestFailedBuildShowsCause: a failed build shows the runner's cause and
// what to do, hides the details until asked, and keeps the log visible.
func TestFailedBuildShowsCause(t *testing.T) {
	h := newHarness(t)
	run := h.startFullBuild("raid-config.yaml")
	run.Send(runner.Event{Kind: runner.EventLog, Text: "IGconf_device_class=pi5"})
	run.Send(runner.Event{Kind: runner.EventLog, Text: "E: Could not resolve 'archive.raspberrypi.com'", Explain: "Check the network."})
	run.Send(runner.Event{Kind: runner.EventStageStarted, Stage: "generate_filesystem"})
	run.Send(runner.Event{Kind: runner.EventStageFinished, Stage: "generate_filesystem"})
	// The runner's finder chose the cause from the log (the line it explained).
	run.Finish(runner.Result{State: runner.Failed, ExitStatus: 1, Err: errors.New("IGconf_device_class=pi5\nstage failed"),
		Cause: &rcause.Cause{Kind: rcause.Generic, Summary: "E: Could not resolve 'archive.raspberrypi.com'", Fix: "Check the network.",
			Line: "E: Could not resolve 'archive.raspberrypi.com'", LineNo: 2}})
	h.waitFor("finish", func() bool { return !h.g.build.Running() })
	b := h.g.build
	if !b.explainCard.Visible() || !b.causeLine.Visible() || b.causeLine.Text != "E: Could not resolve 'archive.raspberrypi.com'" {
		t.Fatalf("cause line %q (visible %v)", b.causeLine.Text, b.causeLine.Visible())
	}
	if b.explain.Text != "Check the network." {
		t.Errorf("fix %q", b.explain.Text)
	}
	if got := b.status.Text; got != "Build failed in generate_filesystem" {
		t.Errorf("status %q", got)
	}
	if b.detailsBox.Visible() || !b.detailsBtn.Visible() {
		t.Fatal("details shown before asked, or no toggle")
	}
	test.Tap(b.detailsBtn)
	if !b.detailsBox.Visible() || strings.Contains(b.details.Text, "IGconf_") || !strings.Contains(b.details.Text, "stage failed") {
		t.Errorf("details %q (visible %v)", b.details.Text, b.detailsBox.Visible())
	}
	test.Tap(b.detailsBtn)
	if b.detailsBox.Visible() {
		t.Error("the toggle does not hide the details")
	}
	h.waitFor("log lines", func() bool { return b.log.Len() == 2 })
	if !b.log.Visible() {
		t.Error("the log is hidden")
	}
}
