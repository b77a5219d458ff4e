package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The pinned artefact version is per config: a second config built in the
// same work dir does not inherit the first one's version; the old single
// file is still read as a fallback.
func TestVersionPerConfig(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	day1 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	day2 := day1.Add(48 * time.Hour)
	v, err := resolveVersion(Job{Config: a, WorkDir: work, Stage: StageFilesystem}, day1)
	if err != nil || v != "2026-01-01" {
		t.Fatalf("a: %q %v", v, err)
	}
	v, err = resolveVersion(Job{Config: b, WorkDir: work, Stage: StageFilesystem}, day2)
	if err != nil || v != "2026-01-03" {
		t.Fatalf("b inherited a's version: %q %v", v, err)
	}
	if v, _ := resolveVersion(Job{Config: a, WorkDir: work, Stage: StageImage}, day2); v != "2026-01-01" {
		t.Errorf("a image: %q", v)
	}
	if v, _ := resolveVersion(Job{Config: b, WorkDir: work, Stage: StageImage}, day2); v != "2026-01-03" {
		t.Errorf("b image: %q", v)
	}
	if ConfigVersionFile(work, a) == ConfigVersionFile(work, b) || filepath.Dir(ConfigVersionFile(work, a)) != filepath.Join(work, ".pistudio") {
		t.Errorf("files %s %s", ConfigVersionFile(work, a), ConfigVersionFile(work, b))
	}
	// Legacy: only the old single file.
	old := filepath.Join(dir, "old")
	os.MkdirAll(filepath.Join(old, ".pistudio"), 0o755)
	os.WriteFile(VersionFile(old), []byte("v9\n"), 0o644)
	if v, ok := RecordedConfigVersion(old, a); !ok || v != "v9" {
		t.Errorf("fallback: %q %v", v, ok)
	}
}
