// Package gui is Pi Image Studio's Fyne desktop interface. It drives the
// builder and flash packages through the small interfaces of services.go, over their own types;
// every widget change made from another goroutine goes through the bridge
// (bridge.go).
package gui

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// AppID is the application ID; preferences are stored under it.
const AppID = "io.github.pistudio.PiImageStudio"

// Title is the main window's title.
const Title = "Pi Image Studio"

// DemoEnv names the environment variable that, set to 1, runs the app on
// demo backends with sample data (used for screenshots).
const DemoEnv = "PISTUDIO_DEMO"

// Sections are the app's sections, in the order they are shown.
var Sections = []string{"Configure", "Build", "Flash", "RAID set", "Settings"}

// Section indexes into Sections.
const (
	SectionConfigure = iota
	SectionBuild
	SectionFlash
	SectionRaid
	SectionSettings
)

// App is the main window's controller.
type App struct {
	app   fyne.App
	win   fyne.Window
	be    Backends
	br    bridge
	set   Settings
	prefs fyne.Preferences

	// quitting is set once the user chose to quit while work was running:
	// the window closes when the last of it has stopped, or after
	// quitWait. stopping is the "Stopping…" notice meanwhile.
	quitting bool
	quitWait time.Duration
	stopping dialog.Dialog
	// closeWin closes the window (replaced in tests); closed records it.
	closeWin func()
	closed   bool
	// toolErr is the last error looking for rpi-image-gen.
	toolErr error
	quitAsk *quitDialog
	// escDialogs are the shown dialogs Escape dismisses (escape.go).
	escDialogs []escDialog

	ctx    context.Context
	cancel context.CancelFunc

	tabs     *container.AppTabs
	content  fyne.CanvasObject
	cfg      *configureView
	build    *buildView
	flash    *flashView
	raid     *raidView
	settings *settingsView
	doctor   *doctorView
	custom   *customiseView
}

// New builds the app's controller and widgets. do schedules work on the UI
// goroutine; nil means fyne.Do.
func New(a fyne.App, w fyne.Window, be Backends, do func(func())) *App {
	return newApp(a, w, be, do, a.Preferences())
}

// newApp is New with the preferences store to use (an in-memory one in
// demo mode, so that a demo never changes the user's settings).
func newApp(a fyne.App, w fyne.Window, be Backends, do func(func()), prefs fyne.Preferences) *App {
	g := &App{app: a, win: w, be: be, br: newBridge(do), prefs: prefs, set: LoadSettings(prefs), quitWait: buildStopWait}
	g.closeWin = w.Close
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.cfg = newConfigureView(g)
	g.build = newBuildView(g)
	g.flash = newFlashView(g)
	g.raid = newRaidView(g)
	g.doctor = newDoctorView(g)
	g.settings = newSettingsView(g)
	g.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon(Sections[0], theme.DocumentCreateIcon(), capped(g.cfg.content, sectionMax)),
		container.NewTabItemWithIcon(Sections[1], theme.MediaPlayIcon(), capped(g.build.content, sectionMax)),
		container.NewTabItemWithIcon(Sections[2], theme.DownloadIcon(), capped(g.flash.content, sectionMax)),
		container.NewTabItemWithIcon(Sections[3], theme.StorageIcon(), capped(g.raid.content, sectionMax)),
		container.NewTabItemWithIcon(Sections[4], theme.SettingsIcon(), capped(g.settings.content, sectionMax)),
	)
	g.tabs.SetTabLocation(container.TabLocationLeading)
	g.tabs.OnSelected = func(it *container.TabItem) {
		switch it.Text {
		case Sections[SectionRaid]:
			g.raid.refresh()
		case Sections[SectionFlash]:
			g.flash.refreshImages()
		case Sections[SectionBuild]:
			g.build.refreshHistory()
		}
	}
	g.content = g.tabs
	w.SetCloseIntercept(g.onClose)
	w.SetOnDropped(g.dropped)
	g.addShortcuts()
	return g
}

// Content returns the window content.
func (g *App) Content() fyne.CanvasObject { return g.content }

// Show selects a section by index (see SectionConfigure...).
func (g *App) Show(section int) { g.tabs.SelectIndex(section) }

// Start begins background work: the last config is opened, disks are
// watched and the tool is detected.
func (g *App) Start() {
	g.settings.detect()
	g.flash.start(g.ctx)
	if g.set.LastConfig != "" {
		g.cfg.open(g.set.LastConfig)
	} else {
		g.cfg.newConfig()
	}
}

// Stop ends background work and saves the settings.
func (g *App) Stop() {
	g.cancel()
	g.saveSettings()
}

func (g *App) saveSettings() {
	if c := g.win.Canvas(); c != nil && c.Size().Width > 0 {
		g.set.Width, g.set.Height = c.Size().Width, c.Size().Height
	}
	g.storeSettings()
}

// storeSettings writes the settings to the preferences store.
func (g *App) storeSettings() { g.set.Save(g.prefs) }

// buildStopWait is how long closing the window waits for running work
// (a build's processes get SIGTERM, then SIGKILL) to stop.
const buildStopWait = 15 * time.Second

// busy names the work in progress, "" when there is none.
func (g *App) busy() string {
	var what []string
	if g.build.Busy() {
		what = append(what, "the build")
	}
	if g.flash.running {
		what = append(what, "the write")
	}
	if g.raid.running {
		what = append(what, "the RAID provisioning")
	}
	return strings.Join(what, " and ")
}

// onClose asks about unsaved changes, then, when work is running, whether
// to stop it; the window closes once that work has stopped.
func (g *App) onClose() {
	if g.quitting {
		return
	}
	g.cfg.confirmDiscard("close", func() {
		what := g.busy()
		if what == "" {
			g.quit()
			return
		}
		q := &quitDialog{}
		q.stop = widget.NewButtonWithIcon("Stop and quit", theme.CancelIcon(), func() {
			q.d.Hide()
			g.quitAsk = nil
			g.stopAndQuit()
		})
		q.stop.Importance = widget.DangerImportance
		q.keep = widget.NewButton("Keep running", func() { q.d.Hide(); g.quitAsk = nil })
		q.d = dialog.NewCustomWithoutButtons("Quit and stop "+what+"?", wrapLabel(
			"Pi Image Studio stops "+what+" before it quits. A disk that was being written holds no valid image afterwards."), g.win)
		q.d.SetButtons([]fyne.CanvasObject{q.keep, q.stop})
		q.d.Resize(fyne.NewSize(480, q.d.MinSize().Height))
		q.d.Show()
		g.quitAsk = q
	})
}

// quitDialog asks whether to stop running work and quit.
type quitDialog struct {
	d          *dialog.CustomDialog
	stop, keep *widget.Button
}

// stopAndQuit cancels everything running, shows "Stopping…" and quits when
// the finish events have arrived (workStopped), or after quitWait.
func (g *App) stopAndQuit() {
	g.quitting = true
	g.build.Cancel()
	g.flash.Cancel()
	g.raid.Cancel()
	bar := widget.NewProgressBarInfinite()
	g.stopping = dialog.NewCustomWithoutButtons("Stopping…", container.NewVBox(
		wrapLabel("Waiting for "+g.busy()+" to stop."), bar), g.win)
	g.stopping.Show()
	time.AfterFunc(g.quitWait, func() { g.br.ui(g.quit) })
	g.workStopped()
}

// workStopped is called by every section when its work has finished; it
// quits when the user asked to and nothing runs any more.
func (g *App) workStopped() {
	if g.busy() != "" {
		return
	}
	if g.quitting {
		g.quit()
		return
	}
	if g.quitAsk != nil {
		// Nothing is left to stop: the question is moot.
		g.quitAsk.d.Hide()
		g.quitAsk = nil
	}
}

// quit saves the settings, stops background work and closes the window.
func (g *App) quit() {
	if g.closed {
		return
	}
	g.closed = true
	if g.stopping != nil {
		g.stopping.Hide()
	}
	g.saveSettings()
	g.cancel()
	g.closeWin()
}

// workDir is the work dir builds of the open config use.
func (g *App) workDir() string {
	return g.be.Runner.WorkDir(g.cfg.path, g.set.WorkDir)
}

// openFolder shows a directory in the desktop's file manager.
func (g *App) openFolder(dir string) {
	u := &url.URL{Scheme: "file", Path: filepath.Clean(dir)}
	if err := g.app.OpenURL(u); err != nil {
		g.showError(err)
	}
}

// notify sends a desktop notification.
func (g *App) notify(title, body string) {
	g.app.SendNotification(fyne.NewNotification(title, body))
}
