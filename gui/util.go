package gui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/builder/units"
	"github.com/pistudio/pistudio/gui/backend"
)

// humanDuration formats a duration as 1h02m03s / 2m03s / 4.2s.
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
}

// progressText describes a write or verify in progress.
func progressText(p backend.Progress) string {
	phase := "Writing"
	if p.Phase == "verify" {
		phase = "Verifying"
	}
	s := fmt.Sprintf("%s %s of %s", phase, units.Decimal(p.Done), units.Decimal(p.Total))
	if p.Rate > 0 {
		s += fmt.Sprintf(" · %s/s", units.Decimal(int64(p.Rate)))
	}
	if p.ETA > 0 {
		s += " · " + humanDuration(p.ETA.Round(time.Second)) + " left"
	}
	return s
}

func progressFraction(p backend.Progress) float64 {
	if p.Total <= 0 {
		return 0
	}
	return float64(p.Done) / float64(p.Total)
}

// showError shows err in a dialog.
func (g *App) showError(err error) {
	if err != nil {
		dialog.ShowError(err, g.win)
	}
}

// diskLine names a disk the way every confirmation does.
func diskLine(d backend.Disk) string {
	model := d.Model
	if model == "" {
		model = "Unnamed disk"
	}
	return fmt.Sprintf("%s, %s, %s", model, units.Decimal(d.Size), d.Path)
}

// confirmErase asks before erasing disks. Disks whose NeedsTypedConfirm is
// set (decided by the flash guard) need their name typed. onYes gets the
// typed names by disk path.
func (g *App) confirmErase(title, intro string, disks []backend.Disk, onYes func(typed map[string]string)) *eraseDialog {
	items := []fyne.CanvasObject{}
	if intro != "" {
		l := widget.NewLabel(intro)
		l.Wrapping = fyne.TextWrapWord
		items = append(items, l)
	}
	entries := map[string]*widget.Entry{}
	var confirm *widget.Button
	update := func() {
		ok := true
		for _, d := range disks {
			if e := entries[d.Path]; e != nil && strings.TrimSpace(e.Text) != d.Name {
				ok = false
			}
		}
		if ok {
			confirm.Enable()
		} else {
			confirm.Disable()
		}
	}
	for _, d := range disks {
		l := widget.NewLabelWithStyle("• "+diskLine(d), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		items = append(items, l)
		if d.NeedsTypedConfirm {
			e := widget.NewEntry()
			e.SetPlaceHolder("disk name")
			e.OnChanged = func(string) { update() }
			entries[d.Path] = e
			items = append(items, wrapLabel(fmt.Sprintf("This disk is unusually large for an SD card or USB stick. Type its name, %s, to confirm:", d.Name)), e)
		}
	}
	warn := widget.NewLabel("Everything on these disks will be erased. This cannot be undone.")
	if len(disks) == 1 {
		warn.SetText("Everything on this disk will be erased. This cannot be undone.")
	}
	warn.Importance = widget.WarningImportance
	warn.Wrapping = fyne.TextWrapWord
	items = append(items, warn)

	var d *dialog.CustomDialog
	confirm = widget.NewButtonWithIcon("Erase and write", theme.WarningIcon(), func() {
		typed := map[string]string{}
		for p, e := range entries {
			typed[p] = strings.TrimSpace(e.Text)
		}
		d.Hide()
		onYes(typed)
	})
	confirm.Importance = widget.WarningImportance
	cancel := widget.NewButton("Cancel", func() { d.Hide() })
	d = dialog.NewCustomWithoutButtons(title, container.NewVBox(items...), g.win)
	d.SetButtons([]fyne.CanvasObject{cancel, confirm})
	update()
	d.Resize(fyne.NewSize(560, d.MinSize().Height))
	d.Show()
	return &eraseDialog{dialog: d, confirm: confirm, cancel: cancel, entries: entries}
}

// eraseDialog is an open erase confirmation.
type eraseDialog struct {
	dialog  *dialog.CustomDialog
	confirm *widget.Button
	cancel  *widget.Button
	entries map[string]*widget.Entry
}

// wrapLabel returns a word-wrapping label.
func wrapLabel(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// hintLabel returns a small, word-wrapping label for field hints.
func hintLabel(s string) *widget.Label {
	l := wrapLabel(s)
	l.SizeName = theme.SizeNameCaptionText
	return l
}

// widthLayout gives its one object (a list) a minimum width, so that a
// horizontal scroll around it can reveal long lines.
type widthLayout struct{ width float32 }

func (l *widthLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(max(l.width, objects[0].MinSize().Width), objects[0].MinSize().Height)
}

func (l *widthLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	objects[0].Move(fyne.NewPos(0, 0))
	objects[0].Resize(size)
}
