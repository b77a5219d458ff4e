package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealTool runs the first stages of a real rpi-image-gen checkout
// named by PISTUDIO_REAL_RPI_IMAGE_GEN and cancels before anything is
// downloaded: it checks that the tool accepts our command line, that its
// stage headers are parsed and that the pinned version reaches it.
func TestRealTool(t *testing.T) {
	dir := os.Getenv("PISTUDIO_REAL_RPI_IMAGE_GEN")
	if dir == "" {
		t.Skip("set PISTUDIO_REAL_RPI_IMAGE_GEN to an rpi-image-gen checkout")
	}
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "deb.yaml")
	body := "device:\n  layer: rpi5\nimage:\n  layer: image-rpios\n  name: deb13-test\nlayer:\n  base: trixie-minbase\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	job := Job{Config: cfg, Stage: StageFilesystem, ToolDir: dir, WorkDir: filepath.Join(tmp, "work"), ImageName: "deb13-test", ArtefactVersion: "pinned-1"}
	r, err := Start(context.Background(), job, Options{KillGrace: time.Second, SkipChecks: []string{CheckBinfmt, CheckPrivileges, CheckWorkDir}})
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	sawVersion := false
	for e := range r.Events() {
		switch e.Kind {
		case EventStageStarted:
			stages = append(stages, e.Stage)
			if e.Stage == "prepare_build_config" {
				r.Cancel() // before host tools are downloaded
			}
		case EventLog:
			if strings.Contains(e.Text, "IGconf_artefact_version") && strings.Contains(e.Text, "pinned-1") {
				sawVersion = true
			}
		}
	}
	res := r.Wait()
	b, _ := os.ReadFile(res.LogPath)
	t.Logf("state %s exit %d stages %v\n%s", res.State, res.ExitStatus, stages, tailString(string(b), 3000))
	if len(stages) == 0 && strings.Contains(string(b), "Required dependencies") {
		t.Skip("the checkout's host dependencies are not installed (the command line was accepted)")
	}
	if len(stages) < 2 || stages[0] != "parameter_assembly" || stages[1] != "collect_layers" {
		t.Errorf("stages = %v", stages)
	}
	if !sawVersion {
		t.Error("pinned version not seen in the tool's output")
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
