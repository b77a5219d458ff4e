package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The records of real runs (kept with the cause rules' fixtures) are read
// by History; records of that release have no cause, env or pid.
func TestHistoryReadsRealRecords(t *testing.T) {
	work := t.TempDir()
	if err := os.MkdirAll(LogDir(work), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("cause", "testdata", "*.json"))
	if err != nil || len(files) != 4 {
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
	if err != nil || len(h) != 4 {
		t.Fatalf("History = %d records, %v", len(h), err)
	}
	states := map[State]int{}
	for _, r := range h {
		states[r.State]++
		if r.Cause != nil || r.PID != 0 || r.Live() {
			t.Errorf("%s: cause %v pid %d live %v", r.Log, r.Cause, r.PID, r.Live())
		}
		if r.Elapsed(time.Now()) < 0 {
			t.Errorf("%s: negative duration", r.Log)
		}
	}
	if states[Succeeded] != 1 || states[Failed] != 3 {
		t.Errorf("states %v", states)
	}
}
