package gui

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"github.com/pistudio/pistudio/builder/doctor"
	"github.com/pistudio/pistudio/builder/runner"
	rcause "github.com/pistudio/pistudio/builder/runner/cause"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/gui/demo"
)

// gateShown taps Full build on a machine the doctor finds broken and
// waits for the dialog that says why.
func (h *harness) gateShown() *gateDialog {
	h.t.Helper()
	h.be.Doctor.Broken = true
	h.open("raid-config.yaml")
	test.Tap(h.g.build.fullBtn)
	h.waitFor("the doctor's verdict", func() bool { return h.g.doctor.gateDlg != nil })
	return h.g.doctor.gateDlg
}

// TestDoctorFailuresBlockBuild: a build the doctor knows will fail does
// not start; the user sees the failed checks with their fixes, and only
// "Start anyway" starts it.
func TestDoctorFailuresBlockBuild(t *testing.T) {
	h := newHarness(t)
	gd := h.gateShown()
	if n := len(h.be.Runner.Jobs()); n != 0 {
		t.Fatalf("%d builds started before the user chose", n)
	}
	if h.g.build.Busy() || h.g.build.fullBtn.Disabled() {
		t.Error("the build view is not idle while the question is open")
	}
	var names []string
	for _, c := range gd.failures {
		names = append(names, c.Name)
		if c.Fix == "" {
			t.Errorf("failure %s has no fix", c.Name)
		}
	}
	if want := []string{"Debian packages", "binfmt (arm64)"}; !reflect.DeepEqual(names, want) {
		t.Errorf("failures %v, want %v", names, want)
	}
	test.Tap(gd.close)
	h.pump(20e6)
	if n := len(h.be.Runner.Jobs()); n != 0 {
		t.Fatalf("Cancel started %d builds", n)
	}
	test.Tap(h.g.build.fullBtn)
	h.waitFor("the question again", func() bool { return h.g.doctor.gateDlg != nil })
	test.Tap(h.g.doctor.gateDlg.start)
	h.waitFor("the build to start", func() bool { return h.g.build.run != nil })
	if n := len(h.be.Runner.Jobs()); n != 1 {
		t.Fatalf("%d builds after Start anyway", n)
	}
}

// TestHealthyDoctorStartsBuild: no failed check, no question.
func TestHealthyDoctorStartsBuild(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	test.Tap(h.g.build.fullBtn)
	h.waitFor("the build to start", func() bool { return h.g.build.run != nil })
	if h.g.doctor.gateDlg != nil || h.be.Doctor.Checked() != 1 {
		t.Errorf("question %v, checks run %d", h.g.doctor.gateDlg != nil, h.be.Doctor.Checked())
	}
}

// TestInstallShowsExactPackages: "Install packages" lists the exact
// packages and the apt-get line before anything runs, installs exactly
// those, and then the build starts once the checks pass.
func TestInstallShowsExactPackages(t *testing.T) {
	h := newHarness(t)
	gd := h.gateShown()
	if gd.install == nil {
		t.Fatal("no Install packages button")
	}
	test.Tap(gd.install)
	id := h.g.doctor.installDlg
	if id == nil {
		t.Fatal("no install dialog")
	}
	if got, want := id.list.Text, strings.Join(demo.SampleMissing, "\n"); got != want {
		t.Errorf("package list %q, want %q", got, want)
	}
	if got, want := id.command.Text, doctor.InstallCommand(demo.SampleMissing); got != want {
		t.Errorf("command %q, want %q", got, want)
	}
	if n := len(h.be.Doctor.Installed()); n != 0 {
		t.Fatalf("installed %d times before Install was tapped", n)
	}
	test.Tap(id.install)
	h.waitFor("the build after installing", func() bool { return h.g.build.run != nil })
	if got := h.be.Doctor.Installed(); !reflect.DeepEqual(got, [][]string{demo.SampleMissing}) {
		t.Errorf("installed %v", got)
	}
}

// TestNoAgentShowsSudoCommand: without a polkit agent the install says so
// and shows the exact command to type.
func TestNoAgentShowsSudoCommand(t *testing.T) {
	h := newHarness(t)
	h.be.Doctor.NoAgent = true
	gd := h.gateShown()
	test.Tap(gd.install)
	test.Tap(h.g.doctor.installDlg.install)
	h.waitFor("the sudo command", func() bool { return h.g.doctor.sudoDlg != nil })
	if got, want := h.g.doctor.sudoDlg.command.Text, doctor.InstallCommand(demo.SampleMissing); got != want {
		t.Errorf("command %q, want %q", got, want)
	}
	h.g.doctor.sudoDlg.command.SetText("rm -rf /")
	if got := h.g.doctor.sudoDlg.command.Text; got != doctor.InstallCommand(demo.SampleMissing) {
		t.Errorf("the command can be changed: %q", got)
	}
	if n := len(h.be.Runner.Jobs()); n != 0 {
		t.Errorf("%d builds started", n)
	}
}

// TestGetToolProgress: with no tree found, Settings offers to get it; the
// clone shows its progress, then the tree is used and checked.
func TestGetToolProgress(t *testing.T) {
	h := newHarness(t)
	h.be.Tool.Missing = true
	h.g.settings.detect()
	h.waitFor("the offer", func() bool { return h.g.doctor.getBox.Visible() })
	hold := make(chan struct{})
	h.be.Doctor.CloneHold = hold
	dir := filepath.Join(t.TempDir(), "rpi-image-gen")
	h.g.doctor.getTool(dir)
	h.waitFor("clone progress", func() bool { return h.g.doctor.getPhase.Text == "Receiving objects: 100%" })
	if v := h.g.doctor.getBar.Value; v != 1 || !h.g.doctor.getBar.Visible() {
		t.Errorf("bar %v visible %v", v, h.g.doctor.getBar.Visible())
	}
	if !h.g.doctor.getBtn.Disabled() {
		t.Error("Get can be tapped twice")
	}
	close(hold)
	h.be.Tool.Missing = false
	h.waitFor("the tree in use", func() bool { return h.g.set.ToolDir == dir && !h.g.doctor.getting })
	if _, err := os.Stat(filepath.Join(dir, "rpi-image-gen")); err != nil {
		t.Error(err)
	}
	h.waitFor("the checks after the clone", func() bool { return h.be.Doctor.Checked() == 1 && !h.g.doctor.checking })
	if h.g.doctor.getBox.Visible() {
		t.Error("the offer is still shown")
	}
}

// TestFailedBuildShowsRecordCause: the failure card shows the run's own
// cause (the one its record and the command line show), not a line the
// view picked itself.
func TestFailedBuildShowsRecordCause(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	test.Tap(h.g.build.fullBtn)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	run := h.be.Runner.Last()
	run.Send(runner.Event{Kind: runner.EventLog, Text: "E: Unable to locate package foo", Explain: "a hint of the view"})
	c := &rcause.Cause{Kind: "binfmt", Summary: "arm64 programs cannot run here", Fix: "install qemu-user-static", Line: "chroot: failed to run command", LineNo: 7}
	run.Finish(runner.Result{State: runner.Failed, ExitStatus: 1, Cause: c})
	h.waitFor("finish", func() bool { return !h.g.build.Running() && h.g.build.explainCard.Visible() })
	if got := h.g.build.causeLine.Text; got != c.Summary {
		t.Errorf("cause %q, want %q", got, c.Summary)
	}
	if got := h.g.build.explain.Text; got != c.Fix {
		t.Errorf("fix %q, want %q", got, c.Fix)
	}
	if !strings.Contains(h.g.build.details.Text, "Log line 7: chroot: failed to run command") {
		t.Errorf("details %q", h.g.build.details.Text)
	}
}

// TestFlashWithoutAgentShowsSudoCommand: a write the helper could not
// start for lack of a polkit agent shows the command to type.
func TestFlashWithoutAgentShowsSudoCommand(t *testing.T) {
	h := newHarness(t)
	cmd := "sudo /usr/bin/pistudio flash '/tmp/x.img' /dev/sdb"
	h.be.Flasher.Err = fmt.Errorf("starting the privileged helper: %w", &helper.NoAgentError{Command: cmd})
	h.flashReady("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("the sudo command", func() bool { return h.g.doctor.sudoDlg != nil })
	if got := h.g.doctor.sudoDlg.command.Text; got != cmd {
		t.Errorf("command %q, want %q", got, cmd)
	}
}

// TestReuseSetting: reusing an unchanged filesystem is on by default, the
// check turns it off for the runner and is saved, and it follows the
// cache switch.
func TestReuseSetting(t *testing.T) {
	h := newHarness(t)
	d := h.g.doctor
	if !h.g.set.Cache.Reuse || !d.reuse.Checked || d.reuse.Disabled() || h.g.set.Cache.Runner().NoReuse {
		t.Fatalf("default: setting %v, check %v (disabled %v), runner NoReuse %v",
			h.g.set.Cache.Reuse, d.reuse.Checked, d.reuse.Disabled(), h.g.set.Cache.Runner().NoReuse)
	}
	d.reuse.SetChecked(false)
	if h.g.set.Cache.Reuse || !h.g.set.Cache.Runner().NoReuse {
		t.Error("unchecked reuse does not reach the runner")
	}
	if LoadSettings(h.a.Preferences()).Cache.Reuse {
		t.Error("the reuse setting is not saved")
	}
	d.cacheOn.SetChecked(false)
	if !d.reuse.Disabled() {
		t.Error("reuse can be changed while the cache is off")
	}
}

// TestReusedStageShown: a stage an earlier build's filesystem stood in for
// says "reused", not a duration.
func TestReusedStageShown(t *testing.T) {
	h := newHarness(t)
	run := h.startFullBuild("raid-config.yaml")
	run.Send(runner.Event{Kind: runner.EventStageStarted, Stage: "generate_filesystem"})
	run.Send(runner.Event{Kind: runner.EventStageFinished, Stage: "generate_filesystem", OK: true, Reused: true})
	h.waitFor("the stage", func() bool {
		r := h.g.build.stage("generate_filesystem")
		return r.done && r.state.Text == "reused" && r.dur.Text == ""
	})
}

// A past build that reused its filesystem says so in the history.
func TestHistoryLineSaysReused(t *testing.T) {
	r := runner.Record{Stage: "full", State: runner.Succeeded, Config: "/c/raid.yaml",
		Start: time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 7, 20, 0, 15, 0, time.UTC)}
	if got := historyLine(r); strings.Contains(got, "reused") {
		t.Errorf("built: %q", got)
	}
	r.Reused = "20261207T195311Z-full.log"
	if got := historyLine(r); !strings.Contains(got, "(filesystem reused)") || !strings.HasSuffix(got, "raid.yaml") {
		t.Errorf("reused: %q", got)
	}
}
