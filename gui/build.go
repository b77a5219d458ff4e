package gui

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/gui/logview"
	"github.com/pistudio/pistudio/internal/units"
)

// stageRow is one line of the stage list.
type stageRow struct {
	name    string
	icon    *widget.Icon
	state   *widget.Label
	dur     *widget.Label
	started time.Time
	done    bool
}

// buildView is the Build section.
type buildView struct {
	g       *App
	content fyne.CanvasObject

	fsBtn, imgBtn, fullBtn, cancelBtn *widget.Button
	cfgLbl, status                    *widget.Label
	stageBox                          *fyne.Container
	stages                            []*stageRow
	explain, causeLine, details       *widget.Label
	detailsBtn                        *widget.Button
	detailsBox                        *container.Scroll
	explainCard                       *widget.Card
	log                               *logview.View
	artifacts                         *fyne.Container
	artCard                           *widget.Card
	shownFor                          string // the config the stages, status and artifacts belong to
	history                           *fyne.Container
	histCard                          *widget.Card

	run      BuildRun
	cancel   context.CancelFunc
	starting bool // Runner.Start is under way
	logPath  string
}

func newBuildView(g *App) *buildView {
	b := &buildView{g: g}
	b.fsBtn = widget.NewButtonWithIcon("Filesystem", theme.FolderIcon(), func() { b.start(runner.StageFilesystem) })
	b.imgBtn = widget.NewButtonWithIcon("Image", theme.FileImageIcon(), func() { b.start(runner.StageImage) })
	b.fullBtn = widget.NewButtonWithIcon("Full build", theme.MediaPlayIcon(), func() { b.start(runner.StageFull) })
	b.fullBtn.Importance = widget.HighImportance
	b.cancelBtn = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), b.Cancel)
	b.cancelBtn.Disable()
	b.cfgLbl = widget.NewLabel("")
	b.cfgLbl.Truncation = fyne.TextTruncateEllipsis
	b.status = wrapLabel("Ready")
	b.stageBox = container.NewVBox()
	b.explain = wrapLabel("")
	b.causeLine = wrapLabel("")
	b.causeLine.TextStyle.Bold = true
	b.causeLine.Hide()
	b.details = wrapLabel("")
	b.details.Selectable = true
	b.detailsBox = container.NewVScroll(b.details)
	b.detailsBox.SetMinSize(fyne.NewSize(0, detailsHeight))
	b.detailsBox.Hide()
	b.detailsBtn = widget.NewButton("Show details", b.toggleDetails)
	b.detailsBtn.Importance = widget.LowImportance
	b.detailsBtn.Hide()
	b.explainCard = widget.NewCard("", "", container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil,
		container.NewVBox(b.causeLine, b.explain, container.NewHBox(b.detailsBtn), b.detailsBox)))
	b.explainCard.Hide()
	b.log = logview.New(g.set.LogLines, g.br.do)
	b.log.OnOpenFile = func() {
		if b.logPath == "" {
			return
		}
		if err := g.app.OpenURL(&url.URL{Scheme: "file", Path: b.logPath}); err != nil {
			g.showError(err)
		}
	}
	b.artifacts = container.NewVBox()
	b.artCard = widget.NewCard("Artifacts", "", b.artifacts)
	b.artCard.Hide()

	bar := container.NewHBox(b.fsBtn, b.imgBtn, b.fullBtn, b.cancelBtn)
	modes := hintLabel("Full build: the root filesystem, then the disk image. Filesystem: only the root filesystem (the long part). Image: only the disk image, from the last filesystem (after a change to partitions or sizes).")
	top := container.NewVBox(container.NewBorder(nil, nil, bar, nil, b.cfgLbl), modes)
	b.history = container.NewVBox()
	b.histCard = widget.NewCard("Past builds", "", b.history)
	b.histCard.Hide()
	left := container.NewBorder(nil, container.NewVBox(b.histCard, b.status), nil, nil,
		widget.NewCard("Stages", "", container.NewVScroll(b.stageBox)))
	right := container.NewBorder(b.explainCard, b.artCard, nil, nil, b.log)
	split := container.NewHSplit(left, right)
	split.Offset = 0.3
	b.content = container.NewBorder(top, nil, nil, nil, split)
	b.setStages(stagesOf(runner.StageFull))
	return b
}

// configChanged updates the "which config" line.
func (b *buildView) configChanged() {
	c := b.g.cfg
	if c != nil && c.path != b.shownFor && !b.Busy() {
		b.shownFor = c.path
		b.reset()
	}
	switch {
	case c == nil || c.doc == nil:
		b.cfgLbl.SetText("No config open")
	case c.path == "":
		b.cfgLbl.SetText("Config: untitled (save it first)")
	default:
		s := "Config: " + c.path
		if c.dirty {
			s += " (unsaved changes)"
		}
		b.cfgLbl.SetText(s)
	}
}

func (b *buildView) setStages(names []string) {
	b.stageBox.RemoveAll()
	b.stages = nil
	for _, n := range names {
		b.addStage(n)
	}
}

func (b *buildView) addStage(name string) *stageRow {
	r := &stageRow{name: name, icon: widget.NewIcon(theme.RadioButtonIcon()), state: widget.NewLabel("waiting"), dur: widget.NewLabel("")}
	r.state.TextStyle.Italic = true // waiting; not the disabled colour, which is for controls
	r.dur.Alignment = fyne.TextAlignTrailing
	b.stages = append(b.stages, r)
	w := widget.NewLabel("00h00m00s").MinSize().Width
	dur := container.NewGridWrap(fyne.NewSize(w, r.dur.MinSize().Height), r.dur)
	b.stageBox.Add(container.NewBorder(nil, nil, r.icon, container.NewHBox(r.state, dur), widget.NewLabel(name)))
	return r
}

func (b *buildView) stage(name string) *stageRow {
	for _, r := range b.stages {
		if r.name == name {
			return r
		}
	}
	return b.addStage(name)
}

// Running reports whether a build is in progress.
func (b *buildView) Running() bool { return b.run != nil }

// Busy reports whether a build is starting or in progress.
func (b *buildView) Busy() bool { return b.run != nil || b.starting }

// start checks the config and starts a build.
func (b *buildView) start(mode runner.Stage) {
	c := b.g.cfg
	if b.Busy() {
		return
	}
	if c.doc == nil {
		b.g.showError(fmt.Errorf("open or create a config first"))
		return
	}
	if c.dirty || c.path == "" {
		dialog.ShowConfirm("Save the config?", "The build reads the config from its file. Save your changes and build?", func(ok bool) {
			if ok {
				c.save(func() { b.start(mode) })
			}
		}, b.g.win)
		return
	}
	if n := len(c.problems); n > 0 {
		dialog.ShowConfirm("The config has problems", fmt.Sprintf("The config has %s (see Configure). Build anyway?", plural(n, "problem")), func(ok bool) {
			if ok {
				b.g.doctor.gate(mode, func() { b.launch(mode) })
			}
		}, b.g.win)
		return
	}
	b.g.doctor.gate(mode, func() { b.launch(mode) })
}

type startResult struct {
	run BuildRun
	err error
}

func (b *buildView) launch(mode runner.Stage) {
	config := b.g.cfg.path
	b.shownFor = config
	opts := buildjob.Options{ToolDir: b.g.set.ToolDir, WorkDir: b.g.workDir()}
	ctx, cancel := context.WithCancel(b.g.ctx)
	b.cancel = cancel
	b.starting = true
	b.setRunning(true)
	b.status.SetText("Starting " + stageWord(mode) + " build…")
	b.setStages(stagesOf(mode))
	b.log.Clear()
	b.log.SetCanOpen(false)
	b.logPath = ""
	b.hideCause()
	b.artCard.Hide()
	stageRunner := b.g.be.Runner
	goUI(b.g.br, func() startResult {
		r, err := stageRunner.Start(ctx, config, mode, opts)
		return startResult{r, err}
	}, func(r startResult) {
		b.starting = false
		if r.err != nil {
			cancelled := ctx.Err() != nil
			cancel()
			b.cancel = nil
			b.setRunning(false)
			switch {
			case cancelled:
				b.status.SetText("Build cancelled")
				b.status.Importance = widget.WarningImportance
				b.status.Refresh()
			case errors.Is(r.err, runner.ErrToolNotFound):
				b.status.SetText(toolMissingText)
				b.g.showToolMissing()
			default:
				b.status.SetText("Could not start: " + r.err.Error())
				b.g.showError(r.err)
			}
			b.g.workStopped()
			return
		}
		b.run = r.run
		if ctx.Err() != nil {
			// Cancelled while starting: the run stops and reports it.
			r.run.Cancel()
		}
		b.logPath = r.run.LogPath()
		b.log.SetCanOpen(b.logPath != "")
		b.status.SetText("Building (" + stageWord(mode) + ")…")
		go b.pump(r.run)
	})
}

// pump moves a run's events into the view. Log lines go straight into the
// log view (which batches them); everything else crosses the bridge. The
// image set's manifest is read here, off the UI goroutine.
func (b *buildView) pump(run BuildRun) {
	lastExplain := ""
	for ev := range run.Events() {
		switch ev.Kind {
		case runner.EventLog:
			b.log.Append(ev.Text)
			if e := ev.Explain; e != "" && e != lastExplain {
				lastExplain = e
				b.g.br.ui(func() { b.showExplain(e) })
			}
		case runner.EventDropped:
			b.log.Append(fmt.Sprintf("… %d lines not shown here: open the log file to read them", ev.Dropped))
		case runner.EventFinished:
			b.finished(run, ev.Result)
			return
		default:
			b.g.br.ui(func() { b.handle(run, ev) })
		}
	}
	// The stream ended without a result: report what Wait says.
	var res *runner.Result
	if w, ok := run.(interface{ Wait() runner.Result }); ok {
		r := w.Wait()
		res = &r
	}
	b.finished(run, res)
}

// finished reads what the run made and shows its end; worker goroutine.
func (b *buildView) finished(run BuildRun, res *runner.Result) {
	if res == nil {
		res = &runner.Result{State: runner.Failed, Err: errors.New("the build ended without a result")}
	}
	out := readOutputs(res)
	c := causeOf(res)
	b.g.br.ui(func() {
		if run == b.run {
			b.finish(res, out, c)
		}
	})
}

// detailsHeight is the height of the failure details; longer text scrolls.
const detailsHeight = 90

// showExplain shows the explanation of a known failure line while the
// build runs.
func (b *buildView) showExplain(s string) {
	b.explain.SetText(s)
	b.explainCard.Show()
}

// showCause shows why a build failed: the first error line, what to do,
// and the details behind a toggle.
func (b *buildView) showCause(c cause) {
	b.explainCard.SetTitle("")
	b.causeLine.SetText(c.Line)
	b.causeLine.Hidden = c.Line == ""
	b.explain.SetText(c.Fix)
	b.details.SetText(c.Details)
	b.detailsBox.Hide()
	b.detailsBtn.SetText("Show details")
	b.detailsBtn.Hidden = c.Details == ""
	b.explainCard.Show()
	b.explainCard.Refresh()
}

// hideCause empties and hides the failure card.
func (b *buildView) hideCause() {
	b.explain.SetText("")
	b.causeLine.SetText("")
	b.causeLine.Hide()
	b.details.SetText("")
	b.detailsBox.Hide()
	b.detailsBtn.Hide()
	b.explainCard.Hide()
}

// toggleDetails shows or hides the failure details.
func (b *buildView) toggleDetails() {
	if b.detailsBox.Visible() {
		b.detailsBox.Hide()
		b.detailsBtn.SetText("Show details")
	} else {
		b.detailsBox.Show()
		b.detailsBtn.SetText("Hide details")
	}
}

// handle applies a stage event; UI goroutine.
func (b *buildView) handle(run BuildRun, ev runner.Event) {
	if run != b.run {
		return
	}
	switch ev.Kind {
	case runner.EventStageStarted:
		r := b.stage(ev.Stage)
		r.started = time.Now()
		r.icon.SetResource(theme.MediaPlayIcon())
		r.state.SetText("running")
		r.state.Importance = widget.HighImportance
		r.state.TextStyle.Italic = false
		r.state.Refresh()
	case runner.EventStageFinished:
		b.stageFinished(ev)
	}
}

func (b *buildView) stageFinished(ev runner.Event) {
	r := b.stage(ev.Stage)
	r.done = true
	switch {
	case ev.Cancelled:
		r.icon.SetResource(theme.CancelIcon())
		r.state.SetText("cancelled")
		r.state.Importance = widget.WarningImportance
	case !ev.OK:
		r.icon.SetResource(theme.ErrorIcon())
		r.state.SetText("failed")
		r.state.Importance = widget.DangerImportance
	case ev.Reused:
		r.icon.SetResource(theme.ConfirmIcon())
		r.state.SetText("reused")
		r.state.Importance = widget.SuccessImportance
	default:
		r.icon.SetResource(theme.ConfirmIcon())
		r.state.SetText("done")
		r.state.Importance = widget.SuccessImportance
	}
	r.state.TextStyle.Italic = false
	r.state.Refresh()
	r.dur.SetText(humanDuration(ev.Duration))
	if ev.Reused {
		r.dur.SetText("")
	}
}

// outcomeImportance colours the status line of a finished build.
var outcomeImportance = map[runner.State]widget.Importance{
	runner.Succeeded: widget.SuccessImportance, runner.Failed: widget.DangerImportance, runner.Cancelled: widget.WarningImportance,
}

// finish shows how a run ended; UI goroutine.
func (b *buildView) finish(res *runner.Result, out outputs, c cause) {
	state := res.State
	if state == runner.Running || state == "" {
		state = runner.Failed
	}
	for _, r := range b.stages {
		if !r.started.IsZero() && !r.done {
			r.done = true
			r.state.SetText(string(state))
			r.state.Importance = widget.WarningImportance
			r.state.TextStyle.Italic = false
			r.state.Refresh()
			r.dur.SetText(humanDuration(time.Since(r.started)))
			r.icon.SetResource(theme.CancelIcon())
		}
	}
	b.run = nil
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
	b.setRunning(false)
	msg := "Build " + string(state)
	if state == runner.Failed {
		msg += failedStage(b.stages)
		b.showCause(c)
	}
	b.status.SetText(msg)
	b.status.Importance = outcomeImportance[state]
	b.status.Refresh()
	b.g.notify(Title, msg)
	if out.raidSet != "" {
		b.g.set.LastRaidSet = out.raidSet
	}
	b.showArtifacts(res.Artifacts, out)
	b.refreshHistory()
	b.g.workStopped()
}

func (b *buildView) showArtifacts(arts []runner.Artifact, out outputs) {
	raidSet := out.raidSet
	b.artifacts.RemoveAll()
	if len(arts) == 0 {
		b.artCard.Hide()
		return
	}
	grid := container.New(layout.NewFormLayout())
	for _, a := range arts {
		a := a
		name := filepath.Base(a.Path)
		if role := out.roles[a.Path]; role != "" {
			name += "  (" + role + ")"
		}
		var flash fyne.CanvasObject
		if flashable(a) {
			flash = widget.NewButtonWithIcon("Flash…", theme.DownloadIcon(), func() {
				b.g.flash.selectImage(a.Path)
				b.g.Show(SectionFlash)
			})
		}
		grid.Add(widget.NewLabel(units.Decimal(a.Size)))
		grid.Add(container.NewBorder(nil, nil, nil, flash, widget.NewLabel(name)))
	}
	b.artifacts.Add(grid)
	dir := filepath.Dir(arts[0].Path)
	btns := []fyne.CanvasObject{layout.NewSpacer()}
	if raidSet != "" {
		btns = append(btns, widget.NewButtonWithIcon("Provision RAID set…", theme.StorageIcon(), func() {
			b.g.raid.selectSet(raidSet)
			b.g.Show(SectionRaid)
		}))
	}
	btns = append(btns, widget.NewButtonWithIcon("Show in folder", theme.FolderOpenIcon(), func() { b.g.openFolder(dir) }))
	b.artifacts.Add(container.NewHBox(btns...))
	b.artCard.Show()
}

func (b *buildView) setRunning(on bool) {
	for _, btn := range []*widget.Button{b.fsBtn, b.imgBtn, b.fullBtn} {
		if on {
			btn.Disable()
		} else {
			btn.Enable()
		}
	}
	if on {
		b.cancelBtn.Enable()
		b.status.Importance = widget.MediumImportance
	} else {
		b.cancelBtn.Disable()
	}
}

// Cancel stops the running build, or the one being started.
func (b *buildView) Cancel() {
	switch {
	case b.run != nil:
		b.status.SetText("Cancelling…")
		b.run.Cancel()
	case b.starting && b.cancel != nil:
		b.status.SetText("Cancelling…")
		b.cancel()
	}
}

// failedStage names the stage a build failed in (" in generate_filesystem"),
// or "" when no stage is marked failed.
func failedStage(rows []*stageRow) string {
	for _, r := range rows {
		if r.done && r.state.Text == "failed" {
			return " in " + r.name
		}
	}
	return ""
}

// maxHistory is how many past builds the Build section lists.
const maxHistory = 4

// refreshHistory lists the last builds of the work dir, newest first.
func (b *buildView) refreshHistory() {
	work := b.g.workDir()
	goUI(b.g.br, func() []runner.Record {
		recs, _ := b.g.be.Runner.History(work)
		return recs
	}, func(recs []runner.Record) {
		b.history.RemoveAll()
		for i := len(recs) - 1; i >= 0 && len(recs)-i <= maxHistory; i-- {
			l := widget.NewLabel(historyLine(recs[i]))
			l.Truncation = fyne.TextTruncateEllipsis
			l.Importance = outcomeImportance[recs[i].State]
			b.history.Add(l)
		}
		b.histCard.Hidden = len(recs) == 0
		b.histCard.Refresh()
	})
}

// historyLine describes one past build: when, what, how it ended.
func historyLine(r runner.Record) string {
	s := fmt.Sprintf("%s · %s · %s", r.Start.Local().Format("Jan 2 15:04"), r.Stage, r.State)
	if !r.End.IsZero() {
		s += " after " + humanDuration(r.End.Sub(r.Start).Round(time.Second))
	}
	if r.Reused != "" {
		s += " (filesystem reused)"
	}
	return s + " · " + filepath.Base(r.Config)
}

// reset clears what the last build of another config left: stages,
// status, failure card and artifacts.
func (b *buildView) reset() {
	b.setStages(stagesOf(runner.StageFull))
	b.status.SetText("Ready")
	b.status.Importance = widget.MediumImportance
	b.status.Refresh()
	b.hideCause()
	b.artCard.Hide()
}
