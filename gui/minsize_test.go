package gui

import (
	"testing"

	"github.com/pistudio/pistudio/builder/runner"
)

// maxMin is the largest minimum size the window content may ask for: the
// window must fit an 800x600 screen whatever it shows.
const maxMinW, maxMinH = 800, 600

// checkMinSize fails when the content asks for more than 800x600.
func (h *harness) checkMinSize(what string) {
	h.t.Helper()
	if m := h.g.Content().MinSize(); m.Width > maxMinW || m.Height > maxMinH {
		h.t.Errorf("%s: the window content needs %.0fx%.0f, more than %dx%d", what, m.Width, m.Height, maxMinW, maxMinH)
	}
}

// TestWindowFitsSmallScreens: every section, with a config open, a RAID
// plan shown, a write's result and a failed build, fits 800x600.
func TestWindowFitsSmallScreens(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.raid.disks) > 0 })
	for i, name := range Sections {
		h.g.Show(i)
		h.pump(0)
		h.checkMinSize(name)
	}
	h.g.raid.selectSet(h.work + "/image-raid-test")
	h.waitFor("plan", func() bool { return h.g.raid.Rows() == 3 })
	h.g.Show(SectionRaid)
	h.checkMinSize("RAID plan")

	h.g.flash.selectImage(h.work + "/image-raid-test/sdcard.img")
	h.waitFor("image info", func() bool { return h.g.flash.info != nil })
	h.g.Show(SectionFlash)
	h.checkMinSize("Flash with an image")

	h.g.Show(SectionBuild)
	h.g.build.start(runner.StageFull)
	h.waitFor("run", func() bool { return h.g.build.run != nil })
	run := h.be.Runner.Last()
	long := "E: Could not resolve 'archive.raspberrypi.com' while fetching http://archive.raspberrypi.com/debian/dists/bookworm/InRelease through the configured apt proxy, giving up after 3 attempts"
	run.Send(runner.Event{Kind: runner.EventLog, Text: long, Explain: long + " " + long})
	run.Finish(runner.Result{State: runner.Failed, ExitStatus: 1, Err: errorString(long + " " + long)})
	h.waitFor("finish", func() bool { return !h.g.build.Running() })
	h.waitFor("explanation", func() bool { return h.g.build.explainCard.Visible() })
	h.checkMinSize("failed build")
}

// errorString is an error with a fixed text.
type errorString string

func (e errorString) Error() string { return string(e) }
