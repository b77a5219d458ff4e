package gui

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// savePathAsk is the open "save to a typed path" question and, once the
// file turned out to exist, the question whether to replace it.
type savePathAsk struct {
	entry   *escEntry
	problem *widget.Label
	dialog  *dialog.FormDialog
	replace *dialog.ConfirmDialog
}

// shiftShortcut is Ctrl+Shift (Cmd+Shift on macOS) with a key.
func shiftShortcut(k fyne.KeyName) *desktop.CustomShortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}
}

// expandHome turns a leading ~/ into the home folder.
func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}

// savePathDialog asks for the full path to save the config to, as text:
// Fyne's save dialog has no place to type a folder. text is the path
// shown (the config's own path when empty) and problem, when set, says
// what was wrong with the last one typed.
func (c *configureView) savePathDialog(text, problem string) {
	if c.doc == nil {
		return
	}
	a := &savePathAsk{entry: newEscEntry(c.g.dismiss), problem: errLabel()}
	a.entry.SetPlaceHolder("/home/pi/configs/my-config.yaml")
	if text == "" {
		text = c.path
	}
	a.entry.SetText(text)
	if problem != "" {
		a.problem.SetText(problem)
		a.problem.Show()
	}
	items := []*widget.FormItem{widget.NewFormItem("Path", a.entry), widget.NewFormItem("", a.problem)}
	a.dialog = dialog.NewForm("Save the config to a path", "Save", "Cancel", items, func(ok bool) {
		typed := strings.TrimSpace(a.entry.Text)
		if ok && typed != "" {
			c.checkSavePath(typed)
		}
	}, c.g.win)
	a.dialog.Resize(fyne.NewSize(560, a.dialog.MinSize().Height))
	c.g.showDismissable(a.dialog)
	c.g.win.Canvas().Focus(a.entry)
	c.savePath = a
}

// checkSavePath looks at the typed path off the UI goroutine, then saves
// to it, asks before replacing an existing file, or asks again for a path
// with what was wrong.
func (c *configureView) checkSavePath(typed string) {
	p := expandHome(typed)
	goUI(c.g.br, func() saveTarget {
		exists, err := statSaveTarget(p)
		return saveTarget{exists: exists, err: err}
	}, func(r saveTarget) {
		switch {
		case r.err != nil:
			c.savePathDialog(typed, sentence(r.err.Error()))
		case r.exists:
			c.confirmReplace(p)
		default:
			c.saveTo(p, nil)
		}
	})
}

// saveTarget is what statSaveTarget found.
type saveTarget struct {
	exists bool
	err    error
}

// statSaveTarget checks that p is a full path in an existing folder and
// reports whether a file is there already.
func statSaveTarget(p string) (bool, error) {
	if !filepath.IsAbs(p) {
		return false, fmt.Errorf("%q is not a full path: start it with / (or ~/ for your home folder)", p)
	}
	dir := filepath.Dir(p)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("the folder %s does not exist: create it first, or type another path", dir)
	case err != nil:
		return false, fmt.Errorf("checking the folder %s: %w", dir, err)
	case !st.IsDir():
		return false, fmt.Errorf("%s is not a folder", dir)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("checking %s: %w", p, err)
	case fi.IsDir():
		return false, fmt.Errorf("%s is a folder: add the file name, for example %s", p, filepath.Join(p, "config.yaml"))
	}
	return true, nil
}

// confirmReplace asks before the config replaces the existing file p.
func (c *configureView) confirmReplace(p string) {
	d := dialog.NewConfirm("Replace "+filepath.Base(p)+"?",
		p+" already exists. Replace it with this config?", func(ok bool) {
			if ok {
				c.saveTo(p, nil)
			}
		}, c.g.win)
	d.SetConfirmText("Replace")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.WarningImportance)
	c.g.showDismissable(d)
	if c.savePath != nil {
		c.savePath.replace = d
	}
}

// sentence starts s with a capital letter and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
