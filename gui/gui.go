// Package gui is Pi Image Studio's Fyne desktop interface. It drives the
// builder and flash packages through the small interfaces of gui/backend;
// every widget change made from another goroutine goes through the bridge
// (bridge.go).
package gui

import (
	"context"
	"net/url"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"github.com/pistudio/pistudio/gui/backend"
)

// AppID is the application ID; preferences are stored under it.
const AppID = "io.github.pistudio"

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
	app fyne.App
	win fyne.Window
	be  backend.Backends
	br  bridge
	set Settings

	ctx    context.Context
	cancel context.CancelFunc

	tabs     *container.AppTabs
	content  fyne.CanvasObject
	cfg      *configureView
	build    *buildView
	flash    *flashView
	raid     *raidView
	settings *settingsView
}

// New builds the app's controller and widgets. do schedules work on the UI
// goroutine; nil means fyne.Do.
func New(a fyne.App, w fyne.Window, be backend.Backends, do func(func())) *App {
	g := &App{app: a, win: w, be: be, br: newBridge(do), set: LoadSettings(a.Preferences())}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.cfg = newConfigureView(g)
	g.build = newBuildView(g)
	g.flash = newFlashView(g)
	g.raid = newRaidView(g)
	g.settings = newSettingsView(g)
	g.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon(Sections[0], theme.DocumentCreateIcon(), g.cfg.content),
		container.NewTabItemWithIcon(Sections[1], theme.MediaPlayIcon(), g.build.content),
		container.NewTabItemWithIcon(Sections[2], theme.DownloadIcon(), g.flash.content),
		container.NewTabItemWithIcon(Sections[3], theme.StorageIcon(), g.raid.content),
		container.NewTabItemWithIcon(Sections[4], theme.SettingsIcon(), g.settings.content),
	)
	g.tabs.SetTabLocation(container.TabLocationLeading)
	g.tabs.OnSelected = func(it *container.TabItem) {
		switch it.Text {
		case Sections[SectionRaid]:
			g.raid.refresh()
		case Sections[SectionFlash]:
			g.flash.refreshImages()
		}
	}
	g.content = g.tabs
	w.SetCloseIntercept(g.onClose)
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
	g.set.Save(g.app.Preferences())
}

// onClose asks about unsaved changes before the window closes.
func (g *App) onClose() {
	g.cfg.confirmDiscard("close", func() {
		g.saveSettings()
		g.cancel()
		g.win.Close()
	})
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
