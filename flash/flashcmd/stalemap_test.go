package flashcmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlashStaleMapBeside flashes an image whose .bmap beside it predates
// a change in an unmapped block: the map is ignored with a warning and
// the whole image is written; named explicitly, the map is used and the
// result says so.
func TestFlashStaleMapBeside(t *testing.T) {
	img, _ := testImage(t)
	sh(t, "", "bmaptool", "create", "-o", img+".bmap", img)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("changed after the map"), 11<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(img, later, later); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.img")
	stdout, stderr, err := runCmd(t, defaultSystem().runFlash, "", img, out)
	if err != nil {
		t.Fatalf("flash: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "warning: the block map "+img+".bmap was ignored: it is older than the image") || strings.Contains(stdout, "Used the block map") {
		t.Errorf("output does not say the map was ignored:\n%s%s", stdout, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Fatal("the written file lacks the change the stale map leaves out")
	}
	out2 := filepath.Join(t.TempDir(), "out.img")
	stdout, stderr, err = runCmd(t, defaultSystem().runFlash, "", img+".bmap", out2)
	if err != nil {
		t.Fatalf("flash: %v\n%s%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "Used the block map "+img+".bmap") {
		t.Errorf("output does not name the map used:\n%s%s", stdout, stderr)
	}
}
