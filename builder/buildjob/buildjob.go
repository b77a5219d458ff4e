// Package buildjob turns a config file into the runner job that builds it,
// the one way both the CLI and the GUI start builds: it finds
// rpi-image-gen, reads image.name and the artefact version from the
// config, and decides which engine makes the images. The raid layout is
// always built by the native image stage (genimage has no md RAID);
// image-rpios uses it when the user picks the native engine.
package buildjob

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/image"
	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/builder/runner"
)

// Engine selects what makes the images in the image stage.
type Engine string

const (
	// EngineAuto uses the native stage where it is the only one that can
	// build the layout (raid), and rpi-image-gen's own -i otherwise.
	EngineAuto Engine = ""
	// EngineNative uses the native stage for raid and image-rpios.
	EngineNative Engine = "native"
	// EngineTool uses rpi-image-gen's -i (genimage); raid cannot use it.
	EngineTool Engine = "rpi-image-gen"
)

// ParseEngine reads an engine name as the CLI and settings spell it.
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "", "auto":
		return EngineAuto, nil
	case "native":
		return EngineNative, nil
	case "rpi-image-gen", "genimage", "tool":
		return EngineTool, nil
	}
	return EngineAuto, fmt.Errorf("engine %q: want auto, native or rpi-image-gen", s)
}

// Options say where things are; the zero value means "defaults".
type Options struct {
	// ToolDir is the --rpi-image-gen value; empty means search
	// ($PISTUDIO_RPI_IMAGE_GEN, PATH, ~/rpi-image-gen).
	ToolDir string
	// Getenv looks up the environment for the tool search; nil: os.Getenv.
	Getenv func(string) string
	// WorkDir is the build dir (-B); default "work".
	WorkDir string
	// SourceDirs are extra layer source dirs (-S).
	SourceDirs []string
	// Overrides are KEY=VALUE pairs passed after --.
	Overrides []string
	// Engine picks the image engine.
	Engine Engine
	// Progress, when set, also receives the native stage's progress.
	Progress func(image.Progress)
}

// ErrConfig marks errors in reading the config (as opposed to a missing
// tool); the CLI exits 2 for them.
var ErrConfig = errors.New("config")

// New returns the job that builds stage of the config at cfgPath.
// A missing rpi-image-gen is an error wrapping runner.ErrToolNotFound,
// except for an image-only job the native stage runs alone.
func New(cfgPath string, stage runner.Stage, o Options) (runner.Job, error) {
	cfg, err := config.LoadConfig(cfgPath)
	if err != nil {
		return runner.Job{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		return runner.Job{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	work := o.WorkDir
	if work == "" {
		work = "work"
	}
	if work, err = filepath.Abs(work); err != nil {
		return runner.Job{}, fmt.Errorf("work dir: %w", err)
	}
	job := runner.Job{
		Config: abs, Stage: stage, WorkDir: work,
		SourceDirs: append([]string(nil), o.SourceDirs...),
		Overrides:  append([]string(nil), o.Overrides...),
	}
	// Includes are searched next to the config, then in the config/ dirs
	// of the -S dirs and of the tool, as rpi-image-gen does.
	toolDir, toolErr := runner.FindTool(o.ToolDir, o.Getenv)
	for _, d := range o.SourceDirs {
		cfg.IncludePath = append(cfg.IncludePath, filepath.Join(d, "config"))
	}
	if toolErr == nil {
		cfg.IncludePath = append(cfg.IncludePath, filepath.Join(toolDir, "config"))
	}
	// The merged include chain plus the overrides: what the build sees.
	vars, err := cfg.MergedVars(o.Overrides)
	if err != nil {
		return runner.Job{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if v, ok := vars["IGconf_image_name"]; ok && v.Value != "" && !layers.IsDynamic(v.Value) {
		job.ImageName = v.Value
	}
	job.Firstboot = image.FirstbootOf(vars)
	if v, ok := vars[runner.VersionKey]; ok && v.Value != "" && !layers.IsDynamic(v.Value) {
		job.ArtefactVersion = v.Value
	}
	if stage == runner.StageFull || stage == runner.StageImage {
		native, err := useNative(vars, cfg.Path, o.Engine)
		if err != nil {
			return runner.Job{}, err
		}
		if native {
			spec, err := image.SpecFromVars(vars, cfg.Path)
			if err != nil {
				return runner.Job{}, fmt.Errorf("%w: %w", ErrConfig, err)
			}
			job.ImageName = spec.Name
			job.NativeImage = Hook(spec, o.Progress)
		}
	}
	job.ToolDir = toolDir
	if toolErr != nil && !(stage == runner.StageImage && job.NativeImage != nil) {
		return runner.Job{}, toolErr
	}
	return job, nil
}

// useNative reports whether the image stage of the merged config vars
// (of the config file) runs natively.
func useNative(vars map[string]config.VarValue, file string, e Engine) (bool, error) {
	layer := vars["IGconf_image_layer"].Value
	switch {
	case layer == "raid" && e == EngineTool:
		return false, fmt.Errorf("%w: %s: the raid layout is built by the native image stage only (genimage has no md RAID support)", ErrConfig, file)
	case layer == "raid":
		return true, nil
	case e == EngineNative && layer == "image-rpios":
		return true, nil
	case e == EngineNative:
		return false, fmt.Errorf("%w: %s: image.layer %q: the native image stage builds raid and image-rpios only", ErrConfig, file, layer)
	}
	return false, nil
}

// Hook returns a runner.Job NativeImage hook that builds spec's images
// from stage 1's filesystem with the native image stage.
func Hook(spec image.Spec, progress func(image.Progress)) func(context.Context, runner.NativeDirs, func(string)) ([]runner.Artifact, error) {
	return func(ctx context.Context, dirs runner.NativeDirs, logf func(string)) ([]runner.Artifact, error) {
		logf(fmt.Sprintf("native image stage: %s layout %q from %s", spec.Layout, spec.Name, dirs.Filesystem))
		_, err := image.Build(ctx, spec, dirs.Filesystem, dirs.Image, func(p image.Progress) {
			msg := strings.TrimSpace(p.Message)
			logf(fmt.Sprintf("[%d/%d] %s: %s", p.Done, p.Total, p.Stage, msg))
			if progress != nil {
				progress(p)
			}
		})
		if errors.Is(err, image.ErrOutDirInUse) {
			// Most likely an image folder an rpi-image-gen (genimage)
			// build left in the work dir: never removed behind the user's back.
			return nil, fmt.Errorf("%w (remove %s to rebuild it with the native image stage)", err, dirs.Image)
		}
		if err != nil {
			return nil, err
		}
		return runner.ScanArtifacts(dirs.Image)
	}
}
