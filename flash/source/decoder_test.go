package source

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

// withoutPrograms hides the xz and zstd programs, so that Open decodes
// in Go, until the test ends.
func withoutPrograms(t *testing.T) {
	old := lookPath
	lookPath = func(string) (string, error) { return "", exec.ErrNotFound }
	t.Cleanup(func() { lookPath = old })
}

// TestDecodersProgramAndGo opens xz and zstd images with the decoding
// programs and with the Go decoders: both give the image, and both turn
// a corrupt file into an error naming the format.
func TestDecodersProgramAndGo(t *testing.T) {
	dir := t.TempDir()
	data := testData(5 << 20)
	raw := filepath.Join(dir, "d.img")
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, "", "xz", "-k", "-T2", "--block-size=1MiB", raw)
	sourcetest.Run(t, "", "zstd", "-q", "-k", raw)
	// A long-window frame: the zstd program refuses it unless allowed
	// more memory than its default 128 MiB.
	sourcetest.Run(t, "", "zstd", "-q", "--long=30", "-o", raw+".long.zst", raw)
	corrupt := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x55
		b[len(b)/2+1] ^= 0xaa
		out := filepath.Join(dir, "bad-"+filepath.Base(p))
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return out
	}
	good := map[string]string{"xz": raw + ".xz", "zstd": raw + ".zst", "zstd long window": raw + ".long.zst"}
	bad := map[string]string{"xz": corrupt(raw + ".xz"), "zstd": corrupt(raw + ".zst")}
	for _, mode := range []string{"program", "go"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "go" {
				withoutPrograms(t)
			}
			for name, p := range good {
				src, err := Open(p)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, _ := expand(t, src)
				src.Close()
				if !bytes.Equal(got, data) {
					t.Errorf("%s: content differs", name)
				}
			}
			for name, p := range bad {
				src, err := Open(p)
				if err == nil {
					_, err = drain(src)
					src.Close()
				}
				if err == nil || !strings.Contains(err.Error(), strings.Fields(name)[0]) {
					t.Errorf("%s: corrupt file gave %v, want an error naming the format", name, err)
				} else if !errors.Is(err, ErrFormat) {
					t.Errorf("%s: %v is not ErrFormat", name, err)
				}
			}
		})
	}
}

// TestCloseDuringRead closes a source whose decoding process is still
// being read by another goroutine (what the writer does when it gives up
// on a stalled read): the process is reaped once, the read ends, and its
// error is not taken for a malformed image.
func TestCloseDuringRead(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "z.img")
	if err := os.WriteFile(raw, make([]byte, 256<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, "", "zstd", "-q", "-1", raw)
	for i := 0; i < 20; i++ {
		src, err := Open(raw + ".zst")
		if err != nil {
			t.Fatal(err)
		}
		_, r, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, r)
			done <- err
		}()
		time.Sleep(time.Duration(i) * 3 * time.Millisecond)
		src.Close()
		if err := <-done; errors.Is(err, ErrFormat) {
			t.Errorf("read after Close: %v, a format error", err)
		}
	}
}
