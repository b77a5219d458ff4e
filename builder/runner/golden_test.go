package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pistudio/pistudio/internal/golden"
)

// sampleRecord is a fixed record used by golden tests.
func sampleRecord() Record {
	start := time.Date(2026, 8, 13, 10, 0, 0, 0, time.UTC)
	return Record{
		Config: "/cfg/deb.yaml", ConfigSHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		Stage: "image", ToolDir: "/opt/rpi-image-gen", WorkDir: "/w", ImageName: "deb", ArtefactVersion: "2026-08-13",
		Argv:  []string{"/opt/rpi-image-gen/rpi-image-gen", "build", "-c", "/cfg/deb.yaml", "-S", "/w/.pistudio/layers", "-B", "/w", "-i", "--", "IGconf_artefact_version=2026-08-13"},
		Start: start, End: start.Add(90 * time.Second), ExitStatus: 1, State: Failed,
		Error: "rpi-image-gen exited with status 1",
		Hints: []string{"rpi-image-gen stopped with an error: genimage error (x)"},
		Stages: []StageTiming{
			{Name: "parameter_assembly", Start: start, End: start.Add(time.Second), Duration: time.Second, OK: true},
			{Name: "generate_images", Start: start.Add(time.Second), End: start.Add(90 * time.Second), Duration: 89 * time.Second},
		},
		Artifacts: []Artifact{},
		Log:       "20260813T100000Z-image.log",
	}
}

func TestRecordGolden(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	rec := sampleRecord()
	if err := writeRecord(p, &rec); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "record.golden.json"), got)
	// and History reads it back
	if err := os.MkdirAll(LogDir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p, filepath.Join(LogDir(dir), "x.json")); err != nil {
		t.Fatal(err)
	}
	h, err := History(dir)
	if err != nil || len(h) != 1 || h[0].State != Failed || h[0].Stages[1].Duration != 89*time.Second {
		t.Errorf("History = %+v, %v", h, err)
	}
}
