package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pistudio/pistudio/internal/atomicfile"
)

// A filesystem build (stage 1: bdebstrap installing every package under
// emulation, the initramfs, the layers' hooks) takes most of a build's
// time and gives the same root filesystem again when nothing it reads has
// changed. The runner therefore keeps, beside each chroot-<ver>, a stamp
// of what built it: the digests of its inputs (FilesystemInputs), the
// InRelease files apt used (kept by our bdebstrap cleanup hook before the
// tool's cleanup removes them) and the size and time of its dpkg status.
// A later Full or Filesystem build of the same inputs reuses the
// filesystem (Full runs only the image stage) unless an apt source now
// serves another InRelease, the filesystem changed, or the job asks for
// a rebuild. The stamp is removed before the tool starts stage 1 and
// written only after it succeeded (and only if the inputs did not change
// meanwhile), so an interrupted or failed build is never reused; an
// image-only run with other inputs removes it too.

// FileStamp is a file's size and modification time.
type FileStamp struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

// FilesystemStamp is what the runner records about a root filesystem it
// built: <work>/.pistudio/filesystem-<ver>.json.
type FilesystemStamp struct {
	Version string           `json:"artefact_version"`
	Config  string           `json:"config"`
	Inputs  FilesystemInputs `json:"inputs"`
	// Releases are the InRelease files of the filesystem's apt sources.
	Releases []Release `json:"releases"`
	// Dpkg is the filesystem's var/lib/dpkg/status (or, without one, the
	// filesystem folder itself).
	Dpkg FileStamp `json:"dpkg_status"`
	// Built is when the filesystem build ended; Log is that run's log.
	Built time.Time `json:"built"`
	Log   string    `json:"log"`
}

// FilesystemStampFile is where the stamp of chroot-<ver> is kept.
func FilesystemStampFile(workDir, version string) string {
	return filepath.Join(stateDir(workDir), "filesystem-"+version+".json")
}

// ReadFilesystemStamp reads the stamp of chroot-<ver>, if any.
func ReadFilesystemStamp(workDir, version string) (FilesystemStamp, bool) {
	var s FilesystemStamp
	b, err := os.ReadFile(FilesystemStampFile(workDir, version))
	if err != nil || json.Unmarshal(b, &s) != nil {
		return FilesystemStamp{}, false
	}
	return s, true
}

// FilesystemStamps returns the stamps of the work dir's filesystems, by
// version.
func FilesystemStamps(workDir string) []FilesystemStamp {
	m, _ := filepath.Glob(filepath.Join(stateDir(workDir), "filesystem-*.json"))
	sort.Strings(m)
	var out []FilesystemStamp
	for _, p := range m {
		v := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "filesystem-"), ".json")
		if st, ok := ReadFilesystemStamp(workDir, v); ok {
			out = append(out, st)
		}
	}
	return out
}

// Intact reports whether the stamped filesystem is still in workDir as
// its build left it (its dpkg status unchanged).
func (st FilesystemStamp) Intact(workDir string) bool { return st.check(workDir) == nil }

// Why a stamped filesystem is not as its build left it.
var (
	errFilesystemGone    = errors.New("the earlier filesystem is gone")
	errFilesystemChanged = errors.New("its packages changed after it was built (var/lib/dpkg/status)")
)

// check returns nil when the stamped filesystem is still in workDir as
// its build left it, else errFilesystemGone or errFilesystemChanged.
func (st FilesystemStamp) check(workDir string) error {
	now, err := dpkgStamp(filesystemDir(workDir, st.Version))
	switch {
	case err != nil:
		return errFilesystemGone
	case now.Size != st.Dpkg.Size || !now.ModTime.Equal(st.Dpkg.ModTime):
		return errFilesystemChanged
	}
	return nil
}

// RemoveFilesystemStamp forgets what built chroot-<ver>.
func RemoveFilesystemStamp(workDir, version string) error {
	err := os.Remove(FilesystemStampFile(workDir, version))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the filesystem stamp: %w", err)
	}
	return nil
}

// filesystemDir is stage 1's root filesystem: <work>/chroot-<ver>/filesystem.
func filesystemDir(workDir, version string) string {
	return filepath.Join(workDir, "chroot-"+version, "filesystem")
}

// dpkgStamp stamps the filesystem's dpkg status, or the folder itself.
func dpkgStamp(fsDir string) (FileStamp, error) {
	fi, err := os.Stat(filepath.Join(fsDir, "var/lib/dpkg/status"))
	if errors.Is(err, fs.ErrNotExist) {
		fi, err = os.Stat(fsDir)
	}
	if err != nil {
		return FileStamp{}, err
	}
	return FileStamp{Size: fi.Size(), ModTime: fi.ModTime().UTC()}, nil
}

// reuseDecision is whether a build reuses its filesystem.
type reuseDecision struct {
	// ok is true when the filesystem is reused.
	ok bool
	// stamp is the filesystem's stamp when one was found.
	stamp FilesystemStamp
	// notes say why, one line each, for the log.
	notes []string
}

// decideReuse decides whether the filesystem chroot-<ver> of workDir,
// built from the stamp's inputs, can stand for a new build of in. Every
// apt source is asked for its InRelease (IG_OFFLINE only keeps the host
// tools from GitHub; apt still fetches): a newer one means a real build,
// one that cannot be reached is reported and does not stop the reuse (a
// build could not reach it either). It fails only when ctx ends.
func decideReuse(ctx context.Context, workDir, version string, in FilesystemInputs, client *http.Client) (reuseDecision, error) {
	building := "filesystem: building chroot-" + version
	st, ok := ReadFilesystemStamp(workDir, version)
	if !ok {
		return reuseDecision{notes: []string{building + " (no earlier filesystem build of these inputs)"}}, nil
	}
	d := reuseDecision{stamp: st}
	since := " since the build of " + st.Built.Local().Format("2006-01-02 15:04")
	if ch := in.changed(st.Inputs, true); len(ch) > 0 {
		d.notes = append(d.notes, building+": "+strings.Join(ch, ", ")+" changed"+since)
		return d, nil
	}
	if err := st.check(workDir); err != nil {
		d.notes = append(d.notes, building+": "+err.Error())
		return d, nil
	}
	if len(st.Releases) == 0 {
		d.notes = append(d.notes, building+": the earlier build kept no apt InRelease file to compare the archive with")
		return d, nil
	}
	checks := CheckReleases(ctx, st.Releases, client)
	if err := ctx.Err(); err != nil {
		return reuseDecision{}, err
	}
	var unchecked []string
	for _, c := range checks {
		switch {
		case c.Changed():
			d.notes = append(d.notes, building+": the archive changed ("+c.URL+" is newer)")
			return d, nil
		case c.Err != nil:
			unchecked = append(unchecked, c.URL)
		}
	}
	d.ok = true
	d.notes = append(d.notes, fmt.Sprintf("filesystem: reusing chroot-%s, built %s (log %s): config, layers, rpi-image-gen tree, overrides and environment unchanged",
		version, st.Built.Local().Format("2006-01-02 15:04"), st.Log))
	if n := len(st.Releases) - len(unchecked); n > 0 {
		d.notes = append(d.notes, fmt.Sprintf("filesystem: the archive is unchanged (%s as at the build)", plural(n, "InRelease file")))
	}
	if len(unchecked) > 0 {
		d.notes = append(d.notes, "filesystem: warning: could not reach "+strings.Join(unchecked, ", ")+" to check for newer packages")
	}
	d.notes = append(d.notes, "filesystem: to build it again: pistudio build --rebuild (GUI: Settings, turn off reusing the root filesystem)")
	return d, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// writeFilesystemStamp records what built chroot-<ver>: in, the InRelease
// files the build kept, the dpkg status.
func writeFilesystemStamp(workDir, version, cfg, log string, in FilesystemInputs) error {
	dir := filesystemDir(workDir, version)
	dp, err := dpkgStamp(dir)
	if err != nil {
		return fmt.Errorf("stamping the filesystem: %w", err)
	}
	rels, err := KeptReleases(ReleasesDir(workDir, version), dir)
	if err != nil {
		return fmt.Errorf("stamping the filesystem: %w", err)
	}
	if len(rels) == 0 {
		return fmt.Errorf("stamping the filesystem: the build kept no apt InRelease file in %s, so the archive could not be compared later", ReleasesDir(workDir, version))
	}
	st := FilesystemStamp{Version: version, Config: cfg, Inputs: in, Releases: rels, Dpkg: dp, Built: time.Now().UTC(), Log: log}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("stamping the filesystem: %w", err)
	}
	if err := atomicfile.WriteFile(FilesystemStampFile(workDir, version), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("stamping the filesystem: %w", err)
	}
	return nil
}

// reuses reports whether builds may reuse an unchanged filesystem.
func (c Cache) reuses() bool { return c.Dir != "" && !c.NoReuse }

// buildsFilesystem reports whether a job's tool run includes stage 1.
func (j Job) buildsFilesystem() bool { return j.Stage == StageFull || j.Stage == StageFilesystem }

// planFilesystem digests what the run's filesystem build reads and
// decides whether an earlier filesystem of the same inputs stands in for
// it. When it does, a Filesystem run runs no tool, a Full run with a
// native image hook runs only the hook, and a Full run runs the tool with
// -i. Otherwise the filesystem's stamp and kept InRelease files are
// removed before the tool starts. An image-only run with other inputs
// than the filesystem's build removes the stamp too: its hooks may change
// the filesystem.
func (r *Run) planFilesystem(ctx context.Context) error {
	if r.job.Stage == StageClean {
		// clean removes the filesystem; stopped half way it leaves a
		// wreck that must not be reused
		return RemoveFilesystemStamp(r.job.WorkDir, r.ver)
	}
	if r.job.Stage == StageImage {
		return r.imageOnStamped()
	}
	in, err := filesystemInputs(r.job, r.ver, r.env, r.srcDir)
	if err != nil {
		r.notes = append(r.notes, "filesystem: warning: "+err.Error()+"; it is built and not stamped")
		return RemoveFilesystemStamp(r.job.WorkDir, r.ver)
	}
	r.fsIn = &in
	if r.opts.Cache.reuses() {
		d, err := decideReuse(ctx, r.job.WorkDir, r.ver, in, nil)
		if err != nil {
			return err
		}
		r.notes = append(r.notes, d.notes...)
		if d.ok {
			r.reused = &d.stamp
			switch {
			case r.job.Stage == StageFull && r.job.NativeImage == nil:
				r.argv = onlyImage(r.argv)
			default:
				r.argv = nil
			}
			return nil
		}
	}
	if err := RemoveFilesystemStamp(r.job.WorkDir, r.ver); err != nil {
		return err
	}
	if err := os.RemoveAll(ReleasesDir(r.job.WorkDir, r.ver)); err != nil {
		return fmt.Errorf("clearing the kept InRelease files: %w", err)
	}
	return nil
}

// imageOnStamped removes the stamp of the filesystem an image stage runs
// on when the stage runs with other inputs than the filesystem was built
// from. Only a stamped filesystem costs the digests (and, for an image
// stage that runs no tool, writing the merged source dir).
func (r *Run) imageOnStamped() error {
	st, ok := ReadFilesystemStamp(r.job.WorkDir, r.ver)
	if !ok {
		return nil
	}
	env := r.env
	if r.argv == nil { // the native image stage: no tool, no tool environment
		env = r.opts.Environ
		if env == nil {
			env = os.Environ()
		}
		env = ToolEnv(env)
		var err error
		if r.srcDir, err = prepareSourceDir(r.job.WorkDir, r.job.SourceDirs); err != nil {
			return err
		}
	}
	in, err := filesystemInputs(r.job, r.ver, env, r.srcDir)
	if err != nil {
		return RemoveFilesystemStamp(r.job.WorkDir, r.ver)
	}
	if ch := in.changed(st.Inputs, r.argv != nil); len(ch) > 0 {
		r.notes = append(r.notes, "filesystem: the image stage runs with other inputs than chroot-"+r.ver+" was built from ("+
			strings.Join(ch, ", ")+"); the next build builds the filesystem again")
		return RemoveFilesystemStamp(r.job.WorkDir, r.ver)
	}
	return nil
}

// onlyImage turns a full build's command line into the image stage's:
// -i before the "--" (or at the end).
func onlyImage(argv []string) []string {
	out := make([]string, 0, len(argv)+1)
	added := false
	for _, a := range argv {
		if a == "--" && !added {
			out, added = append(out, "-i"), true
		}
		out = append(out, a)
	}
	if !added {
		out = append(out, "-i")
	}
	return out
}

// reusedStage reports the filesystem stage as done by reuse.
func (r *Run) reusedStage(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startStageLocked(filesystemStage, now)
	r.cur.Reused = true
	r.endStageLocked(now, true, false)
	r.rec.Reused = r.reused.Log
	r.result.Reused = r.reused.Log
}

// filesystemStage is the tool's stage header of stage 1.
const filesystemStage = "generate_filesystem"

// stampFilesystem records what built the run's filesystem after the tool
// built it, if the inputs did not change while it ran (a tree or layer
// edited during an hour-long build gives a filesystem of neither).
func (r *Run) stampFilesystem() {
	if r.fsIn == nil || r.reused != nil {
		return
	}
	now, err := filesystemInputs(r.job, r.ver, r.env, r.srcDir)
	if err == nil && len(now.changed(*r.fsIn, true)) > 0 {
		err = fmt.Errorf("%s changed during the build", strings.Join(now.changed(*r.fsIn, true), ", "))
	}
	if err == nil {
		err = writeFilesystemStamp(r.job.WorkDir, r.ver, r.job.Config, filepath.Base(r.result.LogPath), now)
	}
	if err != nil {
		r.internal("filesystem: warning: not stamped: " + err.Error() + " (the next build builds it again)")
		return
	}
	r.internal("filesystem: stamped chroot-" + r.ver + "; a build of the same inputs reuses it")
}

// filesystemStageDone reports whether the tool's stage 1 ended well in a
// run that failed or was stopped later: a later stage started (the tool
// stops at the first stage that fails). The filesystem is then complete.
func (r *Run) filesystemStageDone() bool {
	if !r.job.buildsFilesystem() {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, st := range r.stages {
		if st.Name == filesystemStage {
			return st.OK && !st.Cancelled && (i+1 < len(r.stages) || r.cur != nil)
		}
	}
	return false
}

// dropReused forgets a reused filesystem whose image stage failed: the
// next build builds it again instead of failing the same way (the image
// stage may need files stage 1 wrote beside it that are gone).
func (r *Run) dropReused() {
	if err := RemoveFilesystemStamp(r.job.WorkDir, r.ver); err != nil {
		r.internal("warning: " + err.Error())
		return
	}
	r.internal("filesystem: the build on the reused chroot-" + r.ver + " did not succeed; the next build builds the filesystem again")
}
