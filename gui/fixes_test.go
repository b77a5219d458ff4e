package gui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/gui/demo"
	"github.com/pistudio/pistudio/gui/form"
)

// realConfigs is the builder's config store with the catalog of the
// layers shipped inside pistudio (as without rpi-image-gen), so tests do
// not depend on a checkout of the tool.
type realConfigs struct {
	form.Configs
	gate chan struct{} // when set, Save waits for it
}

func (r realConfigs) Catalog(string) (form.Catalog, error) { return r.EmbeddedCatalog() }

func (r realConfigs) Save(path string, data []byte) error {
	if r.gate != nil {
		<-r.gate
	}
	return r.Configs.Save(path, data)
}

// useRealConfigs switches the harness to the builder's configs.
func (h *harness) useRealConfigs(gate chan struct{}) {
	h.g.be.Configs = realConfigs{gate: gate}
}

// raidReady opens the sample RAID set with the sample disks.
func (h *harness) raidReady() {
	h.t.Helper()
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.raid.disks) > 0 })
	h.g.raid.selectSet(filepath.Join(h.work, "image-raid-test"))
	h.waitFor("plan", func() bool { return h.g.raid.Rows() == 3 && !h.g.raid.provBtn.Disabled() })
}

// TestRaidDiskPluggedDuringConfirmation: a disk plugged in while the
// confirmation is open closes it; its button then writes nothing, and a
// new confirmation lists what would be written.
func TestRaidDiskPluggedDuringConfirmation(t *testing.T) {
	h := newHarness(t)
	h.raidReady()
	test.Tap(h.g.raid.provBtn)
	c := h.g.raid.confirm
	if c == nil {
		t.Fatal("no confirmation")
	}
	test.Type(c.entries["/dev/sdc"], "sdc")
	if c.confirm.Disabled() {
		t.Fatal("confirm disabled after typing the name")
	}
	big := disk.Disk{Name: "sde", Path: "/dev/sde", SizeBytes: 4000787030016, Vendor: "WD", Model: "Elements 4TB", Serial: "WX4T", Bus: "usb", Eligible: true, NeedsTypedConfirm: true}
	h.be.Disks.Replace(append(demo.SampleDisks(), big))
	h.waitFor("confirmation to close", func() bool { return h.g.raid.confirm == nil })
	if !h.g.raid.notice.Visible() || !strings.Contains(h.g.raid.notice.Text, "The disks changed") {
		t.Errorf("notice %q", h.g.raid.notice.Text)
	}
	test.Tap(c.confirm)  // the stale button
	c.confirm.OnTapped() // even if it were still enabled
	h.pump(100 * time.Millisecond)
	if got := h.be.Raid.Provisioned(); len(got) != 0 {
		t.Fatalf("provisioned %+v from a confirmation the disks changed under", got)
	}
	// The user gives the new disk a role; it must be confirmed anew.
	h.waitFor("new disk offered", func() bool { return len(h.g.raid.offered) == 1 })
	h.choose(1, "/dev/sde")
	h.choose(2, "/dev/sdc")
	test.Tap(h.g.raid.provBtn)
	c = h.g.raid.confirm
	if c == nil || c.entries["/dev/sde"] == nil {
		t.Fatal("the new confirmation does not ask for the new disk")
	}
	test.Type(c.entries["/dev/sde"], "/dev/sde")
	test.Type(c.entries["/dev/sdc"], " sdc ")
	test.Tap(c.confirm)
	h.waitFor("provisioning", func() bool { return strings.HasPrefix(h.g.raid.summary.Text, "All 3 disks written") })
	got := h.be.Raid.Provisioned()
	if len(got) != 1 || got[0].Roles[1].Disk.Path != "/dev/sde" {
		t.Fatalf("provisioned %+v", got)
	}
	typed := h.be.Raid.Confirmed()[0]
	if typed["/dev/sde"] != "/dev/sde" || typed["/dev/sdc"] != "sdc" {
		t.Errorf("typed names %v did not reach the provisioner", typed)
	}
}

// TestRaidPlanChangeAfterConfirmationOpens: a plan changed by a disk
// change is never the one written by an older confirmation, even when the
// change arrives between the question and the click.
func TestRaidConfirmWritesTheListedPlan(t *testing.T) {
	h := newHarness(t)
	h.raidReady()
	test.Tap(h.g.raid.provBtn)
	c := h.g.raid.confirm
	test.Type(c.entries["/dev/sdc"], "sdc")
	listed := h.g.raid.asked
	// Something changes r.plan behind the open question.
	h.g.raid.plan.Roles[2].Disk = &disk.Disk{Name: "sdb", Path: "/dev/sdb"}
	test.Tap(c.confirm)
	h.waitFor("provisioning", func() bool { return len(h.be.Raid.Provisioned()) == 1 && !h.g.raid.running })
	if got := h.be.Raid.Provisioned()[0]; got.Roles[2].Disk.Path != listed.Roles[2].Disk.Path || got.Roles[2].Disk.Path == "/dev/sdb" {
		t.Errorf("wrote %s, the confirmation listed %s", got.Roles[2].Disk.Path, listed.Roles[2].Disk.Path)
	}
}

// TestRaidProvisionerInsistsOnTypedNames: without the typed names the
// provisioner refuses and nothing is written.
func TestRaidProvisionerInsistsOnTypedNames(t *testing.T) {
	h := newHarness(t)
	h.raidReady()
	h.g.raid.provision(h.g.raid.plan, map[string]string{"/dev/sdc": "sdb"})
	h.waitFor("refusal", func() bool { return !h.g.raid.running && h.g.raid.summary.Text != "Provisioning…" })
	if !strings.Contains(h.g.raid.summary.Text, `type "sdc"`) || len(h.be.Raid.Provisioned()) != 0 {
		t.Errorf("summary %q, provisioned %d", h.g.raid.summary.Text, len(h.be.Raid.Provisioned()))
	}
}

func TestTypedNameAcceptsDevicePath(t *testing.T) {
	h := newHarness(t)
	h.flashReady("/dev/sdc")
	test.Tap(h.g.flash.flashBtn)
	c := h.g.flash.confirm
	test.Type(c.entries["/dev/sdc"], "/dev/sdc")
	if c.confirm.Disabled() {
		t.Fatal("the device path is not accepted")
	}
	test.Tap(c.confirm)
	h.waitFor("write", func() bool { return len(h.be.Flasher.Jobs()) == 1 && !h.g.flash.running })
	if h.g.flash.result.Importance != 0 && strings.Contains(h.g.flash.result.Text, "type") {
		t.Errorf("write refused: %s", h.g.flash.result.Text)
	}
}

// TestCloseDuringBuildAsksAndWaits: closing while a build runs asks; on
// yes the build is cancelled and the window closes only after the build's
// finish event.
func TestCloseDuringBuildAsksAndWaits(t *testing.T) {
	h := newHarness(t)
	closes := 0
	h.g.closeWin = func() { closes++ }
	h.open("raid-config.yaml")
	test.Tap(h.g.build.fullBtn)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	run := h.be.Runner.Last()
	h.g.onClose()
	if h.g.quitAsk == nil || h.g.closed || closes != 0 {
		t.Fatal("closing during a build did not ask")
	}
	if run.Cancelled() {
		t.Fatal("asking cancelled the build")
	}
	test.Tap(h.g.quitAsk.keep)
	h.pump(20 * time.Millisecond)
	if closes != 0 || run.Cancelled() {
		t.Fatal("Keep running stopped or closed")
	}
	h.g.onClose()
	test.Tap(h.g.quitAsk.stop)
	if !run.Cancelled() {
		t.Fatal("the build was not cancelled")
	}
	h.pump(50 * time.Millisecond)
	if closes != 0 {
		t.Fatal("closed before the build stopped")
	}
	run.Finish(runner.Result{State: runner.Cancelled})
	h.waitFor("close", func() bool { return closes == 1 })
}

// TestCloseGivesUpWaiting: a build that does not stop in time does not
// keep the window open for ever.
func TestCloseGivesUpWaiting(t *testing.T) {
	h := newHarness(t)
	closes := 0
	h.g.closeWin = func() { closes++ }
	h.g.quitWait = 100 * time.Millisecond
	h.g.flash.running = true // a write that never reports back
	h.g.onClose()
	test.Tap(h.g.quitAsk.stop)
	h.pump(30 * time.Millisecond)
	if closes != 0 {
		t.Fatal("closed at once")
	}
	h.waitFor("close after the time limit", func() bool { return closes == 1 })
}

func TestCloseWhenIdleClosesAtOnce(t *testing.T) {
	h := newHarness(t)
	closes := 0
	h.g.closeWin = func() { closes++ }
	h.g.onClose()
	if closes != 1 || h.g.quitAsk != nil {
		t.Errorf("closes %d, asked %v", closes, h.g.quitAsk != nil)
	}
}

// TestSaveWhileEditing: the save writes the text as it was when Save was
// pressed; an edit made while the file is written keeps the config
// marked as changed. Run with -race.
func TestSaveWhileEditing(t *testing.T) {
	h := newHarness(t)
	gate := make(chan struct{})
	h.useRealConfigs(gate)
	p := h.open("raid-config.yaml")
	e := h.field(keyHostname).entry
	e.SetText("garage")
	h.g.cfg.save(nil)
	for _, s := range []string{"garage-1", "garage-12", "shed"} {
		e.SetText(s) // while the save is blocked
	}
	close(gate)
	h.waitFor("save", func() bool {
		return h.g.cfg.pathLbl.Text != "" && strings.Contains(h.g.win.Title(), "raid-config") && fileHas(p, "garage")
	})
	h.pump(50 * time.Millisecond)
	if !h.g.cfg.dirty {
		t.Error("an edit made during the save was marked saved")
	}
	if b, _ := os.ReadFile(p); strings.Contains(string(b), "shed") || !strings.Contains(string(b), "hostname: garage") {
		t.Errorf("saved:\n%s", b)
	}
	h.g.be.Configs = realConfigs{}
	h.g.cfg.save(nil)
	h.waitFor("second save", func() bool { return !h.g.cfg.dirty })
	if !fileHas(p, "hostname: shed") {
		t.Error("second save lost the edit")
	}
}

func fileHas(p, s string) bool {
	b, err := os.ReadFile(p)
	return err == nil && strings.Contains(string(b), s)
}

// TestCancelWhileStarting: Cancel works while the build is starting.
func TestCancelWhileStarting(t *testing.T) {
	h := newHarness(t)
	h.be.Runner.Hold = make(chan struct{})
	h.open("raid-config.yaml")
	test.Tap(h.g.build.fullBtn)
	if !strings.HasPrefix(h.g.build.status.Text, "Starting") || h.g.build.cancelBtn.Disabled() {
		t.Fatalf("status %q, cancel disabled %v", h.g.build.status.Text, h.g.build.cancelBtn.Disabled())
	}
	test.Tap(h.g.build.cancelBtn)
	h.waitFor("cancelled", func() bool { return !h.g.build.Busy() })
	if got := h.g.build.status.Text; got != "Build cancelled" {
		t.Errorf("status %q", got)
	}
	if h.g.build.fullBtn.Disabled() || !h.g.build.cancelBtn.Disabled() {
		t.Error("buttons not back to idle")
	}
}

// TestProblemSummaryOutsideScroll: the summary does not sit inside the
// form's scroll, where it would push the edited field down.
func TestProblemSummaryOutsideScroll(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	if contains2(h.g.cfg.formScroll.Content, h.g.cfg.sumCard) {
		t.Error("the problem summary is inside the form's scroll")
	}
	f := h.field("raid.devices")
	f.entry.SetText("12")
	h.validated()
	if !h.g.cfg.sumCard.Visible() || h.g.cfg.sumCard.Title != "1 problem" {
		t.Errorf("summary title %q visible %v", h.g.cfg.sumCard.Title, h.g.cfg.sumCard.Visible())
	}
}

// TestToolMissing: without rpi-image-gen every section says so in the
// app's words and offers Settings.
func TestToolMissing(t *testing.T) {
	h := newHarness(t)
	h.be.Tool.Missing = true
	h.be.Runner.Missing = true
	h.useRealConfigs(nil)
	h.g.settings.detect()
	h.waitFor("detect", func() bool { return h.g.toolErr != nil })
	if !h.g.cfg.toolBanner.Visible() {
		t.Error("no banner on Configure")
	}
	if s := h.g.settings.version.Text; strings.Contains(s, "--rpi-image-gen") || !strings.Contains(s, "rpi-image-gen was not found") {
		t.Errorf("settings say %q", s)
	}
	h.open("raid-config.yaml")
	for _, p := range h.g.cfg.problems {
		if strings.Contains(p.Msg, "unknown layer") {
			t.Errorf("problem %q", p.Msg)
		}
	}
	test.Tap(h.g.build.fullBtn)
	h.waitFor("start to fail", func() bool {
		return !h.g.build.Busy() && h.g.build.status.Text != "" && !strings.HasPrefix(h.g.build.status.Text, "Starting")
	})
	if got := h.g.build.status.Text; got != toolMissingText {
		t.Errorf("build status %q", got)
	}
	h.be.Tool.Missing = false
	h.g.settings.detect()
	h.waitFor("found", func() bool { return h.g.toolErr == nil && !h.g.cfg.toolBanner.Visible() })
}

// TestFlashControlsLockedWhileWriting: the image, disk and options cannot
// change during a write.
func TestFlashControlsLockedWhileWriting(t *testing.T) {
	h := newHarness(t)
	h.be.Flasher.Step = 20 * time.Millisecond
	h.flashReady("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	if !h.g.flash.running {
		t.Fatal("not writing")
	}
	for name, w := range map[string]interface{ Disabled() bool }{"image": h.g.flash.imgSel, "browse": h.g.flash.browseBtn, "verify": h.g.flash.verify} {
		if !w.Disabled() {
			t.Errorf("%s enabled while writing", name)
		}
	}
	h.g.flash.selectDisk("/dev/mmcblk0")
	if h.g.flash.selected != "/dev/sdb" {
		t.Errorf("selection moved to %q while writing", h.g.flash.selected)
	}
	h.waitFor("write", func() bool { return !h.g.flash.running })
	if h.g.flash.imgSel.Disabled() || h.g.flash.verify.Disabled() {
		t.Error("controls stay disabled")
	}
}

// TestRescanKeepsLatest: a slow, older scan finishing last does not
// replace the newer list.
func TestRescanKeepsLatest(t *testing.T) {
	h := newHarness(t)
	h.be.Disks.Delays = []time.Duration{300 * time.Millisecond}
	h.g.flash.rescan(h.g.ctx) // slow: sees all five disks
	h.pump(30 * time.Millisecond)
	h.be.Disks.Replace(demo.SampleDisks()[:1])
	h.g.flash.rescan(h.g.ctx) // fast: sees one
	h.waitFor("second scan", func() bool { return len(h.g.flash.all) == 1 })
	h.pump(500 * time.Millisecond)
	if n := len(h.g.flash.all); n != 1 {
		t.Errorf("%d disks shown: the older scan replaced the newer one", n)
	}
}

func TestFieldLabels(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"sdcard_size", "SD card size"},
		{"external_size", "External disk size"},
		{"assetdir", "Asset dir"},
		{"raid_uuid", "RAID UUID"},
		{"array_id", "Array ID"},
		{"hostname", "Hostname"},
		{"boot_part_size", "Boot partition size"},
		{"ssh_pubkey", "SSH pubkey"},
		{"disksig", "Disk signature"},
		{"pmap", "Partition map"},
		{"user1pass", "Password"},
		{"pubkey_user1", "SSH public key"},
	} {
		if got := labelText(form.Var{Name: tc.name}); got != tc.want {
			t.Errorf("%s → %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEraseConfirmationScrolls(t *testing.T) {
	h := newHarness(t)
	var disks []disk.Disk
	for i := 0; i < 12; i++ {
		n := "sd" + string(rune('b'+i))
		disks = append(disks, disk.Disk{Name: n, Path: "/dev/" + n, SizeBytes: 500e9, Model: "Big", Eligible: true, NeedsTypedConfirm: true})
	}
	ed := h.g.confirmErase("Provision?", "many disks", disks, nil, func(map[string]string) {})
	if h := ed.dialog.MinSize().Height; h > 700 {
		t.Errorf("confirmation is %v high: its buttons leave a 720 high window", h)
	}
}

func TestDemoPrefsAreNotTheUsers(t *testing.T) {
	p := newMemPrefs()
	s := Settings{WorkDir: "/w", Recent: []string{"a", "b"}, Verify: true, LogLines: 5000, Width: 900}
	s.Save(p)
	if got := LoadSettings(p); got.WorkDir != "/w" || len(got.Recent) != 2 || !got.Verify || got.LogLines != 5000 || got.Width != 900 {
		t.Errorf("memory preferences lost settings: %+v", got)
	}
}

// contains2 reports whether obj is o or inside it.
func contains2(o, obj fyne.CanvasObject) bool {
	if o == obj {
		return true
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			if contains2(c, obj) {
				return true
			}
		}
	case *widget.Card:
		return contains2(x.Content, obj)
	case *container.Scroll:
		return contains2(x.Content, obj)
	}
	return false
}

// TestTypedToolDirApplies: a folder typed into the rpi-image-gen field is
// applied after a pause, without Enter; Detect goes back to detection.
func TestTypedToolDirApplies(t *testing.T) {
	h := newHarness(t)
	test.Type(h.g.settings.tool, "/srv/rpi-image-gen")
	h.waitFor("apply", func() bool { return h.g.set.ToolDir == "/srv/rpi-image-gen" })
	h.waitFor("detect", func() bool { return strings.HasPrefix(h.g.settings.version.Text, "/srv/rpi-image-gen") })
	if got := LoadSettings(h.a.Preferences()).ToolDir; got != "/srv/rpi-image-gen" {
		t.Errorf("stored %q", got)
	}
}

// TestDetectKeepsLatest: an older detection finishing last is dropped.
func TestDetectKeepsLatest(t *testing.T) {
	h := newHarness(t)
	h.be.Tool.Delay = map[string]time.Duration{"/old": 200 * time.Millisecond}
	h.g.set.ToolDir = "/old"
	h.g.settings.detect()
	h.g.set.ToolDir = "/new"
	h.g.settings.detect()
	h.pump(400 * time.Millisecond)
	if s := h.g.settings.version.Text; !strings.HasPrefix(s, "/new") {
		t.Errorf("version line %q, want the latest detection", s)
	}
}

func TestLogOpenNeedsARun(t *testing.T) {
	h := newHarness(t)
	if h.g.build.log.CanOpen() {
		t.Error("Open log file enabled before any build")
	}
	h.open("raid-config.yaml")
	test.Tap(h.g.build.fullBtn)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	if !h.g.build.log.CanOpen() {
		t.Error("Open log file disabled during a build with a log")
	}
}

// TestRaidPlanSticksUnderHotplug: disks coming and going keep every choice
// while its disk is present; a new disk takes no role by itself but is
// offered, and takes one when the user chooses it.
func TestRaidPlanSticksUnderHotplug(t *testing.T) {
	h := newHarness(t)
	h.raidReady()
	h.checkRows(map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdb", "external2": "/dev/sdc"})
	h.choose(2, "/dev/sdd")
	big := disk.Disk{Name: "sde", Path: "/dev/sde", SizeBytes: 4000787030016, Vendor: "WD", Model: "Elements 4TB", Serial: "WX4T", Bus: "usb", Eligible: true, NeedsTypedConfirm: true}
	tiny := disk.Disk{Name: "sdf", Path: "/dev/sdf", SizeBytes: 2e9, Model: "Stick", Serial: "S2", Bus: "usb", Removable: true, Eligible: true}

	// A disk that would fit a role better arrives: nothing moves.
	h.be.Disks.Replace(append(demo.SampleDisks(), big, tiny))
	h.waitFor("new disks offered", func() bool { return len(h.g.raid.offered) == 2 })
	h.checkRows(map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdb", "external2": "/dev/sdd"})
	if !h.g.raid.offer.Visible() || !strings.Contains(h.g.raid.offer.Text, "/dev/sde") || !strings.Contains(h.g.raid.offer.Text, "/dev/sdf") {
		t.Errorf("offer %q (visible %v)", h.g.raid.offer.Text, h.g.raid.offer.Visible())
	}

	// The proposed disk of external1 leaves: external1 gets a known disk,
	// the user's choice for external2 stays, the new disks stay unused.
	h.be.Disks.Replace(withoutDisk(append(demo.SampleDisks(), big, tiny), "/dev/sdb"))
	h.waitFor("sdb gone", func() bool { return len(h.g.raid.disks) == 6 })
	h.checkRows(map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdc", "external2": "/dev/sdd"})
	h.noRoleOn("/dev/sde", "/dev/sdf")

	// The user gives the new disk a role.
	h.choose(1, "/dev/sde")
	h.checkRows(map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sde", "external2": "/dev/sdd"})
	if len(h.g.raid.offered) != 1 || h.g.raid.offered[0].Path != "/dev/sdf" {
		t.Errorf("still offered: %v", h.g.raid.offered)
	}
	h.choiceLeaves()
}

// choiceLeaves: the disk of a user's choice (sde for external1) leaves;
// the role loses it, the other choice (sdd) stays and is confirmed.
func (h *harness) choiceLeaves() {
	t := h.t
	t.Helper()
	h.be.Disks.Replace(demo.SampleDisks())
	h.waitFor("sde gone", func() bool { return len(h.g.raid.disks) == 5 })
	if d := h.g.raid.plan.Roles[1].Disk; d != nil && d.Path == "/dev/sde" {
		t.Error("a choice outlived its disk")
	}
	if d := h.g.raid.plan.Roles[2].Disk; d == nil || d.Path != "/dev/sdd" || !h.g.raid.plan.Roles[2].Chosen {
		t.Errorf("the choice of sdd for external2 was lost: %+v", h.g.raid.plan.Roles[2])
	}
	h.g.raid.askProvision()
	c := h.g.raid.confirm
	if c == nil || c.entries["/dev/sdd"] == nil {
		t.Fatal("the confirmation does not list the chosen disk")
	}
}

// withoutDisk returns list without the disk at path.
func withoutDisk(list []disk.Disk, path string) []disk.Disk {
	var out []disk.Disk
	for _, d := range list {
		if d.Path != path {
			out = append(out, d)
		}
	}
	return out
}

// noRoleOn fails when a role of the plan has one of the disks.
func (h *harness) noRoleOn(paths ...string) {
	h.t.Helper()
	for _, ra := range h.g.raid.plan.Roles {
		if ra.Disk != nil && slices.Contains(paths, ra.Disk.Path) {
			h.t.Errorf("%s took %s by itself", ra.Disk.Path, ra.Role)
		}
	}
}

// TestRaidPlanMadeBeforeTheFirstScan: a set chosen before the disks were
// listed gets its proposal from the first list; those disks are not "new".
func TestRaidPlanMadeBeforeTheFirstScan(t *testing.T) {
	h := newHarness(t)
	h.g.raid.selectSet(filepath.Join(h.work, "image-raid-test"))
	h.waitFor("blind plan", func() bool { return h.g.raid.Rows() == 3 })
	h.g.flash.start(h.g.ctx)
	h.waitFor("plan", func() bool { return !h.g.raid.provBtn.Disabled() })
	if len(h.g.raid.offered) != 0 {
		t.Errorf("the first disk list is offered as new: %d disks", len(h.g.raid.offered))
	}
	h.checkRows(map[string]string{"sd": "/dev/mmcblk0", "external1": "/dev/sdb", "external2": "/dev/sdc"})
}
