package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadNotImageSet(t *testing.T) {
	dir := t.TempDir()
	_, err := Read(dir)
	if !errors.Is(err, ErrNotImageSet) {
		t.Fatalf("Read of an empty folder: %v, want ErrNotImageSet", err)
	}
	var me *Error
	if !errors.As(err, &me) || me.Path != dir {
		t.Fatalf("error %v does not name the folder %s", err, dir)
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	m := &Manifest{Layout: LayoutRAID, Name: "x", Level: "RAID1", Devices: 1,
		Artifacts: []Artifact{{File: "a.img", Kind: KindDisk, Role: "sd", Size: 512}},
		Roles:     map[string]string{"sd": "a.img"}}
	if err := Write(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "x" || got.Artifact("a.img") == nil || got.Artifact("b.img") != nil {
		t.Fatalf("round trip: %+v", got)
	}
	bad := []string{`{"layout":"nope"}`, `{"layout":"raid","roles":{"sd":"missing.img"}}`, `{`}
	for _, b := range bad {
		if err := os.WriteFile(filepath.Join(dir, File), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(dir); err == nil || errors.Is(err, ErrNotImageSet) {
			t.Errorf("Read(%s) = %v, want a format error", b, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"layout":"raid","name":"x","artifacts":[{"file":"a.img","kind":"disk-image"}],"roles":{"sd":"a.img"}}`))
	f.Add([]byte(`{"layout":"image-rpios"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, File), b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Read(dir)
		if err != nil {
			return
		}
		for _, f := range m.Roles {
			if m.Artifact(f) == nil {
				t.Fatal("role names a missing artifact")
			}
		}
	})
}
