package gui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// press sends a Ctrl shortcut to the window.
func (h *harness) press(k fyne.KeyName) {
	h.w.Canvas().(fyne.Shortcutable).TypedShortcut(shortcut(k))
}

// TestKeyboardShortcuts: Ctrl+S saves, Ctrl+N starts a new config (asking
// first about unsaved changes), Ctrl+Q asks as closing does, Escape
// closes the open question.
func TestKeyboardShortcuts(t *testing.T) {
	h := newHarness(t)
	closes := 0
	h.g.closeWin = func() { closes++ }
	p := h.open("raid-config.yaml")
	h.field(keyHostname).entry.SetText("garage")
	h.press(fyne.KeyS)
	h.waitFor("save", func() bool { return !h.g.cfg.dirty })
	if v, _ := h.g.cfg.doc.Get(keyHostname); v != "garage" || h.g.cfg.path != p {
		t.Fatalf("Ctrl+S did not save: %q %q", v, h.g.cfg.path)
	}
	h.field(keyHostname).entry.SetText("shed")
	h.press(fyne.KeyN)
	if h.g.cfg.unsaved == nil {
		t.Fatal("Ctrl+N did not ask about the unsaved change")
	}
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if h.g.cfg.unsaved != nil || h.g.cfg.path != p {
		t.Fatal("Escape did not close the question, or the config changed")
	}
	h.press(fyne.KeyQ)
	h.waitFor("quit", func() bool { return h.g.cfg.unsaved != nil })
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if closes != 0 || h.g.cfg.unsaved != nil {
		t.Fatal("Escape on the quit question closed the window")
	}
	h.press(fyne.KeyO) // opens the file dialog: nothing to assert but no panic
}

// TestTypedNameFocusedAndEscape: the typed-name field has the focus when
// the confirmation opens, and Escape in it cancels without writing.
func TestTypedNameFocusedAndEscape(t *testing.T) {
	h := newHarness(t)
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) > 0 })
	h.g.flash.selectImage(filepath.Join(h.work, "image-raid-test", "sdcard.img"))
	h.g.flash.selectDisk("/dev/sdc")
	h.g.flash.askFlash()
	c := h.g.flash.confirm
	if c == nil || h.w.Canvas().Focused() != c.entries["/dev/sdc"] {
		t.Fatal("the typed-name field is not focused")
	}
	test.Type(c.entries["/dev/sdc"], "sd")
	c.entries["/dev/sdc"].TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if !c.closed || h.g.flash.confirm != nil && !h.g.flash.confirm.closed {
		t.Fatal("Escape did not close the confirmation")
	}
	h.pump(20 * time.Millisecond)
	if len(h.be.Flasher.Jobs()) != 0 {
		t.Fatal("Escape wrote the disk")
	}
}

// TestOneVerifySetting: Flash's box and the Settings box are one stored
// value, which RAID provisioning uses.
func TestOneVerifySetting(t *testing.T) {
	h := newHarness(t)
	h.g.flash.verify.SetChecked(false)
	if h.g.settings.verify.Checked || h.g.set.Verify || LoadSettings(h.a.Preferences()).Verify {
		t.Fatal("unticking Flash's box did not change the setting")
	}
	h.g.settings.verify.SetChecked(true)
	if !h.g.flash.verify.Checked || !LoadSettings(h.a.Preferences()).Verify {
		t.Fatal("the Settings box does not reach Flash")
	}
	h.g.flash.verify.SetChecked(false)
	h.raidReady()
	h.g.raid.provision(h.g.raid.plan, map[string]string{"/dev/sdc": "sdc"})
	h.waitFor("provisioning", func() bool { return len(h.be.Raid.Provisioned()) == 1 && !h.g.raid.running })
	if got := h.be.Raid.Provisioned(); len(got) != 1 {
		t.Fatal("not provisioned")
	}
	if !h.be.Raid.LastOptions().NoVerify {
		t.Error("RAID provisioning verified with verification off")
	}
}

// TestNewImageResetsTheLastResult: the bar and the result of the last
// write go when another image is chosen.
func TestNewImageResetsTheLastResult(t *testing.T) {
	h := newHarness(t)
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) > 0 })
	h.g.flash.selectImage(filepath.Join(h.work, "image-raid-test", "sdcard.img"))
	h.g.flash.selectDisk("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("write", func() bool { return !h.g.flash.running && h.g.flash.result.Text != "" })
	if h.g.flash.bar.Value != 1 {
		t.Fatalf("bar %v after the write", h.g.flash.bar.Value)
	}
	h.g.flash.selectImage(filepath.Join(h.work, "image-raid-test", "external1.img"))
	if h.g.flash.bar.Visible() || h.g.flash.result.Text != "" || h.g.flash.progress.Text != "" {
		t.Errorf("the last result stays: bar %v, %q %q", h.g.flash.bar.Visible(), h.g.flash.progress.Text, h.g.flash.result.Text)
	}
}

// TestDropOpensImagesAndConfigs: an image dropped on the window goes to
// Flash; a YAML file is opened as the config.
func TestDropOpensImagesAndConfigs(t *testing.T) {
	h := newHarness(t)
	img := filepath.Join(h.work, "image-raid-test", "sdcard.img")
	h.g.dropped(fyne.Position{}, []fyne.URI{storage.NewFileURI("/tmp/notes.txt"), storage.NewFileURI(img)})
	if h.g.flash.image != img || h.g.tabs.SelectedIndex() != SectionFlash {
		t.Errorf("image %q, section %d", h.g.flash.image, h.g.tabs.SelectedIndex())
	}
	p := h.writeConfig("raid-config.yaml")
	h.g.dropped(fyne.Position{}, []fyne.URI{storage.NewFileURI(p)})
	h.waitFor("config", func() bool { return h.g.cfg.path == p })
}

// TestQuitQuestionClosesWhenTheWriteEnds: the "Quit and stop the write?"
// question goes away by itself when the write has finished.
func TestQuitQuestionClosesWhenTheWriteEnds(t *testing.T) {
	h := newHarness(t)
	h.be.Flasher.Step = 5 * time.Millisecond
	closes := 0
	h.g.closeWin = func() { closes++ }
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) > 0 })
	h.g.flash.selectImage(filepath.Join(h.work, "image-raid-test", "sdcard.img"))
	h.g.flash.selectDisk("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.g.onClose()
	if h.g.quitAsk == nil {
		t.Fatal("closing during a write did not ask")
	}
	h.waitFor("write", func() bool { return !h.g.flash.running })
	if h.g.quitAsk != nil || closes != 0 {
		t.Errorf("question still open %v, closed %d", h.g.quitAsk != nil, closes)
	}
}

// TestSafelyRemoveAfterWrite: after a write the disk just written (and no
// other) can be powered off; a new image takes the button away.
func TestSafelyRemoveAfterWrite(t *testing.T) {
	h := newHarness(t)
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) > 0 })
	if h.g.flash.ejectBtn.Visible() {
		t.Fatal("Safely remove shown before any write")
	}
	h.g.flash.selectImage(filepath.Join(h.work, "image-raid-test", "sdcard.img"))
	h.g.flash.selectDisk("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("write", func() bool { return !h.g.flash.running && h.g.flash.ejectBtn.Visible() })
	h.g.flash.selectDisk("/dev/mmcblk0") // another disk selected: the written one is ejected
	test.Tap(h.g.flash.ejectBtn)
	h.waitFor("eject", func() bool { return len(h.be.Flasher.Ejected()) == 1 && !h.g.flash.ejectBtn.Visible() })
	if got := h.be.Flasher.Ejected(); got[0] != "/dev/sdb" {
		t.Errorf("ejected %v, want the disk written", got)
	}
	if !strings.Contains(h.g.flash.progress.Text, "unplug") {
		t.Errorf("progress %q", h.g.flash.progress.Text)
	}
}

// TestOpenByTypedPath: Ctrl+L asks for a path as text and opens it.
func TestOpenByTypedPath(t *testing.T) {
	h := newHarness(t)
	p := h.writeConfig("raid-config.yaml")
	h.press(fyne.KeyL)
	e := h.g.cfg.pathEntry
	if e == nil || h.w.Canvas().Focused() != e {
		t.Fatal("no focused path field")
	}
	e.SetText(p)
	test.Tap(findButton(t, h.w.Canvas().Overlays().Top(), "Open"))
	h.waitFor("config", func() bool { return h.g.cfg.path == p })
}

// findButton finds the button labelled text in o.
func findButton(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			found = b
		}
		if c, ok := o.(*fyne.Container); ok {
			for _, x := range c.Objects {
				walk(x)
			}
		}
		if w, ok := o.(fyne.Widget); ok && found == nil {
			if r := test.WidgetRenderer(w); r != nil {
				for _, x := range r.Objects() {
					walk(x)
				}
			}
		}
	}
	walk(o)
	if found == nil {
		t.Fatalf("no %q button", text)
	}
	return found
}
