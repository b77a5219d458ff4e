// Package devscope limits which device nodes the disk scan may open, for
// tests that share a machine with other users of loop devices.
//
// By default every device is in scope. A test binary that calls Restrict
// (flash/disk/disktest does, when a test attaches a loop device) limits
// the scan's opens — loop status queries and the busy probe — to the
// devices it has allowed; the scan then treats every other loop device as
// if it did not exist. Programs never call Restrict.
package devscope

import "sync"

var (
	mu         sync.Mutex
	restricted bool
	allowed    = map[string]int{}
)

// Restrict limits opens to the allowed devices from now on.
func Restrict() {
	mu.Lock()
	defer mu.Unlock()
	restricted = true
}

// Allow restricts opens and adds the device node path (e.g. /dev/loop3)
// to the allowed ones; each Allow is undone by one Forget.
func Allow(path string) {
	mu.Lock()
	defer mu.Unlock()
	restricted = true
	allowed[path]++
}

// Forget undoes one Allow of path.
func Forget(path string) {
	mu.Lock()
	defer mu.Unlock()
	if allowed[path] <= 1 {
		delete(allowed, path)
		return
	}
	allowed[path]--
}

// Allowed reports whether the device node path may be opened.
func Allowed(path string) bool {
	mu.Lock()
	defer mu.Unlock()
	return !restricted || allowed[path] > 0
}
