package gui

import (
	"path/filepath"

	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/manifest"
)

// Stage names of rpi-image-gen, in order.
var (
	stagesFS    = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "deploy"}
	stagesImage = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_images", "deploy"}
	stagesFull  = []string{"parameter_assembly", "collect_layers", "prepare_build_config", "generate_filesystem", "generate_images", "deploy"}
)

// stagesOf lists the stages rpi-image-gen prints for a build stage.
func stagesOf(s runner.Stage) []string {
	switch s {
	case runner.StageFilesystem:
		return append([]string(nil), stagesFS...)
	case runner.StageImage:
		return append([]string(nil), stagesImage...)
	}
	return append([]string(nil), stagesFull...)
}

// stageWord names a build stage in status lines ("full", "filesystem", "image").
func stageWord(s runner.Stage) string {
	switch s {
	case runner.StageFilesystem:
		return "filesystem"
	case runner.StageImage:
		return "image"
	}
	return "full"
}

// outputs is what a finished run made, read from the image set's
// image.json next to its artifacts.
type outputs struct {
	// raidSet is the RAID set dir when the build made one.
	raidSet string
	// roles names the RAID member of each artifact, by path.
	roles map[string]string
}

// readOutputs reads the manifest next to a result's artifacts (file IO:
// call it off the UI goroutine).
func readOutputs(res *runner.Result) outputs {
	out := outputs{roles: map[string]string{}}
	if res == nil || len(res.Artifacts) == 0 {
		return out
	}
	dir := filepath.Dir(res.Artifacts[0].Path)
	m, err := manifest.Read(dir)
	if err != nil {
		return out
	}
	if m.Layout == manifest.LayoutRAID {
		out.raidSet = dir
	}
	for _, a := range res.Artifacts {
		if ma := m.Artifact(filepath.Base(a.Path)); ma != nil {
			out.roles[a.Path] = ma.Role
		}
	}
	return out
}

// flashable reports whether an artifact is a whole-disk image.
func flashable(a runner.Artifact) bool {
	return a.Kind == runner.KindDiskImage || a.Kind == runner.KindSparse
}
