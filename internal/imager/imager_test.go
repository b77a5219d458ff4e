package imager

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFind(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "my image.img.xz")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Manifest{OSList: []OS{{Name: "x", URL: FileURL(img), InitFormat: InitCloudInit, ExtractSize: 5}}}
	mp := filepath.Join(dir, "x"+Ext)
	if err := Write(mp, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk"+Ext), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, p, err := Find(img)
	if err != nil || p != mp || e.InitFormat != InitCloudInit || e.ExtractSize != 5 {
		t.Fatalf("Find = %+v %q %v", e, p, err)
	}
	if _, _, err := Find(filepath.Join(dir, "other.img")); !errors.Is(err, ErrNotListed) {
		t.Errorf("unlisted image: %v", err)
	}
	if got := FormatOfLayers([]string{"base", "firstboot-rpi-preseed"}); got != InitRPiPreseed {
		t.Errorf("FormatOfLayers = %s", got)
	}
	if got := FormatOfLayers(nil); got != InitNone {
		t.Errorf("no layers: %s", got)
	}
}
