package gui

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/test"
)

// escape presses Escape with nothing focused.
func (h *harness) escape() {
	h.w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
}

// overlays is how many overlays the window shows.
func (h *harness) overlays() int { return len(h.w.Canvas().Overlays().List()) }

// TestEscapeClosesFyneDialogs: Escape closes Fyne's own error and confirm
// dialogs, the top one first; a confirm closed so never answers yes, and
// one the app shows through showDismissable answers no.
func TestEscapeClosesFyneDialogs(t *testing.T) {
	h := newHarness(t)
	var answers []bool
	dialog.ShowError(errors.New("something failed"), h.w)
	dialog.ShowConfirm("Erase it?", "Really?", func(ok bool) { answers = append(answers, ok) }, h.w)
	if h.overlays() != 2 {
		t.Fatalf("%d overlays, want the two dialogs", h.overlays())
	}
	h.escape()
	if h.overlays() != 1 {
		t.Fatalf("Escape left %d overlays, want the error dialog only", h.overlays())
	}
	h.escape()
	if h.overlays() != 0 {
		t.Fatalf("Escape did not close the error dialog")
	}
	for _, ok := range answers {
		if ok {
			t.Fatal("Escape confirmed")
		}
	}

	tracked := dialog.NewConfirm("Erase it?", "Really?", func(ok bool) { answers = append(answers, ok) }, h.w)
	h.g.showDismissable(tracked)
	h.escape()
	if h.overlays() != 0 || len(answers) != 1 || answers[0] {
		t.Errorf("overlays %d, answers %v: want the dialog closed with no", h.overlays(), answers)
	}
	h.escape() // nothing open: nothing happens
}

// TestEscapeClosesFileAndPathDialogs: the file dialogs and the typed-path
// questions close on Escape, in the field too.
func TestEscapeClosesFileAndPathDialogs(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	h.press(fyne.KeyO)
	if h.overlays() != 1 {
		t.Fatalf("%d overlays after Ctrl+O", h.overlays())
	}
	h.escape()
	if h.overlays() != 0 {
		t.Fatal("Escape did not close the open dialog")
	}
	h.g.cfg.saveAs(nil)
	h.escape()
	if h.overlays() != 0 {
		t.Fatal("Escape did not close the save dialog")
	}
	h.press(fyne.KeyL)
	h.g.cfg.pathEntry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if h.overlays() != 0 {
		t.Fatal("Escape in the path field did not close its dialog")
	}
	h.pressShift(fyne.KeyS)
	h.g.cfg.savePath.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if h.overlays() != 0 {
		t.Fatal("Escape in the save path field did not close its dialog")
	}
}

// TestEscapeCancelsFlashAndProvision: Escape on the flash and the RAID
// confirmations cancels them (an error dialog above goes first); nothing
// is written.
func TestEscapeCancelsFlashAndProvision(t *testing.T) {
	h := newHarness(t)
	h.raidReady()
	h.g.flash.selectImage(filepath.Join(h.work, "image-raid-test", "sdcard.img"))
	h.g.flash.selectDisk("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	c := h.g.flash.confirm
	if c == nil {
		t.Fatal("no confirmation")
	}
	h.g.showError(errors.New("unrelated"))
	h.escape()
	if c.closed || h.overlays() != 1 {
		t.Fatalf("Escape closed the confirmation under the error dialog (closed %v, %d overlays)", c.closed, h.overlays())
	}
	h.escape()
	if !c.closed || h.overlays() != 0 {
		t.Fatal("Escape did not cancel the flash confirmation")
	}

	test.Tap(h.g.raid.provBtn)
	r := h.g.raid.confirm
	if r == nil {
		t.Fatal("no RAID confirmation")
	}
	h.escape()
	if !r.closed || h.g.raid.confirm != nil || h.overlays() != 0 {
		t.Fatal("Escape did not cancel the RAID confirmation")
	}
	h.pump(20 * time.Millisecond)
	if len(h.be.Flasher.Jobs()) != 0 || len(h.be.Raid.Provisioned()) != 0 {
		t.Fatal("Escape wrote a disk")
	}
	test.Tap(h.g.raid.provBtn)
	if h.g.raid.confirm == nil {
		t.Fatal("the RAID confirmation does not open again after Escape")
	}
}
