package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pistudio/pistudio/internal/imager"
)

func TestWriteImagerManifest(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "deb.img")
	data := []byte("an image")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := writeImagerManifest(Artifact{Path: img, Name: "deb.img", Kind: KindDiskImage}, "deb", "cloudinit", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := imager.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	e := m.OSList[0]
	if p != filepath.Join(dir, "deb"+imager.Ext) || e.InitFormat != "cloudinit" || e.ExtractSHA256 != hex.EncodeToString(sum[:]) ||
		e.ExtractSize != int64(len(data)) || e.URL != imager.FileURL(img) {
		t.Errorf("manifest %s: %+v", p, e)
	}
}
