package gui

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/units"
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
func progressText(p flash.Progress) string {
	phase := "Writing"
	if p.Phase == flash.Verifying {
		phase = "Verifying"
	}
	s := fmt.Sprintf("%s %s of %s", phase, units.Decimal(p.Done), units.Decimal(p.Total))
	if p.BytesPerSec > 0 {
		s += fmt.Sprintf(" · %s/s", units.Decimal(int64(p.BytesPerSec)))
	}
	if p.ETA > 0 {
		s += " · " + humanDuration(p.ETA.Round(time.Second)) + " left"
	}
	return s
}

func progressFraction(p flash.Progress) float64 {
	if p.Total <= 0 {
		return 0
	}
	return float64(p.Done) / float64(p.Total)
}

// showError shows err in a dialog.
func (g *App) showError(err error) {
	if err != nil && !g.sudoError(err) {
		dialog.ShowError(err, g.win)
	}
}

// diskLine names a disk the way every confirmation does.
func diskLine(d disk.Disk) string {
	s := fmt.Sprintf("%s, %s, %s", diskModel(d), units.Decimal(d.SizeBytes), d.Path)
	if d.Serial != "" {
		s += ", serial " + d.Serial
	}
	return s
}

// diskModel is the vendor and model of a disk as the app names it.
func diskModel(d disk.Disk) string {
	model := strings.TrimSpace(d.Vendor + " " + d.Model)
	if d.Vendor != "" && strings.HasPrefix(d.Model, d.Vendor) {
		model = d.Model
	}
	if model == "" && d.Bus == "loop" && d.Serial != "" {
		model = "Loop device (" + filepath.Base(d.Serial) + ")"
	}
	if model == "" {
		model = "Unnamed disk"
	}
	return model
}

// maxDiskListHeight is the height above which the disk list of an erase
// confirmation scrolls, so the buttons stay on screen.
const maxDiskListHeight = 320

// confirmErase asks before erasing disks. Disks whose NeedsTypedConfirm is
// set (decided by the flash guard) need their name typed. onYes gets the
// typed names by disk path.
func (g *App) confirmErase(title, intro string, disks []disk.Disk, roles map[string]string, onYes func(typed map[string]string)) *eraseDialog {
	ed := &eraseDialog{entries: map[string]*escEntry{}, prompts: map[string]*widget.Label{}}
	var list []fyne.CanvasObject
	update := func() {
		ok := true
		for _, d := range disks {
			if e := ed.entries[d.Path]; e != nil && !d.ConfirmedBy(e.Text) {
				ok = false
			}
		}
		if ok {
			ed.confirm.Enable()
		} else {
			ed.confirm.Disable()
		}
	}
	for _, d := range disks {
		l := widget.NewLabelWithStyle("• "+diskLine(d), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Wrapping = fyne.TextWrapWord
		list = append(list, l)
		if d.NeedsTypedConfirm {
			e := newEscEntry(func() { ed.cancel.OnTapped() })
			e.SetPlaceHolder(d.Name + " or " + d.Path)
			e.OnChanged = func(string) { update() }
			ed.entries[d.Path] = e
			prompt := wrapLabel(typedPrompt(d, roles[d.Path]))
			ed.prompts[d.Path] = prompt
			list = append(list, prompt, e)
		}
	}
	var top []fyne.CanvasObject
	if intro != "" {
		top = append(top, wrapLabel(intro))
	}
	warn := wrapLabel("Everything on these disks will be erased. This cannot be undone.")
	if len(disks) == 1 {
		warn.SetText("Everything on this disk will be erased. This cannot be undone.")
	}
	warn.Importance = widget.WarningImportance

	box := container.NewVBox(list...)
	var listObj fyne.CanvasObject = box
	if h := box.MinSize().Height; h > maxDiskListHeight {
		sc := container.NewVScroll(box)
		sc.SetMinSize(fyne.NewSize(0, maxDiskListHeight))
		listObj = sc
	}
	ed.confirm = widget.NewButtonWithIcon("Erase and write", theme.WarningIcon(), func() {
		if ed.closed {
			return
		}
		typed := map[string]string{}
		for p, e := range ed.entries {
			typed[p] = strings.TrimSpace(e.Text)
		}
		ed.close()
		onYes(typed)
	})
	ed.confirm.Importance = widget.WarningImportance
	ed.cancel = widget.NewButton("Cancel", func() {
		ed.close()
		if ed.onCancel != nil {
			ed.onCancel()
		}
	})
	ed.dialog = dialog.NewCustomWithoutButtons(title, container.NewBorder(container.NewVBox(top...), warn, nil, nil, listObj), g.win)
	ed.dialog.SetButtons([]fyne.CanvasObject{ed.cancel, ed.confirm})
	update()
	ed.dialog.Resize(fyne.NewSize(560, ed.dialog.MinSize().Height))
	ed.dialog.Show()
	for _, d := range disks {
		if e := ed.entries[d.Path]; e != nil {
			g.win.Canvas().Focus(e) // the first name to type
			break
		}
	}
	return ed
}

// eraseDialog is an open erase confirmation.
type eraseDialog struct {
	dialog  *dialog.CustomDialog
	confirm *widget.Button
	cancel  *widget.Button
	entries map[string]*escEntry
	// prompts ask for the typed names, by disk path.
	prompts map[string]*widget.Label
	// onCancel, when set, is called when the user cancels.
	onCancel func()
	closed   bool
}

// close hides the confirmation; its confirm button does nothing after.
func (e *eraseDialog) close() {
	e.closed = true
	e.confirm.Disable()
	e.dialog.Hide()
}

// typedPrompt asks for the name of a large disk, in the words of its use:
// a single write or the SD card role (where a large disk is unusual), or
// an external disk of a RAID set (where it is expected).
func typedPrompt(d disk.Disk, role string) string {
	if role == "" || role == provision.RoleSD {
		return fmt.Sprintf("This disk is unusually large for an SD card or USB stick. Type its name, %s, to confirm:", d.Name)
	}
	return fmt.Sprintf("Disks over %s are confirmed by name. Type its name, %s, to write it as %s:",
		units.Decimal(disk.TypedConfirmBytes), d.Name, role)
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
