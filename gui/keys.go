package gui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// escEntry is an entry that hands Escape to its dialog (a plain entry
// keeps it), so Escape closes a dialog even while typing in it.
type escEntry struct {
	formEntry
	onEscape func()
}

func newEscEntry(onEscape func()) *escEntry {
	e := &escEntry{onEscape: onEscape}
	e.extend(e)
	return e
}

// TypedKey closes the dialog on Escape and edits otherwise.
func (e *escEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(ev)
}

// shortcut is Ctrl (Cmd on macOS) with a key.
func shortcut(k fyne.KeyName) *desktop.CustomShortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
}

// addShortcuts binds Ctrl+N/O/S (new, open, save the config), Ctrl+L
// (open a config by typing its path), Ctrl+Shift+S (save it to a typed
// path), Ctrl+Q (quit, asking as closing the window does) and Escape
// (close the dialog on top, see dismiss).
func (g *App) addShortcuts() {
	c := g.win.Canvas()
	c.AddShortcut(shortcut(fyne.KeyN), func(fyne.Shortcut) {
		g.cfg.confirmDiscard("start a new config", g.cfg.newConfig)
	})
	c.AddShortcut(shortcut(fyne.KeyO), func(fyne.Shortcut) { g.cfg.openDialog() })
	c.AddShortcut(shortcut(fyne.KeyS), func(fyne.Shortcut) { g.cfg.save(nil) })
	c.AddShortcut(shortcut(fyne.KeyQ), func(fyne.Shortcut) { g.onClose() })
	c.AddShortcut(shortcut(fyne.KeyL), func(fyne.Shortcut) { g.cfg.openPathDialog() })
	c.AddShortcut(shiftShortcut(fyne.KeyS), func(fyne.Shortcut) { g.cfg.savePathDialog("", "") })
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyEscape {
			g.dismiss()
		}
	})
}

// imageExts are the endings of the image files Flash writes.
var imageExts = []string{".img", ".raw", ".iso", ".xz", ".gz", ".zst", ".zip", ".sparse", ".simg", ".bmap"}

// isImageFile reports whether name ends like an image Flash can write.
func isImageFile(name string) bool {
	n := strings.ToLower(name)
	for _, e := range imageExts {
		if strings.HasSuffix(n, e) {
			return true
		}
	}
	return false
}

// dropped opens what was dropped on the window: an image goes to Flash,
// a YAML file is opened as the config.
func (g *App) dropped(_ fyne.Position, uris []fyne.URI) {
	for _, u := range uris {
		p := u.Path()
		switch {
		case isImageFile(p):
			g.flash.selectImage(p)
			g.Show(SectionFlash)
			return
		case strings.HasSuffix(strings.ToLower(p), ".yaml") || strings.HasSuffix(strings.ToLower(p), ".yml"):
			g.cfg.confirmDiscard("open another config", func() { g.cfg.open(p) })
			g.Show(SectionConfigure)
			return
		}
	}
}

// openPathDialog asks for a config's path as text (the file dialog has
// no place to type one) and opens it.
func (c *configureView) openPathDialog() {
	e := newEscEntry(c.g.dismiss)
	e.SetPlaceHolder("/home/pi/configs/my-config.yaml")
	if c.path != "" {
		e.SetText(c.path)
	}
	d := dialog.NewForm("Open a config by its path", "Open", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Path", e)}, func(ok bool) {
			p := strings.TrimSpace(e.Text)
			if !ok || p == "" {
				return
			}
			p = expandHome(p)
			c.confirmDiscard("open another config", func() { c.open(p) })
		}, c.g.win)
	d.Resize(fyne.NewSize(560, d.MinSize().Height))
	c.g.showDismissable(d)
	c.g.win.Canvas().Focus(e)
	c.pathEntry = e
}
