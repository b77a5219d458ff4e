package gui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/flash/helper"
)

// Flashtime is what the Customise panel needs from package
// flash/firstboot: which reader an image has, writing the rendered
// settings onto a freshly written disk, and the saved profiles.
type Flashtime interface {
	// Detect tells which first-boot reader the image has, or why none.
	Detect(image string) firstboot.Reader
	// Apply writes p into the boot partition of t (written just before);
	// the writer re-runs the disk guard.
	Apply(ctx context.Context, t flash.Target, p *firstboot.Payload) (*firstboot.Applied, error)
	// Profiles are the saved named settings.
	Profiles() (ProfileStore, error)
}

// ProfileStore keeps named settings; *firstboot.Profiles is one.
type ProfileStore interface {
	// List returns the names, sorted.
	List() ([]string, error)
	// Load reads a profile.
	Load(name string) (firstboot.Settings, error)
	// Save stores s (secrets hashed) as name.
	Save(name string, s firstboot.Settings) error
}

// errNoSettingsWriter means the disk writer in use cannot write settings.
var errNoSettingsWriter = errors.New("the disk writer cannot write first-boot settings")

// realFlashtime uses firstboot and the shared disk writer (the privileged
// helper when not root).
type realFlashtime struct{ w *writer }

func (realFlashtime) Detect(image string) firstboot.Reader { return firstboot.Detect(image) }

func (f realFlashtime) Apply(ctx context.Context, t flash.Target, p *firstboot.Payload) (*firstboot.Applied, error) {
	if !strings.HasPrefix(t.Path, "/dev/") {
		// An image file: written in-process, like the writer does.
		a, err := firstboot.ApplyPath(ctx, t.Path, p)
		if err != nil {
			return nil, fmt.Errorf("writing settings to %s: %w", t.Path, err)
		}
		return a, nil
	}
	fl, err := f.w.current()
	if err != nil {
		return nil, err
	}
	sw, ok := fl.(helper.SettingsWriter)
	if !ok {
		return nil, errNoSettingsWriter
	}
	a, err := sw.ApplySettings(ctx, t, p)
	if err != nil {
		return nil, fmt.Errorf("writing settings to %s: %w", t.Path, err)
	}
	return a, nil
}

func (realFlashtime) Profiles() (ProfileStore, error) {
	p, err := firstboot.DefaultProfiles()
	if err != nil {
		return nil, fmt.Errorf("finding the profiles folder: %w", err)
	}
	return p, nil
}

// current returns the writer's flasher, starting it when needed.
func (w *writer) current() (helper.Flasher, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		f, err := helper.New(context.Background())
		if err != nil {
			return nil, fmt.Errorf("starting the privileged helper: %w", err)
		}
		w.f = f
	}
	return w.f, nil
}
