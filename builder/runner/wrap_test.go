package runner

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

// Start keeps the cause's type: a missing config is both ErrInvalidJob
// and fs.ErrNotExist.
func TestStartErrorKeepsCause(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(context.Background(), Job{Config: filepath.Join(dir, "missing.yaml"), WorkDir: dir, Stage: StageFilesystem}, Options{})
	if !errors.Is(err, ErrInvalidJob) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want ErrInvalidJob wrapping fs.ErrNotExist", err)
	}
}
