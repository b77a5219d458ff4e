package gui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/gui/demo"
)

// SectionEnv names the environment variable that opens a section by name
// at start (with PISTUDIO_DEMO=1 it also plays that section's sample
// scenario; "Flash confirm" opens the erase confirmation).
const SectionEnv = "PISTUDIO_SECTION"

// SizeEnv names the environment variable that sets the window size of a
// demo ("800x600"), for screenshots.
const SizeEnv = "PISTUDIO_WINDOW_SIZE"

// demoBackends returns stand-ins with sample data (PISTUDIO_DEMO=1).
// Config files are still read and written by package builder, so the YAML
// view shows the real byte-for-byte result; layers and checks are samples.
func demoBackends() (Backends, *demo.Set) {
	home, _ := os.UserHomeDir()
	set, err := demo.New(filepath.Join(home, "pistudio-work"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pistudio: demo:", err)
	}
	return demoServices(set), set
}

// demoServices wires the demo set into the app.
func demoServices(set *demo.Set) Backends {
	return Backends{Configs: set.Configs, Tool: set.Tool, Runner: demoRunner{set.Runner}, Disks: set.Disks,
		Images: set.Images, Flasher: set.Flasher, Raid: set.Raid,
		Doctor: demoDoctor{set.Doctor}, Flashtime: demoFlashtime{set.Flashtime}}
}

// demoRunner returns the demo's runs as BuildRuns.
type demoRunner struct{ *demo.Runner }

func (d demoRunner) Start(ctx context.Context, config string, stage runner.Stage, opts buildjob.Options) (BuildRun, error) {
	r, err := d.Runner.Start(ctx, config, stage, opts)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// playDemo, called before Start, sets up the sample scenario of a section for screenshots: a
// config open, a finished build, a write in progress, a RAID plan.
func (g *App) playDemo(set *demo.Set, section string) {
	home, _ := os.UserHomeDir()
	dir := filepath.Join(home, "pistudio")
	_ = os.MkdirAll(dir, 0o755)
	cfg := filepath.Join(dir, "raid-config.yaml")
	if _, err := os.Stat(cfg); err == nil {
		// Never overwrite a file of the user's: use a fresh folder.
		if tmp, err := os.MkdirTemp("", "pistudio-demo-"); err == nil {
			cfg = filepath.Join(tmp, "raid-config.yaml")
		}
	}
	if b, err := assets.Config("raid-config.yaml"); err == nil {
		_ = os.WriteFile(cfg, b, 0o644)
	}
	g.set.WorkDir = filepath.Join(home, "pistudio-work")
	g.settings.work.SetText(g.set.WorkDir)
	g.set.LastConfig = cfg // Start opens it
	set.Runner.Step = 15 * time.Millisecond
	set.Flasher.Step = 400 * time.Millisecond
	later := func(d time.Duration, f func()) {
		time.AfterFunc(d, func() { g.br.ui(f) })
	}
	switch section {
	case "Configure problem":
		later(500*time.Millisecond, func() {
			if f := g.cfg.fields["raid.devices"]; f != nil && f.entry != nil {
				f.entry.SetText("12")
			}
			g.cfg.formScroll.ScrollToBottom()
		})
	case "RAID set hotplug":
		// A disk is plugged in after the plan was shown: it is offered,
		// and takes no role by itself.
		later(1200*time.Millisecond, func() {
			big := disk.Disk{Name: "sde", Path: "/dev/sde", Major: 8, Minor: 64, SizeBytes: 4000787030016, Vendor: "WD",
				Model: "Elements 4TB", Serial: "WX41D94RJ8KT", Bus: "usb", Eligible: true, NeedsTypedConfirm: true}
			go set.Disks.Replace(append(demo.SampleDisks(), big))
		})
	case "Build failed":
		set.Runner.Fail = true
		later(400*time.Millisecond, func() { g.build.start(runner.StageFull) })
	case "Build":
		later(400*time.Millisecond, func() { g.build.start(runner.StageFull) })
	case "Flash", "Flash confirm":
		later(300*time.Millisecond, func() {
			g.flash.showProt.SetChecked(section == "Flash")
			g.flash.selectImage(filepath.Join(g.set.WorkDir, "image-raid-test", "sdcard.img"))
		})
		later(600*time.Millisecond, func() {
			if section == "Flash" {
				g.flash.selectDisk("/dev/mmcblk0")
				if d, ok := g.flash.disk(); ok {
					g.flash.flash(flashJob{Image: g.flash.image, Disk: d, Verify: true})
				}
				return
			}
			g.flash.selectDisk("/dev/sdc")
			g.flash.askFlash()
		})
	default:
		g.playMoreDemo(set, section, later)
	}
}
