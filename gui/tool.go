package gui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/pistudio/pistudio/builder/runner"
)

// toolMissingText is what every section says when rpi-image-gen is not
// found (the command line's advice about flags and variables does not
// apply here).
const toolMissingText = "rpi-image-gen was not found. Choose its folder in Settings."

// isToolMissing reports an error that means rpi-image-gen was not found.
func isToolMissing(err error) bool { return errors.Is(err, runner.ErrToolNotFound) }

// showToolMissing tells the user to choose the tool's folder, with a
// button that opens Settings.
func (g *App) showToolMissing() {
	var d *dialog.CustomDialog
	open := widget.NewButtonWithIcon("Open Settings", theme.SettingsIcon(), func() {
		d.Hide()
		g.Show(SectionSettings)
	})
	open.Importance = widget.HighImportance
	d = dialog.NewCustomWithoutButtons("rpi-image-gen not found", wrapLabel(toolMissingText+
		" Pi Image Studio runs its build stages with rpi-image-gen."), g.win)
	buttons := []fyne.CanvasObject{widget.NewButton("Close", func() { d.Hide() }), open}
	if g.doctor != nil {
		buttons = append(buttons, widget.NewButtonWithIcon("Get rpi-image-gen…", theme.DownloadIcon(), func() {
			d.Hide()
			g.Show(SectionSettings)
			g.doctor.askGetTool()
		}))
	}
	d.SetButtons(buttons)
	d.Resize(fyne.NewSize(460, d.MinSize().Height))
	d.Show()
}

// toolMissingBanner is the Configure section's notice while rpi-image-gen
// is not found.
func toolMissingBanner(g *App) *fyne.Container {
	l := wrapLabel(toolMissingText + " Until then only Pi Image Studio's own layers are known, and values are checked against those alone.")
	l.Importance = widget.WarningImportance
	open := widget.NewButtonWithIcon("Open Settings", theme.SettingsIcon(), func() { g.Show(SectionSettings) })
	return container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), open, l)
}

// toolFound records the result of looking for rpi-image-gen and shows or
// hides the Configure banner.
func (g *App) toolFound(err error) {
	g.toolErr = err
	if g.doctor != nil {
		g.doctor.toolMissing(isToolMissing(err))
	}
	if isToolMissing(err) {
		g.cfg.toolBanner.Show()
	} else {
		g.cfg.toolBanner.Hide()
	}
}
