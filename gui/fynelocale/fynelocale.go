// Package fynelocale keeps Fyne's start-up quiet in the C/POSIX locale.
//
// Fyne's lang package reads LC_ALL, LC_MESSAGES and LANG in its init and
// logs "Error parsing user locale C" when the first one set is a C locale
// such as "C.UTF-8", which is how CI machines and containers run. That
// noise would land on stderr of every pistudio subcommand. This package has
// no dependencies, and its import path sorts before golang.org/x/text, which
// fyne.io/fyne/v2/lang depends on; the Go spec's package initialization
// order (the lexically smallest ready package first) therefore runs this
// init before Fyne's. It hands Fyne a parseable locale in that one
// variable; Restore, called first thing in main, puts the environment back
// so child processes (rpi-image-gen, mke2fs, ...) see the user's own locale.
package fynelocale

import (
	"os"
	"strings"
)

var (
	key, saved string
	changed    bool
)

func init() { quiet() }

// quiet swaps a C locale for one Fyne parses, remembering the original.
func quiet() {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := os.Getenv(k)
		if v == "" {
			continue
		}
		name := v
		if i := strings.IndexAny(name, ".@"); i >= 0 {
			name = name[:i] // C.UTF-8, POSIX@euro
		}
		if name == "C" || name == "POSIX" {
			key, saved, changed = k, v, true
			os.Setenv(k, "en_US.UTF-8")
		}
		return
	}
}

// Restore undoes what init changed in the environment. It is safe to call
// more than once.
func Restore() {
	if changed {
		os.Setenv(key, saved)
		changed = false
	}
}
