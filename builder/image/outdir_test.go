package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/internal/manifest"
)

func TestBuildRefusesForeignOutDir(t *testing.T) {
	fsDir := makeRootfs(t, "")
	parent := t.TempDir()
	out := filepath.Join(parent, "home")
	if err := os.MkdirAll(filepath.Join(out, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "docs", "thesis.txt"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Layout: manifest.LayoutRPiOS, Name: "x", Rand: fixedRand(1)}
	_, err := Build(context.Background(), spec, fsDir, out, nil)
	if !errors.Is(err, ErrOutDirInUse) || !strings.Contains(err.Error(), "is not empty and does not hold an earlier image set; choose another -o") {
		t.Fatalf("err = %v, want ErrOutDirInUse", err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "docs", "thesis.txt")); err != nil || string(b) != "precious" {
		t.Fatalf("user file lost: %q %v", b, err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		t.Errorf("wrote beside the out dir: %v", ents)
	}
	// A plain file is refused too.
	file := filepath.Join(parent, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Build(context.Background(), spec, fsDir, file, nil); !errors.Is(err, ErrOutDirInUse) {
		t.Fatalf("file out: err = %v", err)
	}
}

func TestCheckOutDir(t *testing.T) {
	dir := t.TempDir()
	if err := checkOutDir(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing: %v", err)
	}
	if err := checkOutDir(dir); err != nil {
		t.Errorf("empty: %v", err)
	}
	m := `{"layout":"raid","name":"x","roles":{},"artifacts":[]}`
	os.WriteFile(filepath.Join(dir, manifest.File), []byte(m), 0o644)
	os.WriteFile(filepath.Join(dir, "sdcard.img"), []byte("x"), 0o644)
	if err := checkOutDir(dir); err != nil {
		t.Errorf("earlier image set: %v", err)
	}
	os.WriteFile(filepath.Join(dir, manifest.File), []byte("{not ours"), 0o644)
	if err := checkOutDir(dir); !errors.Is(err, ErrOutDirInUse) {
		t.Errorf("foreign image.json: %v", err)
	}
}

func TestReplaceDirMode(t *testing.T) {
	parent := t.TempDir()
	tmp, err := os.MkdirTemp(parent, ".out.partial-")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(parent, "out")
	if err := replaceDir(tmp, dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v, %v; want 0755", fi.Mode().Perm(), err)
	}
}
