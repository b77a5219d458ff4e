// Package adapt connects the desktop app's interfaces (gui/backend) to the
// real packages: builder for configs, layers and validation, builder/runner
// for builds, flash/disk for disks, flash/source for image inspection and
// flash for writing. It holds no rules of its own: every check the app
// shows comes from those packages, exactly as the command line uses them.
package adapt

import (
	"github.com/pistudio/pistudio/gui/backend"
)

// New returns the real backends.
func New() backend.Backends {
	w := &writer{}
	return backend.Backends{
		Configs: Configs{},
		Tool:    Tool{},
		Runner:  Runner{},
		Disks:   Disks{},
		Images:  Images{},
		Flasher: Flasher{w},
		Raid:    Raid{w},
	}
}
