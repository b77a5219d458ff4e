package gui

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/pistudio/pistudio/builder/runner"
)

func TestCauseOfSkipsTheEnvironmentDump(t *testing.T) {
	var c causeLog
	for _, l := range []string{
		"IGconf_device_class=pi5",
		"[SET] IGconf_image_name=failed-image",
		"IGconf_sys_apt_proxy=http://error:3142",
		"I: downloading packages with apt...",
		"E: Could not resolve 'archive.raspberrypi.com'",
		"E: later error",
	} {
		c.add(runner.Event{Kind: runner.EventLog, Text: l})
	}
	res := &runner.Result{State: runner.Failed, ExitStatus: 1, Hints: []string{"Check the network."},
		Err: errors.New("generate_filesystem failed\nIGconf_device_class=pi5\nIGconf_image_name=x")}
	got := causeOf(res, c.lines)
	if got.Line != "E: Could not resolve 'archive.raspberrypi.com'" {
		t.Errorf("line %q, want the first error line", got.Line)
	}
	if got.Fix != "Check the network." {
		t.Errorf("fix %q, want the runner's first hint", got.Fix)
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

func TestCauseOfPrefersAnExplainedLine(t *testing.T) {
	var c causeLog
	c.add(runner.Event{Kind: runner.EventLog, Text: "error: something unrelated"})
	c.add(runner.Event{Kind: runner.EventLog, Text: "genimage error (sdcard.img)", Explain: "Raise the partition sizes."})
	got := causeOf(&runner.Result{State: runner.Failed}, c.lines)
	if got.Line != "genimage error (sdcard.img)" || got.Fix != "Raise the partition sizes." {
		t.Errorf("%+v", got)
	}
}

// TestFailedBuildShowsCause: a failed build shows the first error line and
// what to do, hides the details until asked, and keeps the log visible.
func TestFailedBuildShowsCause(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	h.g.Show(SectionBuild)
	h.g.build.start(runner.StageFull)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	run := h.be.Runner.Last()
	run.Send(runner.Event{Kind: runner.EventLog, Text: "IGconf_device_class=pi5"})
	run.Send(runner.Event{Kind: runner.EventLog, Text: "E: Could not resolve 'archive.raspberrypi.com'", Explain: "Check the network."})
	run.Send(runner.Event{Kind: runner.EventStageStarted, Stage: "generate_filesystem"})
	run.Send(runner.Event{Kind: runner.EventStageFinished, Stage: "generate_filesystem"})
	run.Finish(runner.Result{State: runner.Failed, ExitStatus: 1, Err: errors.New("IGconf_device_class=pi5\nstage failed")})
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
