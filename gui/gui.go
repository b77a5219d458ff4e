// Package gui is Pi Image Studio's Fyne desktop interface. It drives the
// builder and flash packages; every widget change made from another
// goroutine goes through fyne.Do.
package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/assets"
)

// AppID is the application ID; preferences are stored under it.
const AppID = "io.github.pistudio"

// Title is the main window's title.
const Title = "Pi Image Studio"

// Run starts the desktop app and blocks until its window closes.
func Run() {
	a := app.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon()))
	w := a.NewWindow(Title)
	w.SetContent(NewMain(a, w))
	w.Resize(fyne.NewSize(1100, 720))
	w.ShowAndRun()
}

// NewMain builds the window content: one tab per section.
func NewMain(a fyne.App, w fyne.Window) fyne.CanvasObject {
	tabs := container.NewAppTabs()
	for _, name := range Sections {
		tabs.Append(container.NewTabItem(name, widget.NewLabel(name)))
	}
	tabs.SetTabLocation(container.TabLocationLeading)
	return tabs
}

// Sections are the app's sections, in the order they are shown.
var Sections = []string{"Configure", "Build", "Flash", "RAID set", "Settings"}
