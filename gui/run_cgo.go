//go:build cgo

package gui

import (
	"fmt"
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/theme"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/gui/demo"
)

// Run starts the desktop app and blocks until its window closes.
func Run() {
	a := app.NewWithID(AppID)
	a.Settings().SetTheme(newAppTheme(theme.DefaultTheme()))
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.Icon()))
	w := a.NewWindow(Title)
	be := realBackends()
	var set *demo.Set
	prefs := a.Preferences()
	if os.Getenv(DemoEnv) == "1" {
		be, set = demoBackends()
		prefs = newMemPrefs() // a demo never changes the user's settings
	}
	g := newApp(a, w, be, nil, prefs)
	w.SetContent(g.Content())
	size := fyne.NewSize(g.set.Width, g.set.Height)
	if set != nil {
		var wd, ht float32
		if _, err := fmt.Sscanf(os.Getenv(SizeEnv), "%gx%g", &wd, &ht); err == nil {
			size = fyne.NewSize(wd, ht) // a demo's window size, for screenshots
		}
	}
	w.Resize(size)
	section := os.Getenv(SectionEnv)
	for i, n := range Sections {
		if strings.HasPrefix(section, n) {
			g.Show(i)
		}
	}
	if set != nil {
		g.playDemo(set, section)
	}
	g.Start()
	w.ShowAndRun()
	g.Stop()
}
