package demo

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/firstboot"
)

// Flashtime pretends images built from the sample RAID config carry the
// cloud-init reader; any other image has none.
type Flashtime struct {
	// ProfileDir holds the profiles (a temporary folder by default).
	ProfileDir string

	mu      sync.Mutex
	applied map[string]*firstboot.Payload
}

// Detect finds cloud-init in the sample set's images, nothing elsewhere.
func (f *Flashtime) Detect(image string) firstboot.Reader {
	if strings.Contains(image, "image-raid-test") {
		return firstboot.Reader{Format: firstboot.CloudInit, From: "image.json"}
	}
	return firstboot.Reader{Format: firstboot.None, Reason: firstboot.ReasonUnknown}
}

// Apply records the payload for the disk.
func (f *Flashtime) Apply(_ context.Context, d flash.Target, p *firstboot.Payload) (*firstboot.Applied, error) {
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("demo settings: %w", err)
	}
	f.mu.Lock()
	if f.applied == nil {
		f.applied = map[string]*firstboot.Payload{}
	}
	f.applied[d.Path] = p
	f.mu.Unlock()
	var names []string
	for _, fl := range p.Files {
		names = append(names, fl.Name)
	}
	return &firstboot.Applied{Partition: 1, Files: names}, nil
}

// Applied returns the payload written to a disk, nil when none.
func (f *Flashtime) Applied(path string) *firstboot.Payload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied[path]
}

// Profiles keeps profiles in ProfileDir.
func (f *Flashtime) Profiles() (*firstboot.Profiles, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ProfileDir == "" {
		d, err := os.MkdirTemp("", "pistudio-profiles-")
		if err != nil {
			return nil, fmt.Errorf("demo profiles: %w", err)
		}
		f.ProfileDir = d
	}
	return &firstboot.Profiles{Dir: f.ProfileDir}, nil
}
