package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestFolderThatIsNoImageSet: choosing a folder without image.json says so
// in words for the user and does not keep the folder in the set list.
func TestFolderThatIsNoImageSet(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	h.g.raid.selectSet(dir)
	h.waitFor("refusal", func() bool { return h.g.raid.setErr.Visible() })
	if got := h.g.raid.setErr.Text; !strings.Contains(got, "is not an image set") || strings.Contains(got, dir+"/") {
		t.Errorf("message %q", got)
	}
	for _, o := range h.g.raid.setSel.Options {
		if h.g.raid.setPaths[o] == dir || strings.Contains(o, dir) {
			t.Errorf("the folder stays in the set list as %q", o)
		}
	}
	if h.g.raid.setSel.Selected != "" || !h.g.raid.provBtn.Disabled() {
		t.Error("the folder stays selected")
	}
}

// TestTypedNamePromptFitsTheRole: an external RAID disk is not called
// unusually large for an SD card; a single write's disk is.
func TestTypedNamePromptFitsTheRole(t *testing.T) {
	h := newHarness(t)
	h.raidReady()
	test.Tap(h.g.raid.provBtn)
	c := h.g.raid.confirm
	if c == nil || c.entries["/dev/sdc"] == nil {
		t.Fatal("no typed name asked for sdc")
	}
	if got := c.prompts["/dev/sdc"].Text; strings.Contains(got, "unusually large") || !strings.Contains(got, "write it as external2") {
		t.Errorf("RAID prompt: %s", got)
	}
	c.close()
	h.g.flash.selectImage(h.work + "/image-raid-test/sdcard.img")
	h.g.flash.selectDisk("/dev/sdc")
	h.g.flash.askFlash()
	if f := h.g.flash.confirm; f == nil || !strings.Contains(f.prompts["/dev/sdc"].Text, "unusually large for an SD card or USB stick") {
		t.Error("the single write's prompt lost its words")
	}
}
