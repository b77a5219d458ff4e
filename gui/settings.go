package gui

import (
	"fyne.io/fyne/v2"

	"github.com/pistudio/pistudio/gui/logview"
)

// Preference keys; every stored setting has one.
const (
	prefLastConfig    = "config.last"
	prefRecent        = "config.recent"
	prefToolDir       = "tool.dir"
	prefWorkDir       = "build.workdir"
	prefVerify        = "flash.verify"
	prefSHA256        = "flash.sha256"
	prefLogLines      = "build.loglines"
	prefShowProtected = "flash.showprotected"
	prefWinWidth      = "window.width"
	prefWinHeight     = "window.height"
	prefLastRaidSet   = "raid.last"
)

// maxRecent is how many recent configs are remembered.
const maxRecent = 8

// Default window size.
const (
	defaultWidth  = 1200
	defaultHeight = 780
)

// Settings is everything the app remembers between runs.
type Settings struct {
	// LastConfig is the config that was open last.
	LastConfig string
	// Recent lists recently used configs, newest first.
	Recent []string
	// ToolDir is the rpi-image-gen location ("" = detect).
	ToolDir string
	// WorkDir is the build work dir.
	WorkDir string
	// Verify reads disks back after flashing by default.
	Verify bool
	// SHA256 computes the SHA-256 of the image when flashing one disk
	// (the RAID section computes it whenever image.json records one).
	SHA256 bool
	// LogLines is how many lines the log view keeps.
	LogLines int
	// ShowProtected lists disks that may not be written.
	ShowProtected bool
	// Width and Height are the window size.
	Width, Height float32
	// LastRaidSet is the RAID set dir of the last RAID build.
	LastRaidSet string
	// Cache is the per-user cache and offline mode of builds.
	Cache CacheSettings
}

// LoadSettings reads the settings, with defaults for anything unset.
func LoadSettings(p fyne.Preferences) Settings {
	return Settings{
		LastConfig:    p.StringWithFallback(prefLastConfig, ""),
		Recent:        p.StringListWithFallback(prefRecent, nil),
		ToolDir:       p.StringWithFallback(prefToolDir, ""),
		WorkDir:       p.StringWithFallback(prefWorkDir, ""),
		Verify:        p.BoolWithFallback(prefVerify, true),
		SHA256:        p.BoolWithFallback(prefSHA256, false),
		LogLines:      p.IntWithFallback(prefLogLines, logview.DefaultMax),
		ShowProtected: p.BoolWithFallback(prefShowProtected, false),
		Width:         float32(p.FloatWithFallback(prefWinWidth, defaultWidth)),
		Height:        float32(p.FloatWithFallback(prefWinHeight, defaultHeight)),
		LastRaidSet:   p.StringWithFallback(prefLastRaidSet, ""),
		Cache:         loadCacheSettings(p),
	}
}

// Save writes the settings.
func (s Settings) Save(p fyne.Preferences) {
	p.SetString(prefLastConfig, s.LastConfig)
	p.SetStringList(prefRecent, s.Recent)
	p.SetString(prefToolDir, s.ToolDir)
	p.SetString(prefWorkDir, s.WorkDir)
	p.SetBool(prefVerify, s.Verify)
	p.SetBool(prefSHA256, s.SHA256)
	p.SetInt(prefLogLines, s.LogLines)
	p.SetBool(prefShowProtected, s.ShowProtected)
	p.SetFloat(prefWinWidth, float64(s.Width))
	p.SetFloat(prefWinHeight, float64(s.Height))
	p.SetString(prefLastRaidSet, s.LastRaidSet)
	s.Cache.save(p)
}

// addRecent puts path first in the recent list.
func (s *Settings) addRecent(path string) {
	out := []string{path}
	for _, r := range s.Recent {
		if r != path && len(out) < maxRecent {
			out = append(out, r)
		}
	}
	s.Recent = out
	s.LastConfig = path
}
