package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// escDialog is a shown dialog Escape closes through its own Dismiss: the
// overlay it put on the canvas and the dismissal.
type escDialog struct {
	overlay fyne.CanvasObject
	dismiss func()
}

// showDismissable shows d and remembers its overlay, so that Escape
// dismisses it as its dismiss button does (a confirm dialog then answers
// no, a file dialog reports no file).
func (g *App) showDismissable(d dialog.Dialog) {
	d.Show()
	top := g.win.Canvas().Overlays().Top()
	if top == nil {
		return // shown by the system, not on the canvas
	}
	g.pruneEscDialogs()
	g.escDialogs = append(g.escDialogs, escDialog{overlay: top, dismiss: d.Dismiss})
}

// pruneEscDialogs forgets the dialogs no longer on the canvas.
func (g *App) pruneEscDialogs() {
	shown := g.win.Canvas().Overlays().List()
	kept := g.escDialogs[:0]
	for _, d := range g.escDialogs {
		for _, o := range shown {
			if o == d.overlay {
				kept = append(kept, d)
				break
			}
		}
	}
	clear(g.escDialogs[len(kept):])
	g.escDialogs = kept
}

// escapeCancels are the buttons that cancel the app's own open questions.
func (g *App) escapeCancels() []*widget.Button {
	var out []*widget.Button
	if c := g.flash.confirm; c != nil && !c.closed {
		out = append(out, c.cancel)
	}
	if c := g.raid.confirm; c != nil && !c.closed {
		out = append(out, c.cancel)
	}
	if g.quitAsk != nil {
		out = append(out, g.quitAsk.keep)
	}
	if g.cfg.unsaved != nil {
		out = append(out, g.cfg.unsaved.cancel)
	}
	if d := g.doctor; d != nil && d.gateDlg != nil {
		out = append(out, d.gateDlg.close)
	}
	if d := g.doctor; d != nil && d.installDlg != nil {
		out = append(out, d.installDlg.cancel)
	}
	return out
}

// dismiss closes the dialog on top of the window on Escape: one of the
// app's questions the way its Cancel button does (nothing while that
// button is disabled), a dialog shown by showDismissable through its
// Dismiss, any other overlay (Fyne's error and confirm dialogs, a select's
// menu) by taking it off the canvas, so that no confirm callback runs.
func (g *App) dismiss() {
	ov := g.win.Canvas().Overlays()
	top := ov.Top()
	if top == nil || g.quitting {
		return // nothing open, or "Stopping…" stays until the app quits
	}
	for _, b := range g.escapeCancels() {
		if b != nil && holds(top, b) {
			if !b.Disabled() && b.OnTapped != nil {
				b.OnTapped()
			}
			return
		}
	}
	g.pruneEscDialogs()
	for i := len(g.escDialogs) - 1; i >= 0; i-- {
		if d := g.escDialogs[i]; d.overlay == top {
			g.escDialogs = append(g.escDialogs[:i], g.escDialogs[i+1:]...)
			d.dismiss()
			return
		}
	}
	if p, ok := top.(*widget.PopUp); ok {
		p.Hide()
		return
	}
	ov.Remove(top)
}

// holds reports whether target is o or inside it, looking through
// pop-ups, containers and scrolls (a dialog's button row is a container).
func holds(o, target fyne.CanvasObject) bool {
	if o == nil {
		return false
	}
	if o == target {
		return true
	}
	switch x := o.(type) {
	case *widget.PopUp:
		return holds(x.Content, target)
	case *container.Scroll:
		return holds(x.Content, target)
	case *fyne.Container:
		for _, c := range x.Objects {
			if holds(c, target) {
				return true
			}
		}
	}
	return false
}
