package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// StageTiming is how long one stage of a run took.
type StageTiming struct {
	Name     string        `json:"name"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration_ns"`
	OK       bool          `json:"ok"`
	// Cancelled is true when a cancel stopped the stage.
	Cancelled bool `json:"cancelled,omitempty"`
}

// Record is the JSON file written beside each run's log.
type Record struct {
	Config          string `json:"config"`
	ConfigSHA256    string `json:"config_sha256"`
	Stage           string `json:"stage"`
	ToolDir         string `json:"tool_dir"`
	WorkDir         string `json:"work_dir"`
	ImageName       string `json:"image_name,omitempty"`
	ArtefactVersion string `json:"artefact_version,omitempty"`
	// Firstboot is the image's first-boot settings reader ("cloudinit",
	// "rpi-preseed", "none").
	Firstboot  string        `json:"firstboot,omitempty"`
	Argv       []string      `json:"argv"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	ExitStatus int           `json:"exit_status"`
	State      State         `json:"state"`
	Error      string        `json:"error,omitempty"`
	Hints      []string      `json:"hints,omitempty"`
	Stages     []StageTiming `json:"stages"`
	Artifacts  []Artifact    `json:"artifacts"`
	Log        string        `json:"log"`
	// Path is where the record was read from; not stored.
	Path string `json:"-"`
}

// LogDir returns the folder of run logs and records: <work>/logs.
func LogDir(workDir string) string { return filepath.Join(workDir, "logs") }

// newLogPaths picks <work>/logs/<UTC time>-<stage>.log and .json that do
// not exist yet.
func newLogPaths(workDir, stage string, t time.Time) (logPath, recPath string, err error) {
	dir := LogDir(workDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("creating log dir: %w", err)
	}
	base := t.UTC().Format("20060102T150405Z") + "-" + stage
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		logPath = filepath.Join(dir, name+".log")
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", "", fmt.Errorf("creating log: %w", err)
		}
		f.Close()
		return logPath, filepath.Join(dir, name+".json"), nil
	}
}

func writeRecord(path string, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding run record: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing run record: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing run record: %w", err)
	}
	return nil
}

// History reads the run records in <workDir>/logs, oldest first. A
// missing logs folder is an empty history; unreadable records are skipped.
func History(workDir string) ([]Record, error) {
	dir := LogDir(workDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading run history: %w", err)
	}
	var out []Record
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var r Record
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		r.Path = p
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}
