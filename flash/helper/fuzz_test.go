package helper

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/source"
)

// FuzzServe feeds the privileged helper arbitrary request streams, as an
// unprivileged client could. Whatever arrives, the helper may only hand
// the writer a block device node directly under /dev, marked as one that
// must be a device, and it answers every malformed line with an error.
func FuzzServe(f *testing.F) {
	dir := f.TempDir()
	img := filepath.Join(dir, "img")
	if err := os.WriteFile(img, bytes.Repeat([]byte{1}, 4096), 0o644); err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		`{"id":"1","op":"disks"}`,
		`{"id":"2","op":"flash","image":"` + img + `","device":"/dev/null","identity":{"major":1,"minor":3}}`,
		`{"id":"3","op":"flash","image":"` + img + `","device":"` + dir + `/out","sha256":true}`,
		`{"id":"4","op":"flash","image":"` + img + `","device":"/dev/../tmp/x","identity":{}}`,
		`{"id":"5","op":"flash","image":"/etc/shadow","device":"/dev/loop0","identity":{"major":7}}`,
		`{"id":"6","op":"cancel"}`,
		`{"op":"flash"}` + "\n" + `not json` + "\n" + `{"id":"7","op":"format"}`,
		`{"id":"8","op":"flash","image":"` + img + `","device":"/dev/shm/link","identity":{"major":7,"minor":0}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	root := disktest.Sample(f).Root
	f.Fuzz(func(t *testing.T, data []byte) {
		var mu sync.Mutex
		var targets []flash.Target
		opts := ServeOptions{Root: root, UID: -1}
		opts.write = func(_ context.Context, _ source.Source, tg flash.Target, _ flash.Options) (*flash.Result, error) {
			mu.Lock()
			targets = append(targets, tg)
			mu.Unlock()
			return &flash.Result{Target: tg.Path}, nil
		}
		var out bytes.Buffer
		if err := Serve(context.Background(), bytes.NewReader(data), &out, opts); err != nil && !strings.Contains(err.Error(), "reading requests") {
			t.Fatalf("Serve: %v", err)
		}
		for _, tg := range targets {
			if !tg.RequireDevice || !devNodeRe.MatchString(tg.Path) {
				t.Fatalf("writer got target %+v from %q", tg, data)
			}
			st, err := os.Stat(tg.Path)
			if err != nil || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
				t.Fatalf("writer got %s, not a block device (%v)", tg.Path, err)
			}
		}
		// Every line that is not JSON is answered with a "malformed" error.
		malformed := 0
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			var req Request
			if line != "" && json.Unmarshal([]byte(line), &req) != nil {
				malformed++
			}
		}
		if got := strings.Count(out.String(), "malformed request"); malformed > 0 && got < malformed && len(data) < 60<<10 {
			t.Fatalf("%d malformed lines, %d answered: %q", malformed, got, out.String())
		}
	})
}
