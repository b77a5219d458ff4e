package adapt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/pistudio/pistudio/builder/buildjob"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/gui/backend"
	"github.com/pistudio/pistudio/internal/manifest"
)

// Runner starts builds with builder/runner.
type Runner struct{}

// Stage names of rpi-image-gen, in order.
var (
	stagesFS    = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "deploy"}
	stagesImage = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_images", "deploy"}
	stagesFull  = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "generate_images", "deploy"}
)

// Stages lists the stages rpi-image-gen prints for a mode.
func (Runner) Stages(m backend.Mode) []string {
	switch m {
	case backend.ModeFilesystem:
		return append([]string(nil), stagesFS...)
	case backend.ModeImage:
		return append([]string(nil), stagesImage...)
	}
	return append([]string(nil), stagesFull...)
}

// WorkDir returns workDir, or the default for config when it is empty.
func (Runner) WorkDir(config, workDir string) string {
	if workDir != "" || config == "" {
		return workDir
	}
	return DefaultWorkDir(config)
}

// DefaultWorkDir is the work dir of a config when none is set: work/ next
// to the config file.
func DefaultWorkDir(config string) string {
	return filepath.Join(filepath.Dir(config), "work")
}

// Start builds the job with buildjob.New, exactly as `pistudio build`
// does (raid sets get the native image stage), and starts the runner.
func (Runner) Start(ctx context.Context, job backend.Job) (backend.Run, error) {
	stage := runner.StageFull
	switch job.Mode {
	case backend.ModeFilesystem:
		stage = runner.StageFilesystem
	case backend.ModeImage:
		stage = runner.StageImage
	}
	work := job.WorkDir
	if work == "" {
		work = DefaultWorkDir(job.Config)
	}
	rj, err := buildjob.New(job.Config, stage, buildjob.Options{ToolDir: job.ToolDir, WorkDir: work})
	if err != nil {
		return nil, err
	}
	r, err := runner.Start(ctx, rj, runner.Options{})
	if err != nil {
		return nil, err
	}
	out := &run{r: r, events: make(chan backend.Event, 256)}
	go out.forward()
	return out, nil
}

// run adapts a *runner.Run.
type run struct {
	r      *runner.Run
	events chan backend.Event
}

func (r *run) Events() <-chan backend.Event { return r.events }
func (r *run) Cancel()                      { r.r.Cancel() }
func (r *run) LogPath() string              { return r.r.LogPath() }

func (r *run) forward() {
	defer close(r.events)
	for ev := range r.r.Events() {
		switch ev.Kind {
		case runner.EventLog:
			r.events <- backend.Event{Kind: backend.EventLog, Line: ev.Text, Explain: ev.Explain}
		case runner.EventStageStarted:
			r.events <- backend.Event{Kind: backend.EventStageStarted, Stage: ev.Stage}
		case runner.EventStageFinished:
			r.events <- backend.Event{Kind: backend.EventStageFinished, Stage: ev.Stage, Duration: ev.Duration, StageFailed: !ev.OK && !ev.Cancelled, StageCancelled: ev.Cancelled}
		case runner.EventDropped:
			r.events <- backend.Event{Kind: backend.EventDropped, Dropped: ev.Dropped}
		case runner.EventFinished:
			r.events <- finished(ev.Result)
			return
		}
	}
	// The stream ended without a result: report what Wait says.
	res := r.r.Wait()
	r.events <- finished(&res)
}

func finished(res *runner.Result) backend.Event {
	ev := backend.Event{Kind: backend.EventFinished, Outcome: backend.Failed}
	if res == nil {
		ev.Err = errors.New("the build ended without a result")
		return ev
	}
	switch res.State {
	case runner.Succeeded:
		ev.Outcome = backend.Succeeded
	case runner.Cancelled:
		ev.Outcome = backend.Cancelled
	}
	ev.Err = res.Err
	if ev.Err == nil && ev.Outcome == backend.Failed {
		ev.Err = fmt.Errorf("%s exited with status %d", "rpi-image-gen", res.ExitStatus)
	}
	var m *manifest.Manifest
	if len(res.Artifacts) > 0 {
		dir := filepath.Dir(res.Artifacts[0].Path)
		if mm, err := manifest.Read(dir); err == nil {
			m = mm
			if m.Layout == manifest.LayoutRAID {
				ev.RaidSet = dir
			}
		}
	}
	for _, a := range res.Artifacts {
		ba := backend.Artifact{Path: a.Path, Size: a.Size, Flashable: a.Kind == runner.KindDiskImage || a.Kind == runner.KindSparse}
		if m != nil {
			if ma := m.Artifact(filepath.Base(a.Path)); ma != nil {
				ba.Role = ma.Role
			}
		}
		ev.Artifacts = append(ev.Artifacts, ba)
	}
	return ev
}
