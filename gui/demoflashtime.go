package gui

import (
	"path/filepath"
	"time"

	"fyne.io/fyne/v2/container"

	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/gui/demo"
)

// Demo sections of the host doctor and of the settings at flash time.
const (
	demoSettingsDoctor  = "Settings doctor"
	demoSettingsCache   = "Settings cache"
	demoSettingsNoTool  = "Settings no tool"
	demoBuildCheck      = "Build check"
	demoFlashCustomise  = "Flash customise"
	demoFlashSeveral    = "Flash several"
	demoConfigureSwitch = "Configure flash time"
)

// playMoreDemo plays the doctor's and the Customise panel's scenarios.
func (g *App) playMoreDemo(set *demo.Set, section string, later func(time.Duration, func())) {
	set.Doctor.Step = 40 * time.Millisecond
	switch section {
	case demoSettingsDoctor:
		set.Doctor.Broken = true
		later(400*time.Millisecond, func() {
			g.doctor.checkNow()
		})
		later(1200*time.Millisecond, func() { g.settings.scrollTo(g.doctor.card) })
	case demoSettingsCache:
		later(600*time.Millisecond, func() {
			if sc, ok := g.settings.content.(*container.Scroll); ok {
				sc.ScrollToBottom()
			}
		})
	case demoSettingsNoTool:
		set.Tool.Missing = true
		later(600*time.Millisecond, func() {
			dir, _ := set.Doctor.DefaultToolDir()
			g.doctor.getTool(dir)
		})
	case demoBuildCheck:
		set.Doctor.Broken = true
		later(400*time.Millisecond, func() { g.build.start(runner.StageFull) })
	case demoConfigureSwitch:
		later(700*time.Millisecond, func() {
			g.cfg.flashtime.check.SetChecked(true)
			g.cfg.formScroll.ScrollToBottom()
		})
	case demoFlashCustomise, demoFlashSeveral:
		g.playCustomise(section == demoFlashSeveral, later)
	}
}

// playCustomise fills the Customise panel with sample settings and, for
// several cards, ticks two of them.
func (g *App) playCustomise(several bool, later func(time.Duration, func())) {
	later(300*time.Millisecond, func() {
		g.flash.selectImage(filepath.Join(g.set.WorkDir, "image-raid-test", "sdcard.img"))
	})
	later(700*time.Millisecond, func() {
		c := g.custom
		c.enable.SetChecked(true)
		c.fill(firstboot.Settings{User: "pi",
			SSHKeys:  []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g lab@workstation"},
			WifiSSID: "lab-net", WifiCountry: "GB", Locale: "en_GB.UTF-8", Keyboard: "gb", Timezone: "Europe/London", SSH: true})
		c.entries[firstboot.FieldPassword].SetText("raspberry-lab")
		c.entries[firstboot.FieldWifiPSK].SetText("correct horse battery")
		c.saveProfile("lab")
		c.entries[firstboot.FieldHostname].SetText("pi-{n}")
		if !several {
			g.flash.selectDisk("/dev/mmcblk0")
			return
		}
		g.flash.many.sw.SetChecked(true)
		for _, r := range g.flash.many.rows {
			if r.d.Path == "/dev/mmcblk0" || r.d.Path == "/dev/sdb" {
				r.pick.SetChecked(true)
			}
		}
	})
	later(1000*time.Millisecond, func() { g.custom.scroll.ScrollToBottom() })
	if several {
		later(1200*time.Millisecond, func() {
			g.flash.many.run(g.flash.many.picked(), map[string]string{})
		})
	}
}
