package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The records of real runs (kept with the cause rules' fixtures) are read
// by History; records of the first release have no cause, env or pid, the
// later ones (current) have all three.
func TestHistoryReadsRealRecords(t *testing.T) {
	work := t.TempDir()
	if err := os.MkdirAll(LogDir(work), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("cause", "testdata", "*.json"))
	if err != nil || len(files) != 6 {
		t.Fatalf("fixtures %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(LogDir(work), filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h, err := History(work)
	if err != nil || len(h) != 6 {
		t.Fatalf("History = %d records, %v", len(h), err)
	}
	states := map[State]int{}
	for _, r := range h {
		states[r.State]++
		current := strings.HasSuffix(r.Config, "debian-virt.yaml")
		if (r.Cause != nil) != current || (r.PID != 0) != current || (len(r.Env) > 0) != current || r.Live() {
			t.Errorf("%s: cause %v pid %d env %v live %v", r.Log, r.Cause, r.PID, r.Env, r.Live())
		}
		if r.Elapsed(time.Now()) < 0 {
			t.Errorf("%s: negative duration", r.Log)
		}
	}
	if states[Succeeded] != 1 || states[Failed] != 5 {
		t.Errorf("states %v", states)
	}
}
