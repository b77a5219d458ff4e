package gui

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/gui/demo"
)

// TestFlashMarksTooSmallDisks: a disk smaller than the image is marked in
// the list, and Flash stays disabled with both sizes named in one unit.
func TestFlashMarksTooSmallDisks(t *testing.T) {
	h := newHarness(t)
	stick := disk.Disk{Name: "sdf", Path: "/dev/sdf", SizeBytes: 1e9, Model: "Stick", Serial: "S1", Bus: "usb", Removable: true, Eligible: true}
	h.be.Disks.Replace(append(demo.SampleDisks(), stick))
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) == 6 })
	h.g.flash.selectImage(filepath.Join(h.work, "deploy", "deb12-arm64-min.img.xz")) // 2.0 GB once written
	h.waitFor("image info", func() bool { return h.g.flash.info != nil })
	h.g.flash.selectDisk("/dev/sdf")
	if h.g.flash.selected != "/dev/sdf" {
		t.Fatal("the small disk cannot be selected")
	}
	if !h.g.flash.flashBtn.Disabled() {
		t.Error("Flash is enabled for a disk smaller than the image")
	}
	e := h.g.flash.sizeErr
	if !e.Visible() || !strings.Contains(e.Text, "1.0 GB") || !strings.Contains(e.Text, "2.0 GB") || strings.Contains(e.Text, "iB") {
		t.Errorf("size message %q (visible %v)", e.Text, e.Visible())
	}
	if sub := h.rowSubtitle("/dev/sdf"); !strings.Contains(sub, "too small") {
		t.Errorf("list row %q does not mark the small disk", sub)
	}
	if sub := h.rowSubtitle("/dev/sdb"); strings.Contains(sub, "too small") {
		t.Errorf("list row %q marks a disk that fits", sub)
	}
	h.g.flash.selectDisk("/dev/sdb")
	if h.g.flash.flashBtn.Disabled() || e.Visible() {
		t.Error("Flash disabled for a disk that fits")
	}
	test.Tap(h.g.flash.flashBtn)
	if h.g.flash.confirm == nil {
		t.Error("no confirmation for a disk that fits")
	}
}

// rowSubtitle renders the flash list's row of a disk and returns its
// second line.
func (h *harness) rowSubtitle(path string) string {
	h.t.Helper()
	f := h.g.flash
	for i, d := range f.shown {
		if d.Path != path {
			continue
		}
		o := f.list.CreateItem()
		f.list.UpdateItem(i, o)
		box := o.(*fyne.Container).Objects[0].(*fyne.Container)
		return box.Objects[1].(*widget.Label).Text
	}
	h.t.Fatalf("%s is not listed", path)
	return ""
}

// TestRaidMarksAndRefusesTooSmallDisks: a role's list marks the disks too
// small for its image, and choosing one is refused with both sizes in
// decimal units; labels carry the serial number to tell disks apart.
func TestRaidMarksAndRefusesTooSmallDisks(t *testing.T) {
	h := newHarness(t)
	stick := disk.Disk{Name: "sdf", Path: "/dev/sdf", SizeBytes: 512e6, Model: "Stick", Serial: "S512", Bus: "usb", Removable: true, Eligible: true}
	h.be.Disks.Replace(append(demo.SampleDisks(), stick))
	h.raidReady()
	marked := func(row int) string {
		for _, o := range h.g.raid.rows[row].sel.Options {
			if h.g.raid.diskOpt[o] == "/dev/sdf" {
				return o
			}
		}
		t.Fatalf("row %d does not list sdf", row)
		return ""
	}
	if o := marked(0); strings.Contains(o, "too small") || !strings.Contains(o, "serial S512") {
		t.Errorf("sd row: %q (the 200 MB image fits)", o)
	}
	o := marked(1)
	if !strings.Contains(o, "too small") {
		t.Errorf("external1 row: %q is not marked", o)
	}
	before := h.g.raid.plan.Roles[1].Disk.Path
	h.g.raid.rows[1].sel.SetSelected(o)
	if h.g.raid.plan.Roles[1].Disk.Path != before {
		t.Error("a too small disk was accepted")
	}
	e := h.g.raid.planErr
	if !e.Visible() || !strings.Contains(e.Text, "512.0 MB") || !strings.Contains(e.Text, "1.0 GB") || strings.Contains(e.Text, "iB") {
		t.Errorf("refusal %q (visible %v)", e.Text, e.Visible())
	}
}
