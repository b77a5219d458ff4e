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

	"github.com/pistudio/pistudio/builder/runner/cause"
	"github.com/pistudio/pistudio/internal/atomicfile"
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
	// Reused is true when an earlier build's output stood in for the
	// stage (an unchanged filesystem).
	Reused bool `json:"reused,omitempty"`
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
	Firstboot string   `json:"firstboot,omitempty"`
	Argv      []string `json:"argv"`
	// Overrides are the job's KEY=VALUE overrides (also in Argv).
	Overrides []string `json:"overrides,omitempty"`
	// Env holds the environment variables the tool reads that are not
	// IGconf_* (GENIMAGE_VER, IG_OFFLINE, PIP_NO_DEPS, IG_*...): with Argv
	// they reproduce the run.
	Env map[string]string `json:"env,omitempty"`
	// PID is the process that ran the build; History uses it to tell a
	// running build from one whose process died.
	PID        int       `json:"pid,omitempty"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	ExitStatus int       `json:"exit_status"`
	State      State     `json:"state"`
	Error      string    `json:"error,omitempty"`
	Hints      []string  `json:"hints,omitempty"`
	// Cause is the one reason a failed run failed.
	Cause *cause.Cause `json:"cause,omitempty"`
	// Reused is the log of the earlier run whose filesystem this run
	// reused instead of building one.
	Reused    string        `json:"reused_filesystem_of,omitempty"`
	Stages    []StageTiming `json:"stages"`
	Artifacts []Artifact    `json:"artifacts"`
	Log       string        `json:"log"`
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
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o644); err != nil {
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

// recordedEnvNames are variables outside IG_* the tool reads.
var recordedEnvNames = map[string]bool{"GENIMAGE_VER": true, "PIP_NO_DEPS": true, "PIP_INDEX_URL": true, "SOURCE_DATE_EPOCH": true}

// RecordedEnv picks from env (KEY=VALUE) the variables that change what
// the tool does: IG_* (IG_OFFLINE...) and those in recordedEnvNames.
// IGconf_* are never passed to the tool and are not recorded.
func RecordedEnv(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "IG_") || recordedEnvNames[k]) && k != markerVar {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Elapsed is how long the run took, or for a run still going, how long it
// has run until now.
func (r Record) Elapsed(now time.Time) time.Duration {
	if r.End.IsZero() {
		return now.Sub(r.Start)
	}
	return r.End.Sub(r.Start)
}

// Live reports whether a record in state Running belongs to a build whose
// process is still alive (its PID exists). Records of older releases
// without a PID count as live.
func (r Record) Live() bool {
	if r.State != Running {
		return false
	}
	if r.PID <= 0 {
		return true
	}
	_, err := os.Stat(fmt.Sprintf("/proc/%d", r.PID))
	return err == nil
}
