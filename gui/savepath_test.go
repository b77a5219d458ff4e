package gui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// pressShift sends a Ctrl+Shift shortcut to the window.
func (h *harness) pressShift(k fyne.KeyName) {
	h.w.Canvas().(fyne.Shortcutable).TypedShortcut(shiftShortcut(k))
}

// savePathTo types p into a new "save as path" question and taps Save.
func (h *harness) savePathTo(p string) *savePathAsk {
	h.t.Helper()
	h.pressShift(fyne.KeyS)
	a := h.g.cfg.savePath
	if a == nil || h.w.Canvas().Focused() != a.entry {
		h.t.Fatal("no focused save path field")
	}
	a.entry.SetText(p)
	test.Tap(findButton(h.t, h.w.Canvas().Overlays().Top(), "Save"))
	return a
}

// TestSaveToTypedPath: Ctrl+Shift+S saves to a typed path; a folder that
// does not exist is refused with a message, an existing file is replaced
// only once the user confirms.
func TestSaveToTypedPath(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	h.field(keyHostname).entry.SetText("typed")

	missing := filepath.Join(h.work, "no-such-folder", "x.yaml")
	first := h.savePathTo(missing)
	h.waitFor("the question again", func() bool { return h.g.cfg.savePath != first })
	a := h.g.cfg.savePath
	if !a.problem.Visible() || !strings.Contains(a.problem.Text, "does not exist") || a.entry.Text != missing {
		t.Errorf("problem %v %q, text %q", a.problem.Visible(), a.problem.Text, a.entry.Text)
	}
	if _, err := os.Stat(filepath.Dir(missing)); err == nil {
		t.Fatal("the folder was created")
	}
	h.escape()

	p := filepath.Join(h.work, "typed.yaml")
	h.savePathTo(p)
	h.waitFor("save", func() bool { return h.g.cfg.path == p && !h.g.cfg.dirty })
	if b, err := os.ReadFile(p); err != nil || !strings.Contains(string(b), "typed") {
		t.Fatalf("saved %q, %v", b, err)
	}

	other := filepath.Join(h.work, "other.yaml")
	if err := os.WriteFile(other, []byte("keep: me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a = h.savePathTo("  " + other + " ")
	h.waitFor("the replace question", func() bool { return a.replace != nil })
	h.escape() // no
	h.pump(0)
	if b, _ := os.ReadFile(other); string(b) != "keep: me\n" || h.g.cfg.path != p {
		t.Fatalf("replaced without asking: %q, path %s", b, h.g.cfg.path)
	}
	a = h.savePathTo(other)
	h.waitFor("the replace question", func() bool { return a.replace != nil })
	a.replace.Confirm()
	h.waitFor("save", func() bool { return h.g.cfg.path == other })
	if b, _ := os.ReadFile(other); !strings.Contains(string(b), "typed") {
		t.Errorf("not replaced: %q", b)
	}
}

// TestSaveTargetChecks: relative paths and folders are refused.
func TestSaveTargetChecks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path, want string
		exists     bool
	}{
		{"config.yaml", "not a full path", false},
		{dir, "is a folder", false},
		{filepath.Join(dir, "new.yaml"), "", false},
		{filepath.Join(dir, "gone", "new.yaml"), "does not exist", false},
	} {
		exists, err := statSaveTarget(tc.path)
		if exists != tc.exists || (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v %v, want %v %q", tc.path, exists, err, tc.exists, tc.want)
		}
	}
}
