package gui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/builder/doctor"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash/helper"
)

// doctorView is "This computer" in Settings: the doctor's checks with
// their fixes, the cache settings, and the offer to get rpi-image-gen when
// no tree is found. It also holds the check that runs before a build.
type doctorView struct {
	g    *App
	card *widget.Card

	checkBtn   *formButton
	status     *widget.Label
	list       *fyne.Container
	installBtn *formButton
	report     doctor.Report
	checking   bool
	gen        int

	getBox   *fyne.Container
	getBtn   *formButton
	getBar   *widget.ProgressBar
	getPhase *widget.Label
	getting  bool

	cacheOn  *formCheck
	cacheDir *formEntry
	offline  *formSelect
	reuse    *formCheck

	// gating is set while the check before a build runs.
	gating bool
	// gateDlg, installDlg and sudoDlg are the dialogs on screen (nil when
	// none), kept for the keyboard and tests.
	gateDlg    *gateDialog
	installDlg *installDialog
	sudoDlg    *sudoDialog
}

// Offline choices, as the Settings section words them.
var offlineChoices = []struct{ mode, label string }{
	{runner.OfflineAuto, "Offline when the cache holds every host tool"},
	{runner.OfflineOn, "Always offline (IG_OFFLINE=y)"},
	{runner.OfflineOff, "Never offline: download what is missing"},
}

func newDoctorView(g *App) *doctorView {
	d := &doctorView{g: g}
	d.checkBtn = newFormButton("Check this computer", theme.SearchIcon(), d.checkNow)
	d.status = wrapLabel("Checks the packages, binfmt, privileges, free space, cache and network a build needs.")
	d.list = container.NewVBox()
	d.installBtn = newFormButton("Install packages…", theme.DownloadIcon(), func() {
		d.askInstall(d.report.MissingPackages(), d.checkNow)
	})
	d.installBtn.Hide()
	d.newGetTool()
	d.newCache()
	top := container.NewHBox(d.checkBtn, d.installBtn)
	d.card = widget.NewCard("This computer", "", container.NewVBox(d.getBox, top, d.status, d.list,
		widget.NewSeparator(), d.cacheForm()))
	d.g.applyCache()
	return d
}

// newGetTool makes the offer to clone rpi-image-gen, hidden until the
// tool is missing.
func (d *doctorView) newGetTool() {
	d.getBtn = newFormButton("Get rpi-image-gen "+doctor.UpstreamRelease, theme.DownloadIcon(), d.askGetTool)
	d.getBtn.Importance = widget.HighImportance
	d.getBar = widget.NewProgressBar()
	d.getBar.Hide()
	d.getPhase = wrapLabel("")
	d.getPhase.Hide()
	l := wrapLabel("No rpi-image-gen tree was found. Pi Image Studio can get it: a clone of " + doctor.UpstreamURL +
		" at " + doctor.UpstreamRelease + " (the release it is tested with) into " + doctor.DefaultToolDirHint + ".")
	l.Importance = widget.WarningImportance
	d.getBox = container.NewVBox(l, container.NewHBox(d.getBtn), d.getBar, d.getPhase)
	d.getBox.Hide()
}

// newCache makes the cache settings' widgets.
func (d *doctorView) newCache() {
	cs := d.g.set.Cache
	d.cacheOn = newFormCheck("Keep downloads in a cache shared by every work folder", func(on bool) {
		d.g.set.Cache.On = on
		d.cacheChanged()
	})
	d.cacheOn.SetChecked(cs.On)
	d.cacheDir = newFormEntry()
	if def, err := runner.DefaultCacheDir(); err == nil {
		d.cacheDir.SetPlaceHolder(def + " (default)")
	}
	d.cacheDir.SetText(cs.Dir)
	d.cacheDir.OnChanged = func(v string) {
		d.g.set.Cache.Dir = strings.TrimSpace(v)
		d.cacheChanged()
	}
	labels := make([]string, len(offlineChoices))
	sel := labels[0]
	for i, c := range offlineChoices {
		labels[i] = c.label
		if c.mode == cs.Offline {
			sel = c.label
		}
	}
	if sel == "" {
		sel = labels[0]
	}
	d.offline = newFormSelect(labels, func(v string) {
		for _, c := range offlineChoices {
			if c.label == v {
				d.g.set.Cache.Offline = c.mode
			}
		}
		d.cacheChanged()
	})
	d.offline.SetSelected(sel)
	d.reuse = newFormCheck("Reuse the root filesystem when nothing it is built from changed", func(on bool) {
		d.g.set.Cache.Reuse = on
		d.cacheChanged()
	})
	d.reuse.SetChecked(cs.Reuse)
	d.enableCache()
}

func (d *doctorView) cacheForm() fyne.CanvasObject {
	return container.NewVBox(
		widget.NewLabelWithStyle("Cache and offline builds", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		d.cacheOn,
		container.New(layout.NewFormLayout(),
			widget.NewLabel("Cache folder"), d.cacheDir,
			widget.NewLabel("Offline mode"), d.offline),
		d.reuse,
		hintLabel("The cache holds the host tools rpi-image-gen downloads (bdebstrap, genimage…) and the APT packages. "+
			"Check this computer to see what it holds. "+
			"A build whose config, layers, rpi-image-gen tree and package archive are unchanged since the last filesystem build "+
			"in its work folder reuses that filesystem and only makes the image; turn reusing off to build it again."))
}

// cacheChanged stores the cache settings and hands them to the runner.
func (d *doctorView) cacheChanged() {
	d.enableCache()
	d.g.storeSettings()
	d.g.applyCache()
}

func (d *doctorView) enableCache() {
	if d.cacheDir == nil || d.offline == nil || d.reuse == nil {
		return
	}
	if d.g.set.Cache.On {
		d.cacheDir.Enable()
		d.offline.Enable()
		d.reuse.Enable()
	} else {
		d.cacheDir.Disable()
		d.offline.Disable()
		d.reuse.Disable()
	}
}

// request is what the doctor checks for a build of the open config.
func (d *doctorView) request(stage runner.Stage) DoctorRequest {
	req := DoctorRequest{Stage: stage, ToolDir: d.g.set.ToolDir, WorkDir: d.g.set.WorkDir, Cache: d.g.set.Cache.Runner()}
	if c := d.g.cfg; c != nil && c.path != "" {
		req.Config = c.path
		req.WorkDir = d.g.workDir()
	}
	return req
}

// run checks this computer off the UI goroutine, listing each check as
// it completes, then calls done with the report; UI goroutine.
func (d *doctorView) run(ctx context.Context, req DoctorRequest, done func(doctor.Report)) {
	d.gen++
	gen := d.gen
	d.checking = true
	d.checkBtn.Disable()
	d.installBtn.Hide()
	d.list.RemoveAll()
	d.status.SetText("Checking this computer…")
	d.status.Importance = widget.MediumImportance
	d.status.Refresh()
	progress := func(c doctor.Check) {
		d.g.br.ui(func() {
			if gen == d.gen {
				d.list.Add(checkRow(c))
			}
		})
	}
	goUI(d.g.br, func() doctor.Report {
		return d.g.be.Doctor.Check(ctx, req, progress)
	}, func(rep doctor.Report) {
		if gen != d.gen {
			return
		}
		d.checking = false
		d.checkBtn.Enable()
		d.showReport(rep)
		if done != nil {
			done(rep)
		}
	})
}

// checkNow runs the checks for the open config.
func (d *doctorView) checkNow() {
	if d.gating {
		return // the check before a build is running and will show its report
	}
	d.run(d.g.ctx, d.request(runner.StageFull), nil)
}

// showReport lists every check and sums them up.
func (d *doctorView) showReport(rep doctor.Report) {
	d.report = rep
	d.list.RemoveAll()
	for _, c := range rep.Checks {
		d.list.Add(checkRow(c))
	}
	d.list.Refresh()
	switch {
	case rep.Failed():
		d.status.SetText(fmt.Sprintf("%s failed: a build will fail until %s fixed.", plural(len(rep.Failures()), "check"), itOrThey(len(rep.Failures()))))
		d.status.Importance = widget.DangerImportance
	case rep.Warned():
		d.status.SetText("This computer can build; some checks found something to look at.")
		d.status.Importance = widget.WarningImportance
	default:
		d.status.SetText("This computer can build.")
		d.status.Importance = widget.SuccessImportance
	}
	d.status.Refresh()
	d.installBtn.Hidden = len(rep.MissingPackages()) == 0
	d.installBtn.Refresh()
}

func itOrThey(n int) string {
	if n == 1 {
		return "it is"
	}
	return "they are"
}

// statusIcon is the icon of a check status. It is looked up when a row is
// made, not at start-up: the theme's icons need the running app (and follow
// its theme).
func statusIcon(s doctor.Status) fyne.Resource {
	switch s {
	case doctor.OK:
		return theme.ConfirmIcon()
	case doctor.Warn:
		return theme.WarningIcon()
	case doctor.Fail:
		return theme.ErrorIcon()
	}
	return theme.QuestionIcon()
}

// checkRow shows one check: what was found, and for a warning or
// failure what to do (with the command to copy, when there is one).
func checkRow(c doctor.Check) fyne.CanvasObject {
	name := widget.NewLabelWithStyle(c.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	detail := wrapLabel(c.Detail)
	box := container.NewVBox(name, detail)
	if c.Status != doctor.OK && c.Fix != "" {
		fix := wrapLabel("What to do: " + c.Fix)
		fix.Importance = statusImportance(c.Status)
		box.Add(fix)
	}
	if c.Command != "" {
		box.Add(copyEntry(c.Command))
	}
	return container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(statusIcon(c.Status))), nil, box)
}

func statusImportance(s doctor.Status) widget.Importance {
	if s == doctor.Fail {
		return widget.DangerImportance
	}
	return widget.WarningImportance
}

// copyEntry shows a command the user can select and copy; typing in it
// changes nothing.
func copyEntry(cmd string) *formEntry {
	e := newFormEntry()
	e.SetText(cmd)
	e.TextStyle.Monospace = true
	e.OnChanged = func(s string) {
		if s != cmd {
			e.SetText(cmd)
		}
	}
	return e
}

// gateDialog says why a build will fail before it starts.
type gateDialog struct {
	d                     *dialog.CustomDialog
	install, start, close *widget.Button
	failures              []doctor.Check
}

// gate runs the doctor for a build of stage and calls launch when no
// check fails; otherwise the user sees why first and may start anyway.
// The check counts as the start of the build: Cancel stops it.
func (d *doctorView) gate(stage runner.Stage, launch func()) {
	b := d.g.build
	if d.g.be.Doctor == nil {
		launch()
		return
	}
	if d.gating || b.Busy() {
		return
	}
	ctx, cancel := context.WithCancel(d.g.ctx)
	d.gating = true
	b.starting, b.cancel = true, cancel
	b.setRunning(true)
	b.status.SetText("Starting " + stageWord(stage) + " build: checking this computer…")
	d.run(ctx, d.request(stage), func(rep doctor.Report) {
		d.gating = false
		b.starting, b.cancel = false, nil
		cancelled := ctx.Err() != nil
		cancel()
		if !cancelled && !rep.Failed() {
			launch()
			return
		}
		b.setRunning(false)
		if cancelled {
			b.status.SetText("Build cancelled")
			d.g.workStopped()
			return
		}
		b.status.SetText("Not started: this computer cannot build yet")
		d.g.workStopped()
		d.showGate(rep, stage, launch)
	})
}

// showGate lists the failed checks with their fixes: Install packages
// (when packages are missing), Start anyway, Cancel.
func (d *doctorView) showGate(rep doctor.Report, stage runner.Stage, launch func()) {
	gd := &gateDialog{failures: rep.Failures()}
	box := container.NewVBox(wrapLabel("The build would fail on this computer:"))
	for _, c := range gd.failures {
		box.Add(checkRow(c))
	}
	scroll := container.NewVScroll(box)
	scroll.SetMinSize(fyne.NewSize(600, 340))
	hide := func() { gd.d.Hide(); d.gateDlg = nil }
	gd.close = widget.NewButton("Cancel", hide)
	gd.start = widget.NewButtonWithIcon("Start anyway", theme.MediaPlayIcon(), func() { hide(); launch() })
	gd.start.Importance = widget.WarningImportance
	buttons := []fyne.CanvasObject{gd.close, gd.start}
	if pkgs := rep.MissingPackages(); len(pkgs) > 0 {
		gd.install = widget.NewButtonWithIcon("Install packages…", theme.DownloadIcon(), func() {
			hide()
			d.askInstall(pkgs, func() { d.gate(stage, launch) })
		})
		gd.install.Importance = widget.HighImportance
		buttons = append(buttons, gd.install)
	}
	gd.d = dialog.NewCustomWithoutButtons("This build will fail", scroll, d.g.win)
	gd.d.SetButtons(buttons)
	gd.d.Show()
	d.gateDlg = gd
}

// installDialog shows the exact packages before installing them.
type installDialog struct {
	d        *dialog.CustomDialog
	pkgs     []string
	list     *widget.Label
	command  *formEntry
	out      *widget.Label
	bar      *widget.ProgressBarInfinite
	install  *widget.Button
	cancel   *widget.Button
	running  bool
	finished bool
}

// askInstall shows pkgs and the apt-get command, and installs them through
// the privileged helper on request; after runs once they are installed.
func (d *doctorView) askInstall(pkgs []string, after func()) {
	if len(pkgs) == 0 {
		return
	}
	id := &installDialog{pkgs: pkgs}
	id.list = wrapLabel(strings.Join(pkgs, "\n"))
	id.list.TextStyle.Monospace = true
	id.command = copyEntry(doctor.InstallCommand(pkgs))
	id.out = wrapLabel("")
	id.out.Hide()
	id.bar = widget.NewProgressBarInfinite()
	id.bar.Stop()
	id.bar.Hide()
	id.cancel = widget.NewButton("Cancel", func() { id.d.Hide(); d.installDlg = nil })
	id.install = widget.NewButtonWithIcon("Install", theme.DownloadIcon(), func() { d.install(id, after) })
	id.install.Importance = widget.HighImportance
	content := container.NewVBox(
		wrapLabel(fmt.Sprintf("apt-get installs these %s, after asking for the administrator password:", plural(len(pkgs), "package"))),
		id.list,
		wrapLabel("The same in a terminal:"), id.command, id.bar, id.out)
	id.d = dialog.NewCustomWithoutButtons("Install Debian packages?", content, d.g.win)
	id.d.SetButtons([]fyne.CanvasObject{id.cancel, id.install})
	id.d.Resize(fyne.NewSize(560, id.d.MinSize().Height))
	id.d.Show()
	d.installDlg = id
}

// lockedBuffer collects apt-get's output from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// tail is the last n lines written.
func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimRight(l.b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// install runs the installation of id's packages.
func (d *doctorView) install(id *installDialog, after func()) {
	if id.running {
		return
	}
	id.running = true
	id.install.Disable()
	id.cancel.Disable()
	id.bar.Show()
	id.bar.Start()
	id.out.SetText("Installing…")
	id.out.Show()
	out := &lockedBuffer{}
	ctx := d.g.ctx
	goUI(d.g.br, func() error {
		return d.g.be.Doctor.Install(ctx, id.pkgs, out)
	}, func(err error) {
		id.running = false
		id.bar.Stop()
		id.bar.Hide()
		id.cancel.Enable()
		d.installed(id, err, out.tail(6), after)
	})
}

// installed shows how an installation ended.
func (d *doctorView) installed(id *installDialog, err error, tail string, after func()) {
	var sudo *doctor.NeedsSudoError
	switch {
	case err == nil:
		id.finished = true
		id.d.Hide()
		d.installDlg = nil
		if after != nil {
			after()
		}
	case errors.As(err, &sudo):
		id.d.Hide()
		d.installDlg = nil
		d.showSudo(sudo.Command)
	case errors.Is(err, doctor.ErrNotAuthorized):
		id.install.Enable()
		id.out.SetText("Nothing was installed: the administrator password was not given.")
	default:
		id.install.Enable()
		id.out.SetText("Installing failed: " + err.Error() + "\n" + tail)
	}
}

// sudoDialog tells that no polkit agent runs and gives the command to
// type instead.
type sudoDialog struct {
	d       *dialog.CustomDialog
	command *formEntry
}

// showSudo says that no polkit authentication agent is running and shows
// the exact sudo command to run instead, ready to copy.
func (d *doctorView) showSudo(cmd string) {
	sd := &sudoDialog{command: copyEntry(cmd)}
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		d.g.app.Clipboard().SetContent(cmd)
	})
	content := container.NewVBox(
		wrapLabel("No polkit authentication agent is running in this session, so Pi Image Studio cannot ask for the administrator password. Run this in a terminal instead:"),
		container.NewBorder(nil, nil, nil, copyBtn, sd.command))
	sd.d = dialog.NewCustomWithoutButtons("Administrator password needed", content, d.g.win)
	sd.d.SetButtons([]fyne.CanvasObject{widget.NewButton("Close", func() { sd.d.Hide(); d.sudoDlg = nil })})
	sd.d.Resize(fyne.NewSize(560, sd.d.MinSize().Height))
	sd.d.Show()
	d.sudoDlg = sd
}

// sudoError shows the sudo command of an error from the privileged helper
// or the installer, and reports whether it did.
func (g *App) sudoError(err error) bool {
	if g.doctor == nil {
		return false
	}
	if cmd, ok := helper.SudoCommand(err); ok {
		g.doctor.showSudo(cmd)
		return true
	}
	var sudo *doctor.NeedsSudoError
	if errors.As(err, &sudo) {
		g.doctor.showSudo(sudo.Command)
		return true
	}
	return false
}

// toolMissing shows or hides the offer to get rpi-image-gen.
func (d *doctorView) toolMissing(missing bool) {
	if d.getting {
		return
	}
	d.getBox.Hidden = !missing
	d.getBox.Refresh()
}

// askGetTool confirms where the tree goes, then clones it.
func (d *doctorView) askGetTool() {
	dir, err := d.g.be.Doctor.DefaultToolDir()
	if err != nil {
		d.g.showError(err)
		return
	}
	dialog.ShowConfirm("Get rpi-image-gen?", fmt.Sprintf("Clone %s at %s into %s?", doctor.UpstreamURL, doctor.UpstreamRelease, dir),
		func(ok bool) {
			if ok {
				d.getTool(dir)
			}
		}, d.g.win)
}

// getTool clones the tree into dir with progress, then uses it and runs
// the checks.
func (d *doctorView) getTool(dir string) {
	if d.getting {
		return
	}
	d.getting = true
	d.getBtn.Disable()
	d.getBar.SetValue(0)
	d.getBar.Show()
	d.getPhase.SetText("Starting git…")
	d.getPhase.Show()
	th := newThrottle(d.g.br, 50*time.Millisecond, d.showClone)
	ctx := d.g.ctx
	goUI(d.g.br, func() error {
		return d.g.be.Doctor.GetTool(ctx, dir, th.Set)
	}, func(err error) { d.gotTool(dir, err) })
}

// showClone shows one step of the clone.
func (d *doctorView) showClone(p doctor.CloneProgress) {
	if !d.getting {
		return
	}
	d.getBar.SetValue(float64(p.Percent) / 100)
	d.getPhase.SetText(fmt.Sprintf("%s: %d%%", p.Phase, p.Percent))
}

// gotTool ends a clone: the new tree is used and checked.
func (d *doctorView) gotTool(dir string, err error) {
	d.getting = false
	d.getBtn.Enable()
	if err != nil {
		d.getBar.Hide()
		msg := "Getting rpi-image-gen failed: " + err.Error()
		if errors.Is(err, doctor.ErrToolDirExists) {
			msg = dir + " exists and is not empty, so nothing was cloned. If it holds rpi-image-gen, choose it above."
		}
		d.getPhase.SetText(msg)
		d.getPhase.Importance = widget.DangerImportance
		d.getPhase.Refresh()
		return
	}
	d.getBar.SetValue(1)
	d.getPhase.SetText("rpi-image-gen " + doctor.UpstreamRelease + " is in " + dir + ".")
	d.getPhase.Importance = widget.SuccessImportance
	d.getPhase.Refresh()
	d.getBox.Hide()
	if s := d.g.settings; s != nil {
		s.tool.SetText(dir)
		s.setTool(dir)
	}
	d.checkNow()
}

// scrollTo scrolls the Settings section so that o's top is in view.
func (s *settingsView) scrollTo(o fyne.CanvasObject) {
	sc, ok := s.content.(*container.Scroll)
	if !ok {
		return
	}
	sc.Offset = fyne.NewPos(0, o.Position().Y)
	sc.Refresh()
}
