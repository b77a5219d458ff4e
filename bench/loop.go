package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// loopSet holds the loop devices this program attached. It is the only
// way the bench gets a block device, and every command that writes one
// checks with owns first.
type loopSet struct {
	mu   sync.Mutex
	devs map[string]string // device → backing file
}

var loopRe = regexp.MustCompile(`^/dev/loop[0-9]+$`)

// attach attaches file to a free loop device (`losetup -f --show FILE`).
func (l *loopSet) attach(file string) (string, error) {
	out, err := exec.Command("losetup", "-f", "--show", file).Output()
	if err != nil {
		return "", fmt.Errorf("losetup -f --show %s: %w%s", file, err, stderrOf(err))
	}
	dev := strings.TrimSpace(string(out))
	if !loopRe.MatchString(dev) {
		return "", fmt.Errorf("losetup printed %q, not a loop device", dev)
	}
	l.mu.Lock()
	if l.devs == nil {
		l.devs = map[string]string{}
	}
	l.devs[dev] = file
	l.mu.Unlock()
	return dev, nil
}

// owns reports whether dev was attached by this program and is still attached.
func (l *loopSet) owns(dev string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.devs[dev]
	return ok
}

// detach detaches dev (retrying while udev or the kernel still holds it).
func (l *loopSet) detach(dev string) error {
	if !l.owns(dev) {
		return fmt.Errorf("refusing to detach %s: not attached by this program", dev)
	}
	var err error
	for i := 0; i < 50; i++ {
		var out []byte
		out, err = exec.Command("losetup", "-d", dev).CombinedOutput()
		if err == nil {
			break
		}
		err = fmt.Errorf("losetup -d %s: %w: %s", dev, err, strings.TrimSpace(string(out)))
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil {
		l.mu.Lock()
		delete(l.devs, dev)
		l.mu.Unlock()
	}
	return err
}

// detachAll detaches everything still attached and removes the backing files.
func (l *loopSet) detachAll() {
	l.mu.Lock()
	var devs []string
	files := map[string]string{}
	for d, f := range l.devs {
		devs = append(devs, d)
		files[d] = f
	}
	l.mu.Unlock()
	for _, d := range devs {
		if err := l.detach(d); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
			continue
		}
		os.Remove(files[d])
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}
