package gui

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/gui/demo"
)

// harness runs the app headless. Work handed to the UI goroutine through
// the bridge is queued and run on the test goroutine by pump/waitFor, so
// the test goroutine plays the UI goroutine.
type harness struct {
	t    *testing.T
	a    fyne.App
	w    fyne.Window
	g    *App
	be   *demo.Set
	q    chan func()
	work string
	// slowest is the longest single UI-goroutine task seen by pump.
	slowest time.Duration
	tasks   int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	w := a.NewWindow(Title)
	work := t.TempDir()
	set, err := demo.New(work)
	if err != nil {
		t.Fatal(err)
	}
	set.Runner.Manual = true
	set.Flasher.Step = time.Millisecond
	set.Raid.Step = time.Millisecond
	h := &harness{t: t, a: a, w: w, be: set, q: make(chan func(), 1<<16), work: work}
	h.g = New(a, w, demoServices(set), func(f func()) { h.q <- f })
	w.SetContent(h.g.Content())
	w.Resize(fyne.NewSize(1100, 720))
	t.Cleanup(func() { h.g.cancel(); w.Close() })
	return h
}

// startFullBuild opens the example config name, starts a full build in
// the Build section and returns the demo run once the view holds it.
func (h *harness) startFullBuild(name string) *demo.Run {
	h.t.Helper()
	h.open(name)
	h.g.Show(SectionBuild)
	h.g.build.start(runner.StageFull)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	return h.be.Runner.Last()
}

// pump runs queued UI work for up to d.
func (h *harness) pump(d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case f := <-h.q:
			t0 := time.Now()
			f()
			h.tasks++
			if el := time.Since(t0); el > h.slowest {
				h.slowest = el
			}
		case <-deadline:
			return
		}
	}
}

// waitFor runs UI work until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		h.pump(5 * time.Millisecond)
	}
}

func (h *harness) writeConfig(name string) string {
	h.t.Helper()
	b, err := assets.Config(name)
	if err != nil {
		h.t.Fatal(err)
	}
	p := filepath.Join(h.work, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) open(name string) string {
	h.t.Helper()
	p := h.writeConfig(name)
	h.g.cfg.open(p)
	h.waitFor("config to load", func() bool { return h.g.cfg.path == p && h.g.cfg.doc != nil })
	h.validated()
	return p
}

// validated waits for the validation of the latest edit.
func (h *harness) validated() {
	h.t.Helper()
	h.waitFor("validation", func() bool { return h.g.cfg.validGen == h.g.cfg.gen })
}

func (h *harness) field(key string) *field {
	h.t.Helper()
	f := h.g.cfg.fields[key]
	if f == nil {
		h.t.Fatalf("no field for %s", key)
	}
	return f
}

func TestMainHasEverySection(t *testing.T) {
	h := newHarness(t)
	if len(h.g.tabs.Items) != len(Sections) {
		t.Fatalf("%d tabs, want %d", len(h.g.tabs.Items), len(Sections))
	}
	for i, it := range h.g.tabs.Items {
		if it.Text != Sections[i] {
			t.Errorf("tab %d = %q, want %q", i, it.Text, Sections[i])
		}
	}
}

func TestLoadingConfigFillsFields(t *testing.T) {
	h := newHarness(t)
	p := h.open("raid-config.yaml")
	tests := []struct{ key, want string }{
		{keyHostname, "raid-device"},
		{keyImageName, "raid-test"},
		{"raid.devices", "2"},
		{"raid.external_size", "1G"},
	}
	for _, tt := range tests {
		if got := h.field(tt.key).entry.Text; got != tt.want {
			t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
		}
	}
	for key, want := range map[string]string{keyDeviceLayer: "rpi5", keyImageLayer: "raid", keyBaseLayer: "bookworm-minbase", "raid.level": "RAID1", "image.rootfs_type": "ext4"} {
		if got := h.field(key).sel.Selected; got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if h.g.cfg.dirty {
		t.Error("a freshly loaded config is marked dirty")
	}
	if yaml := h.g.cfg.yamlText; !strings.Contains(yaml, "# RAID0 or RAID1") {
		t.Errorf("YAML view lost the comments:\n%s", yaml)
	}
	if h.g.set.LastConfig != p || h.g.set.Recent[0] != p {
		t.Errorf("last config %q, recent %v; want %q first", h.g.set.LastConfig, h.g.set.Recent, p)
	}
	if got := LoadSettings(h.a.Preferences()).LastConfig; got != p {
		t.Errorf("stored last config %q, want %q", got, p)
	}
	if len(h.g.cfg.problems) != 0 {
		t.Errorf("problems in the sample config: %v", h.g.cfg.problems)
	}
}

func TestInvalidValueShowsMessage(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	f := h.field("raid.devices")
	f.entry.SetText("")
	test.Type(f.entry, "12")
	if err := f.entry.Validate(); err == nil {
		t.Error("entry accepts 12 disks")
	}
	h.validated()
	if !f.err.Visible() || !strings.Contains(f.err.Text, "from 2 to 8") {
		t.Errorf("field message %q (visible %v), want the range", f.err.Text, f.err.Visible())
	}
	if !h.g.cfg.sumCard.Visible() || len(h.g.cfg.summary.Objects) != 1 {
		t.Fatalf("summary visible %v with %d rows, want 1 problem", h.g.cfg.sumCard.Visible(), len(h.g.cfg.summary.Objects))
	}
	if s := h.g.cfg.summary.Objects[0].(*tapLabel).Text; !strings.Contains(s, "raid.devices") {
		t.Errorf("summary %q does not name the key", s)
	}
	if !h.g.cfg.dirty || !strings.Contains(h.g.cfg.yamlText, `devices: "12"`) {
		t.Errorf("edit not in the YAML view (dirty %v):\n%s", h.g.cfg.dirty, h.g.cfg.yamlText)
	}
	f.entry.SetText("4")
	h.validated()
	if f.err.Visible() || h.g.cfg.sumCard.Visible() {
		t.Error("message stays after the value was fixed")
	}
}

func TestRaidLayerShowsRaidFields(t *testing.T) {
	h := newHarness(t)
	h.open("minimal-config.yaml")
	raid := []string{"raid.level", "raid.devices", "raid.sdcard_size", "raid.external_size"}
	for _, k := range raid {
		if h.g.cfg.fields[k] != nil {
			t.Fatalf("%s shown for image-rpios", k)
		}
	}
	if len(h.g.cfg.extra.Objects) != 0 {
		t.Fatal("extra section shown for image-rpios")
	}
	h.g.cfg.imgSel.SetSelected("raid")
	for _, k := range raid {
		if h.g.cfg.fields[k] == nil {
			t.Errorf("%s missing after choosing raid", k)
		}
	}
	if len(h.g.cfg.extra.Objects) != 1 || h.g.cfg.extra.Objects[0].(*widget.Card).Title != "RAID" {
		t.Fatalf("want one RAID card, have %d objects", len(h.g.cfg.extra.Objects))
	}
	if v, _ := h.g.cfg.doc.Get(keyImageLayer); v != "raid" {
		t.Errorf("image.layer = %q", v)
	}
	if h.g.cfg.imgDesc.Text == "" || !strings.Contains(h.g.cfg.imgDesc.Text, "RAID") {
		t.Errorf("layer description %q", h.g.cfg.imgDesc.Text)
	}
	if hint := h.field("raid.level").row.(*fyne.Container).Objects[1].(*widget.Label).Text; !strings.Contains(hint, "mirrors") {
		t.Errorf("hint %q is not the variable's description", hint)
	}
	h.g.cfg.imgSel.SetSelected("image-rpios")
	if h.g.cfg.fields["raid.level"] != nil || len(h.g.cfg.extra.Objects) != 0 {
		t.Error("RAID fields stay after switching back")
	}
}

func TestUnsavedChangesAskBeforeClosing(t *testing.T) {
	h := newHarness(t)
	closes := 0
	h.g.closeWin = func() { closes++ }
	h.open("minimal-config.yaml")
	h.field(keyHostname).entry.SetText("kitchen")
	h.g.onClose()
	if h.w.Canvas().Overlays().Top() == nil || h.g.cfg.unsaved == nil {
		t.Fatal("closing with unsaved changes shows no question")
	}
	if closes != 0 || h.g.closed {
		t.Fatal("the window closed before the question was answered")
	}
	test.Tap(h.g.cfg.unsaved.cancel)
	if closes != 0 || !h.g.cfg.dirty {
		t.Fatal("Cancel closed the window or dropped the changes")
	}
	h.g.onClose()
	test.Tap(h.g.cfg.unsaved.discard)
	if closes != 1 || !h.g.closed {
		t.Errorf("Discard changes did not close the window (%d closes)", closes)
	}
}

// TestInvalidValueShowsMessageBuilder is TestInvalidValueShowsMessage on
// the builder's config store and the catalog of pistudio's own layers.
func TestInvalidValueShowsMessageBuilder(t *testing.T) {
	h := newHarness(t)
	h.useRealConfigs(nil)
	h.open("raid-config.yaml")
	if len(h.g.cfg.problems) != 0 {
		t.Fatalf("problems in the sample config: %+v", h.g.cfg.problems)
	}
	f := h.field("raid.devices")
	f.entry.SetText("")
	test.Type(f.entry, "12")
	if err := f.entry.Validate(); err == nil {
		t.Error("entry accepts 12 disks")
	}
	h.validated()
	if !f.err.Visible() || f.err.Text == "" {
		t.Errorf("no message at the field (visible %v)", f.err.Visible())
	}
	if !h.g.cfg.sumCard.Visible() || len(h.g.cfg.summary.Objects) != 1 || h.g.cfg.sumCard.Title != "1 problem" {
		t.Fatalf("summary visible %v with %d rows, title %q", h.g.cfg.sumCard.Visible(), len(h.g.cfg.summary.Objects), h.g.cfg.sumCard.Title)
	}
	if s := h.g.cfg.summary.Objects[0].(*tapLabel).Text; !strings.Contains(s, "raid.devices") || !strings.Contains(s, "line ") {
		t.Errorf("summary %q does not name the key and line", s)
	}
	// Clearing the field first leaves the builder's quoted style.
	if y := h.g.cfg.yamlText; !h.g.cfg.dirty || !strings.Contains(y, "devices: 12 ") && !strings.Contains(y, `devices: "12"`) {
		t.Errorf("edit not in the YAML view (dirty %v):\n%s", h.g.cfg.dirty, y)
	}
	f.entry.SetText("4")
	h.validated()
	if f.err.Visible() || h.g.cfg.sumCard.Visible() {
		t.Error("message stays after the value was fixed")
	}
}

// TestSaveKeepsCommentsBuilder is TestSaveKeepsComments on the builder's
// config store: the file is the original byte for byte but the edit.
func TestSaveKeepsCommentsBuilder(t *testing.T) {
	h := newHarness(t)
	h.useRealConfigs(nil)
	p := h.open("raid-config.yaml")
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	h.field(keyHostname).entry.SetText("garage")
	h.g.cfg.save(nil)
	h.waitFor("save", func() bool { return !h.g.cfg.dirty })
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(orig), "hostname: raid-device", "hostname: garage", 1)
	if string(b) != want || !strings.Contains(string(b), "# number of external disks") {
		t.Errorf("saved:\n%s\nwant:\n%s", b, want)
	}
}

func TestSaveKeepsComments(t *testing.T) {
	h := newHarness(t)
	p := h.open("raid-config.yaml")
	h.field(keyHostname).entry.SetText("garage")
	h.g.cfg.save(nil)
	h.waitFor("save", func() bool { return !h.g.cfg.dirty })
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, "garage") || !strings.Contains(s, "# number of external disks") {
		t.Errorf("saved file:\n%s", s)
	}
}

func TestFullBuildStartsRunnerAndCancelCancels(t *testing.T) {
	h := newHarness(t)
	p := h.open("raid-config.yaml")
	h.g.set.WorkDir = h.work
	test.Tap(h.g.build.fullBtn)
	h.waitFor("run to start", func() bool { return h.g.build.run != nil })
	jobs := h.be.Runner.Jobs()
	want := demo.Job{Config: p, Stage: runner.StageFull, Options: buildjob.Options{WorkDir: h.work}}
	if len(jobs) != 1 || !reflect.DeepEqual(jobs[0], want) {
		t.Fatalf("jobs %+v, want [%+v]", jobs, want)
	}
	if !h.g.build.fullBtn.Disabled() || h.g.build.cancelBtn.Disabled() {
		t.Error("buttons not in running state")
	}
	run := h.be.Runner.Last()
	run.Send(runner.Event{Kind: runner.EventStageStarted, Stage: "parameter_assembly"})
	run.Send(runner.Event{Kind: runner.EventLog, Text: "\x1b[1m==> parameter_assembly\x1b[0m"})
	h.waitFor("stage to run", func() bool { return h.g.build.stages[0].state.Text == "running" })
	test.Tap(h.g.build.cancelBtn)
	if !run.Cancelled() {
		t.Fatal("Cancel did not cancel the run")
	}
	run.Send(runner.Event{Kind: runner.EventStageFinished, Stage: "parameter_assembly", Cancelled: true})
	h.waitFor("stage to show cancelled", func() bool { return h.g.build.stages[0].state.Text == "cancelled" })
	run.Finish(runner.Result{State: runner.Cancelled})
	h.waitFor("run to end", func() bool { return !h.g.build.Running() })
	if got := h.g.build.status.Text; got != "Build cancelled" {
		t.Errorf("status %q", got)
	}
	if h.g.build.fullBtn.Disabled() || !h.g.build.cancelBtn.Disabled() {
		t.Error("buttons not back to idle")
	}
	h.waitFor("log line", func() bool { return h.g.build.log.Len() == 1 })
	if got := h.g.build.log.Line(0); got != "==> parameter_assembly" {
		t.Errorf("log line %q, want colour codes removed", got)
	}
}

func TestBuildFinishShowsArtifactsAndExplains(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	test.Tap(h.g.build.imgBtn)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	if h.be.Runner.Jobs()[0].Stage != runner.StageImage {
		t.Fatalf("stage %v", h.be.Runner.Jobs()[0].Stage)
	}
	run := h.be.Runner.Last()
	run.Send(runner.Event{Kind: runner.EventLog, Text: "E: Could not resolve 'archive.raspberrypi.com'", Explain: "The network is down."})
	dir := filepath.Join(h.work, "image-raid-test")
	run.Finish(runner.Result{State: runner.Succeeded, Artifacts: []runner.Artifact{{Path: filepath.Join(dir, "a.img"), Size: 1e9, Kind: runner.KindDiskImage}}})
	h.waitFor("finish", func() bool { return !h.g.build.Running() })
	h.waitFor("explanation", func() bool { return h.g.build.explainCard.Visible() })
	if !h.g.build.artCard.Visible() {
		t.Error("artifacts not shown")
	}
	if h.g.set.LastRaidSet != dir {
		t.Errorf("last RAID set %q", h.g.set.LastRaidSet)
	}
}

// TestLogFloodStaysBounded sends 200 000 lines at once through a build and
// checks the view keeps the last N, refreshes a bounded number of times
// and reaches the UI goroutine in batches.
func TestLogFloodStaysBounded(t *testing.T) {
	h := newHarness(t)
	h.open("minimal-config.yaml")
	test.Tap(h.g.build.fullBtn)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	run := h.be.Runner.Last()
	const n = 200000
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			run.Send(runner.Event{Kind: runner.EventLog, Text: fmt.Sprintf("line %d", i)})
		}
		run.Finish(runner.Result{State: runner.Succeeded})
	}()
	h.tasks, h.slowest = 0, 0
	h.waitFor("flood", func() bool {
		return !h.g.build.Running() && h.g.build.log.Appended() == n && h.g.build.log.Line(h.g.build.log.Len()-1) == fmt.Sprintf("line %d", n-1)
	})
	el := time.Since(t0)
	lv := h.g.build.log
	if lv.Len() != h.g.set.LogLines {
		t.Errorf("view holds %d lines, want %d", lv.Len(), h.g.set.LogLines)
	}
	if want := fmt.Sprintf("line %d", n-h.g.set.LogLines); lv.Line(0) != want {
		t.Errorf("first line %q, want %q", lv.Line(0), want)
	}
	maxRefresh := int64(el/lv.Interval) + 3
	if lv.Refreshes() > maxRefresh {
		t.Errorf("%d refreshes in %v, want at most %d", lv.Refreshes(), el, maxRefresh)
	}
	// Lines reach the UI goroutine in batches, never one task per line.
	if h.tasks > n/100 {
		t.Errorf("%d UI tasks for %d lines: the log is not batched", h.tasks, n)
	}
	t.Logf("200k lines in %v: %d refreshes, %d UI tasks, slowest %v", el, lv.Refreshes(), h.tasks, h.slowest)
}

func (h *harness) flashReady(disk string) {
	h.t.Helper()
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) > 0 })
	img := filepath.Join(h.work, "x.img")
	h.g.flash.selectImage(img)
	h.waitFor("image info", func() bool { return h.g.flash.info != nil })
	h.g.flash.selectDisk(disk)
	if h.g.flash.selected != disk {
		h.t.Fatalf("selected %q, want %s", h.g.flash.selected, disk)
	}
}

func TestFlashNeedsConfirmation(t *testing.T) {
	h := newHarness(t)
	h.flashReady("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	c := h.g.flash.confirm
	if c == nil {
		t.Fatal("no confirmation")
	}
	if c.confirm.Importance != widget.WarningImportance {
		t.Error("confirm button is not a warning")
	}
	if len(c.entries) != 0 || c.confirm.Disabled() {
		t.Error("a 64 GB disk should not need its name typed")
	}
	h.pump(50 * time.Millisecond)
	if n := len(h.be.Flasher.Jobs()); n != 0 {
		t.Fatalf("%d writes before confirming", n)
	}
	test.Tap(c.cancel)
	h.pump(50 * time.Millisecond)
	if n := len(h.be.Flasher.Jobs()); n != 0 {
		t.Fatalf("%d writes after cancelling the question", n)
	}
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("write to finish", func() bool { return !h.g.flash.running && strings.Contains(h.g.flash.result.Text, "xxh3:") })
	jobs := h.be.Flasher.Jobs()
	if len(jobs) != 1 || jobs[0].Disk.Path != "/dev/sdb" || jobs[0].Options.NoVerify || jobs[0].Options.SHA256 {
		t.Errorf("jobs %+v", jobs)
	}
}

// TestFlashSHA256Option checks that "Compute SHA-256" reaches the job, is
// remembered, and that the result then names the SHA-256.
func TestFlashSHA256Option(t *testing.T) {
	h := newHarness(t)
	h.flashReady("/dev/sdb")
	if h.g.flash.sha256.Checked {
		t.Fatal("SHA-256 is on by default")
	}
	h.g.flash.sha256.SetChecked(true)
	if !LoadSettings(h.a.Preferences()).SHA256 {
		t.Error("the SHA-256 choice was not stored")
	}
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("write to finish", func() bool { return !h.g.flash.running && strings.Contains(h.g.flash.result.Text, "sha256:") })
	if jobs := h.be.Flasher.Jobs(); len(jobs) != 1 || !jobs[0].Options.SHA256 {
		t.Errorf("jobs %+v", jobs)
	}
}

func TestLargeDiskNeedsTypedName(t *testing.T) {
	h := newHarness(t)
	h.flashReady("/dev/sdc")
	test.Tap(h.g.flash.flashBtn)
	c := h.g.flash.confirm
	e := c.entries["/dev/sdc"]
	if e == nil {
		t.Fatal("no name entry for a 500 GB disk")
	}
	if !c.confirm.Disabled() {
		t.Fatal("confirm enabled before typing")
	}
	test.Type(e, "sdb")
	if !c.confirm.Disabled() {
		t.Fatal("confirm enabled for the wrong name")
	}
	e.SetText("")
	test.Type(e, "sdc")
	if c.confirm.Disabled() {
		t.Fatal("confirm disabled after typing the name")
	}
	test.Tap(c.confirm)
	h.waitFor("write", func() bool { return len(h.be.Flasher.Jobs()) == 1 && !h.g.flash.running })
	if got := h.be.Flasher.Jobs()[0].Confirmed; got != "sdc" {
		t.Errorf("confirmed %q", got)
	}
}

func TestProtectedDisksHiddenAndHotplug(t *testing.T) {
	h := newHarness(t)
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) == 5 })
	if len(h.g.flash.shown) != 4 {
		t.Errorf("%d disks shown, want the 4 eligible", len(h.g.flash.shown))
	}
	h.g.flash.showProt.SetChecked(true)
	if len(h.g.flash.shown) != 5 {
		t.Errorf("%d disks shown with protected, want 5", len(h.g.flash.shown))
	}
	h.g.flash.selectDisk("/dev/nvme0n1")
	if h.g.flash.selected != "" {
		t.Error("a protected disk can be selected")
	}
	h.be.Disks.Replace(demo.SampleDisks()[:1])
	h.waitFor("hotplug", func() bool { return len(h.g.flash.all) == 1 })
}

func TestRaidPlanShowsOneRowPerRole(t *testing.T) {
	h := newHarness(t)
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.raid.disks) > 0 })
	dir := filepath.Join(h.work, "image-raid-test")
	h.g.raid.selectSet(dir)
	h.waitFor("plan", func() bool { return h.g.raid.Rows() > 0 })
	if got := h.g.raid.Rows(); got != 3 {
		t.Fatalf("%d rows, want 3 (sd, external1, external2)", got)
	}
	// The planner's proposal: the SD card slot, then the smallest USB
	// disks that fit.
	want := map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdb", "external2": "/dev/sdc"}
	h.checkRows(want)
	h.choose(1, "/dev/sdd")
	if h.g.raid.planErr.Visible() || h.g.raid.diskOpt[h.g.raid.rows[1].sel.Selected] != "/dev/sdd" {
		t.Fatalf("the choice of sdd for external1 was not taken: %q", h.g.raid.planErr.Text)
	}
	// Choosing a disk the user chose for another role is refused by the
	// plan and the row goes back to the plan's disk.
	// external2 got a new proposal when sdd was taken from its proposal.
	proposed := h.g.raid.plan.Roles[2].Disk.Path
	h.choose(2, "/dev/sdd")
	if !h.g.raid.planErr.Visible() || h.g.raid.diskOpt[h.g.raid.rows[2].sel.Selected] != proposed {
		t.Errorf("a disk used twice was accepted (error shown %v, row 2 %q)", h.g.raid.planErr.Visible(), h.g.raid.rows[2].sel.Selected)
	}
	h.choose(2, "/dev/sdc")
	if h.g.raid.provBtn.Disabled() {
		t.Fatal("provision disabled for a valid plan")
	}
	test.Tap(h.g.raid.provBtn)
	c := h.g.raid.confirm
	if c == nil || len(c.entries) != 2 || !c.confirm.Disabled() {
		t.Fatal("confirmation must list the disks and ask for the 500 GB disks' names")
	}
	if len(h.be.Raid.Provisioned()) != 0 {
		t.Fatal("provisioned before confirming")
	}
	test.Type(c.entries["/dev/sdd"], "sdd")
	test.Type(c.entries["/dev/sdc"], "sdc")
	test.Tap(c.confirm)
	h.waitFor("provisioning", func() bool { return strings.HasPrefix(h.g.raid.summary.Text, "All 3 disks written") })
	if got := h.be.Raid.Provisioned(); len(got) != 1 || got[0].Roles[2].Disk.Path != "/dev/sdc" || got[0].Roles[1].Disk.Path != "/dev/sdd" {
		t.Errorf("provisioned %+v", got)
	}
}

func TestSettingsRemembered(t *testing.T) {
	h := newHarness(t)
	h.g.settings.work.SetText("/srv/work")
	h.g.settings.verify.SetChecked(false)
	h.g.settings.logLines.SetText("5000")
	h.g.settings.logLines.SetText("12")
	s := LoadSettings(h.a.Preferences())
	if s.WorkDir != "/srv/work" || s.Verify || s.LogLines != 5000 {
		t.Errorf("stored %+v", s)
	}
	if h.g.settings.logLines.Validate() == nil {
		t.Error("12 log lines accepted")
	}
	h.g.settings.detect()
	h.waitFor("preflight", func() bool { return len(h.g.settings.checks.Objects) > 0 })
	if !strings.Contains(h.g.settings.version.Text, "v2.8.0") {
		t.Errorf("version %q", h.g.settings.version.Text)
	}
}

// TestYAMLViewIsTheFile uses the builder's config store: the YAML view
// shows the file byte for byte, and an edit changes only the edited value.
func TestYAMLViewIsTheFile(t *testing.T) {
	h := newHarness(t)
	p := h.open("raid-config.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if h.g.cfg.yamlText != string(b) {
		t.Fatalf("YAML view:\n%s\nfile:\n%s", h.g.cfg.yamlText, b)
	}
	h.field("raid.sdcard_size").entry.SetText("256M")
	if want := strings.Replace(string(b), "sdcard_size: 200M", "sdcard_size: 256M", 1); h.g.cfg.yamlText != want {
		t.Errorf("after edit:\n%s\nwant:\n%s", h.g.cfg.yamlText, want)
	}
}

func TestMountedDiskAsksToUnmount(t *testing.T) {
	h := newHarness(t)
	h.be.Flasher.Mounted = true
	h.flashReady("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("first attempt", func() bool { return len(h.be.Flasher.Jobs()) == 1 && !h.g.flash.running })
	if h.w.Canvas().Overlays().Top() == nil {
		t.Fatal("no unmount question")
	}
	if jobs := h.be.Flasher.Jobs(); jobs[0].Options.AllowUnmount {
		t.Fatal("first attempt allowed unmounting")
	}
}

func TestWindowSizeRemembered(t *testing.T) {
	h := newHarness(t)
	h.w.Resize(fyne.NewSize(900, 650))
	h.g.saveSettings()
	s := LoadSettings(h.a.Preferences())
	if s.Width != 900 || s.Height != 650 {
		t.Errorf("stored %vx%v, want 900x650", s.Width, s.Height)
	}
}

// choose picks the disk with path in role row i, as the user does.
func (h *harness) choose(i int, path string) {
	h.t.Helper()
	for n, p := range h.g.raid.diskOpt {
		if p == path {
			h.g.raid.rows[i].sel.SetSelected(n)
			return
		}
	}
	h.t.Fatalf("%s is not offered", path)
}

// checkRows checks the disk each role row shows, by role.
func (h *harness) checkRows(want map[string]string) {
	h.t.Helper()
	for i, row := range h.g.raid.rows {
		if got := h.g.raid.diskOpt[row.sel.Selected]; got != want[row.role] {
			h.t.Errorf("row %d %s → %q, want %q", i, row.role, got, want[row.role])
		}
	}
}
