package gui

import (
	"slices"
	"strings"

	"github.com/pistudio/pistudio/gui/form"
)

// mostUsed are the variables users set most, by the end of their config
// key, in the order the form shows them first: the host name, the user
// with its password or SSH key, then locale, keyboard and time zone
// (rpi-image-gen's device.hostname, device.user1, device.user1pass,
// ssh.pubkey_user1, locale.default, locale.keyboard_keymap, ...).
var mostUsed = []string{
	"hostname",
	"user1", "user1pass", "user1passhash",
	"pubkey_user1", "ssh_pubkey", "pubkey",
	"locale.default", "locale", "default_locale",
	"keyboard_keymap", "keyboard_layout", "keymap",
	"timezone",
}

// byUsage orders variables most-used first (mostUsed; a key matches an
// entry it equals or ends with after a dot), the others after them in the
// order given, their layer's.
func byUsage(vars []form.Var) []form.Var {
	rank := func(key string) int {
		for i, end := range mostUsed {
			if key == end || strings.HasSuffix(key, "."+end) {
				return i
			}
		}
		return len(mostUsed)
	}
	out := slices.Clone(vars)
	slices.SortStableFunc(out, func(a, b form.Var) int { return rank(a.Key) - rank(b.Key) })
	return out
}
