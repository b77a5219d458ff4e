package runner

import (
	"errors"
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
	if err != nil || v != "2026-01-01-a" {
		t.Fatalf("a: %q %v", v, err)
	}
	v, err = resolveVersion(Job{Config: b, WorkDir: work, Stage: StageFilesystem}, day2)
	if err != nil || v != "2026-01-03-b" {
		t.Fatalf("b inherited a's version: %q %v", v, err)
	}
	if v, _ := resolveVersion(Job{Config: a, WorkDir: work, Stage: StageImage}, day2); v != "2026-01-01-a" {
		t.Errorf("a image: %q", v)
	}
	if v, _ := resolveVersion(Job{Config: b, WorkDir: work, Stage: StageImage}, day2); v != "2026-01-03-b" {
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

// Two configs built into one work dir on the same day get their own
// chroot folders; a version pinned by two configs is refused before the
// second one overwrites the first one's root filesystem.
func TestVersionUniquePerConfig(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	day := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	a, b := filepath.Join(dir, "deb.yaml"), filepath.Join(dir, "raid config.yaml")
	va, err := resolveVersion(Job{Config: a, WorkDir: work, Stage: StageFull}, day)
	if err != nil {
		t.Fatal(err)
	}
	vb, err := resolveVersion(Job{Config: b, WorkDir: work, Stage: StageFilesystem}, day)
	if err != nil {
		t.Fatal(err)
	}
	if va == vb || va != "2026-12-07-deb" || vb != "2026-12-07-raid-config" {
		t.Errorf("versions %q and %q", va, vb)
	}
	c := filepath.Join(dir, "c.yaml")
	_, err = resolveVersion(Job{Config: c, WorkDir: work, Stage: StageFilesystem, ArtefactVersion: va}, day)
	if !errors.Is(err, ErrVersionInUse) || !errors.Is(err, ErrInvalidJob) {
		t.Errorf("c pinned a's version: %v", err)
	}
	if _, err := os.Stat(ConfigVersionFile(work, c)); err == nil {
		t.Error("a refused version was recorded")
	}
	// the same config again is fine
	if v, err := resolveVersion(Job{Config: a, WorkDir: work, Stage: StageFilesystem}, day.Add(72*time.Hour)); err != nil || v != va {
		t.Errorf("a again: %q %v", v, err)
	}
}
