package gui

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/builder/runner"
)

// Bounds of the log view size setting.
const (
	minLogLines = 1000
	maxLogLines = 1000000
)

// settingsView is the Settings section.
type settingsView struct {
	g       *App
	content fyne.CanvasObject

	tool     *formEntry
	version  *widget.Label
	checks   *fyne.Container
	work     *formEntry
	verify   *formCheck
	logLines *formEntry

	detectGen int // bumped by every detect; older results are dropped
	typeGen   int // bumped by every keystroke in the tool entry
}

// toolApplyDelay is how long typing in the tool entry pauses before the
// typed folder is applied.
const toolApplyDelay = 700 * time.Millisecond

func newSettingsView(g *App) *settingsView {
	s := &settingsView{g: g}
	s.tool = newFormEntry()
	s.tool.SetPlaceHolder("detected automatically")
	s.tool.SetText(g.set.ToolDir)
	s.tool.OnSubmitted = func(v string) { s.setTool(v) }
	s.tool.OnChanged = func(v string) {
		s.typeGen++
		gen := s.typeGen
		time.AfterFunc(toolApplyDelay, func() {
			g.br.ui(func() {
				if gen == s.typeGen && v != s.g.set.ToolDir {
					s.setTool(v)
				}
			})
		})
	}
	s.version = wrapLabel("")
	s.checks = container.NewVBox()
	s.work = newFormEntry()
	s.work.SetPlaceHolder("default: a folder per config in " + defaultWorkRoot())
	s.work.SetText(g.set.WorkDir)
	s.work.OnChanged = func(v string) {
		g.set.WorkDir = v
		g.storeSettings()
	}
	s.verify = newFormCheck("Read every disk back after writing", func(on bool) {
		if g.set.Verify == on {
			return
		}
		g.set.Verify = on
		g.flash.verify.SetChecked(on)
		g.storeSettings()
	})
	s.verify.SetChecked(g.set.Verify)
	s.logLines = newFormEntry()
	s.logLines.SetText(strconv.Itoa(g.set.LogLines))
	s.logLines.Validator = validLogLines
	s.logLines.OnChanged = func(v string) {
		if validLogLines(v) != nil {
			return
		}
		n, _ := strconv.Atoi(v)
		g.set.LogLines = n
		g.storeSettings()
		if !g.build.Running() {
			g.build.log.SetMax(n)
		}
	}

	browseTool := newFormButton("", theme.FolderOpenIcon(), func() {
		s.folder(func(p string) { s.tool.SetText(p); s.setTool(p) })
	})
	apply := newFormButton("Apply", nil, func() { s.setTool(s.tool.Text) })
	detect := newFormButton("Detect", nil, func() { s.tool.SetText(""); s.setTool("") })
	browseWork := newFormButton("", theme.FolderOpenIcon(), func() {
		s.folder(func(p string) { s.work.SetText(p) })
	})
	form := container.New(layout.NewFormLayout(),
		widget.NewLabel("rpi-image-gen"), container.NewVBox(
			container.NewBorder(nil, nil, nil, container.NewHBox(browseTool, apply, detect), s.tool),
			s.version, s.checks),
		widget.NewLabel("Work dir"), container.NewVBox(
			container.NewBorder(nil, nil, nil, browseWork, s.work),
			hintLabel("Builds write their filesystem, images and logs here.")),
		widget.NewLabel("Flashing"), s.verify,
		widget.NewLabel("Log lines kept"), container.NewVBox(s.logLines,
			hintLabel("Lines kept in the Build view; the full log is always on disk.")),
	)
	s.content = container.NewVScroll(container.NewVBox(widget.NewCard("Settings", "", form), g.doctor.card))
	return s
}

var errLogLines = errors.New("enter a number from 1000 to 1000000")

func validLogLines(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < minLogLines || n > maxLogLines {
		return errLogLines
	}
	return nil
}

func (s *settingsView) folder(then func(string)) {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			s.g.showError(err)
			return
		}
		if u != nil {
			then(u.Path())
		}
	}, s.g.win)
	d.SetView(dialog.ListView) // whole names, not cut to a grid cell
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// setTool stores a tool location ("" = detect) and re-checks it.
func (s *settingsView) setTool(dir string) {
	s.g.set.ToolDir = dir
	s.g.storeSettings()
	s.detect()
	s.g.cfg.loadCatalog()
}

type toolResult struct {
	dir, version string
	err          error
	checks       []runner.Check
}

// detect finds the tool, reads its version and runs the preflight checks
// off the UI goroutine.
func (s *settingsView) detect() {
	want, work := s.g.set.ToolDir, s.g.set.WorkDir
	s.detectGen++
	gen := s.detectGen
	s.version.SetText("Looking for rpi-image-gen…")
	ctx := s.g.ctx
	goUI(s.g.br, func() toolResult {
		var r toolResult
		r.dir, r.err = s.g.be.Tool.Find(want)
		if r.err != nil {
			return r
		}
		r.version, _ = s.g.be.Tool.Version(r.dir)
		r.checks = s.g.be.Tool.Preflight(ctx, r.dir, work)
		return r
	}, func(r toolResult) {
		if gen != s.detectGen {
			return
		}
		s.g.toolFound(r.err)
		s.checks.RemoveAll()
		if r.err != nil {
			msg := "Not found: " + r.err.Error()
			if isToolMissing(r.err) {
				msg = "rpi-image-gen was not found. Choose its folder (the checkout that holds the rpi-image-gen script), or install it and press Detect."
			}
			s.version.SetText(msg)
			s.version.Importance = widget.DangerImportance
			s.version.Refresh()
			return
		}
		s.version.Importance = widget.MediumImportance
		v := r.version
		if v == "" {
			v = "unknown version"
		}
		s.version.SetText(r.dir + " · " + v)
		if want == "" {
			s.tool.SetPlaceHolder(r.dir + " (detected)")
		}
		for _, c := range r.checks {
			ok := c.OK && !c.Warning
			icon := theme.ConfirmIcon()
			if !ok {
				icon = theme.ErrorIcon()
			}
			l := wrapLabel(checkText(c))
			if !ok {
				l.Importance = widget.DangerImportance
			}
			s.checks.Add(container.NewBorder(nil, nil, widget.NewIcon(icon), nil, l))
		}
		s.checks.Refresh()
	})
}

// checkText is one preflight check as the Settings section lists it:
// "name: what was found — what to do".
func checkText(c runner.Check) string {
	text := c.Name
	if c.Msg != "" {
		text += ": " + c.Msg
	}
	if c.Fix != "" {
		text += " — " + c.Fix
	}
	return text
}

// defaultWorkRoot is where builds go when no work folder is chosen.
func defaultWorkRoot() string {
	if cache, err := os.UserCacheDir(); err == nil {
		return filepath.Join(cache, "pistudio", "work")
	}
	return "work/ next to the config"
}
