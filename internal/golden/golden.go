// Package golden compares generated output (an edited config, a run
// record, raid_config.sh, md superblocks) with a file kept under testdata.
// Every package's golden files are refreshed the same way:
//
//	PISTUDIO_UPDATE_GOLDEN=1 go test ./...
//
// then review the diff before committing it. Command-line behaviour is
// pinned by scripts instead (internal/cli/clitest).
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// UpdateEnv is the environment variable that rewrites golden files.
const UpdateEnv = "PISTUDIO_UPDATE_GOLDEN"

// Check reports, as a test error, whether got differs from the file at
// path; with UpdateEnv set it writes got to path first.
func Check(t testing.TB, path string, got []byte) bool {
	t.Helper()
	if os.Getenv(UpdateEnv) != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (%s=1 go test creates it)", err, UpdateEnv)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (%s=1 go test rewrites it; review the diff):\n--- got\n%s\n--- want\n%s", path, UpdateEnv, clip(got), clip(want))
		return false
	}
	return true
}

// clip keeps a message readable for binary or long output.
func clip(b []byte) string {
	if len(b) > 4000 || bytes.IndexByte(b, 0) >= 0 {
		return "(binary or long output: compare the files)"
	}
	return string(b)
}
