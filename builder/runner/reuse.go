package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/internal/atomicfile"
)

// A filesystem build (stage 1: bdebstrap installing every package under
// emulation, the initramfs, the layers' hooks) takes most of a build's
// time and gives the same root filesystem again when nothing it reads has
// changed. The runner therefore keeps, beside each chroot-<ver>, a stamp
// of what built it: the digests of the config (with its includes), the
// rpi-image-gen tree, the merged layers, the overrides and the tool's
// environment, the InRelease of every apt source the filesystem names,
// and the size and time of its dpkg status. A later Full or Filesystem
// build of the same inputs reuses the filesystem (Full runs only the
// image stage) unless an apt source now serves another InRelease, the
// filesystem was changed, or the job asks for a rebuild. The stamp is
// removed before the tool starts stage 1 and written only after it
// succeeded, so an interrupted or failed build is never reused.

// FilesystemInputs are the digests of what a filesystem build reads.
type FilesystemInputs struct {
	// Config covers the config file and the files it includes.
	Config string `json:"config"`
	// Tree covers every file of the rpi-image-gen tree but .git and
	// Python byte code.
	Tree string `json:"tree"`
	// Layers covers the merged source dir (our layers and -S dirs).
	Layers string `json:"layers"`
	// Args covers the overrides after "--" (the artefact version among
	// them), without the apt cache folder, which changes no file.
	Args string `json:"args"`
	// Env covers the environment variables the tool reads (Record.Env)
	// but IG_OFFLINE, PIP_NO_DEPS and GENIMAGE_VER, which only choose
	// where host tools come from.
	Env string `json:"env"`
}

// changed names the inputs that differ from old.
func (in FilesystemInputs) changed(old FilesystemInputs) []string {
	var out []string
	for _, c := range []struct {
		name     string
		now, was string
	}{
		{"the config", in.Config, old.Config},
		{"the rpi-image-gen tree", in.Tree, old.Tree},
		{"the layers", in.Layers, old.Layers},
		{"the overrides", in.Args, old.Args},
		{"the environment", in.Env, old.Env},
	} {
		if c.now != c.was {
			out = append(out, c.name)
		}
	}
	return out
}

// fileStamp is a file's size and modification time.
type fileStamp struct {
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
	Dpkg fileStamp `json:"dpkg_status"`
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
func dpkgStamp(fsDir string) (fileStamp, error) {
	fi, err := os.Stat(filepath.Join(fsDir, "var/lib/dpkg/status"))
	if errors.Is(err, fs.ErrNotExist) {
		fi, err = os.Stat(fsDir)
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{Size: fi.Size(), ModTime: fi.ModTime().UTC()}, nil
}

// filesystemInputs digests what a filesystem build of job reads: argv is
// the tool's command line, env its environment, srcDir the merged layers.
func filesystemInputs(job Job, argv, env []string, srcDir string) (FilesystemInputs, error) {
	var in FilesystemInputs
	var err error
	if in.Config, err = configDigest(job.Config, srcDir, job.ToolDir); err != nil {
		return in, err
	}
	if in.Tree, err = treeDigest(job.ToolDir, job.WorkDir); err != nil {
		return in, err
	}
	if in.Layers, err = treeDigest(srcDir, ""); err != nil {
		return in, err
	}
	h := sha256.New()
	after := false
	for _, a := range argv {
		if a == "--" {
			after = true
			continue
		}
		if after && !strings.HasPrefix(a, AptCacheKey+"=") {
			fmt.Fprintf(h, "%q\n", a)
		}
	}
	in.Args = hex.EncodeToString(h.Sum(nil))
	h.Reset()
	rec := RecordedEnv(env)
	keys := make([]string, 0, len(rec))
	for k := range rec {
		switch k {
		case "IG_OFFLINE", "PIP_NO_DEPS", "GENIMAGE_VER":
		default:
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, rec[k])
	}
	in.Env = hex.EncodeToString(h.Sum(nil))
	return in, nil
}

// configDigest digests the config and, depth first, the files it
// includes (looked up as rpi-image-gen does: beside the including file,
// then in the config/ dirs of the layers and of the tree).
func configDigest(path, srcDir, toolDir string) (string, error) {
	h := sha256.New()
	seen := map[string]bool{}
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		if seen[p] || depth > 16 {
			return nil
		}
		seen[p] = true
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading config %s: %w", p, err)
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		c, err := config.ParseConfig(p, b)
		if err != nil {
			return nil // the tool will say what is wrong; the bytes are digested
		}
		c.IncludePath = []string{filepath.Join(srcDir, "config"), filepath.Join(toolDir, "config")}
		incs, err := c.Includes()
		if err != nil {
			return nil
		}
		for _, inc := range incs {
			if _, err := os.Stat(inc); err != nil {
				fmt.Fprintf(h, "missing %s\n", inc)
				continue
			}
			if err := walk(inc, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(path, 0); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// treeDigest digests every file under root (path, mode, link target or
// content) but .git, __pycache__, *.pyc and the folder skip.
func treeDigest(root, skip string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (d.Name() == ".git" || d.Name() == "__pycache__" || p == skip) {
			return filepath.SkipDir
		}
		if strings.HasSuffix(p, ".pyc") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %o\n", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", t)
		case fi.Mode().IsRegular():
			return hashFile(h, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("digesting %s: %w", root, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h hash.Hash, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

// Reuse is the decision whether a build reuses its filesystem.
type Reuse struct {
	// OK is true when the filesystem is reused.
	OK bool
	// Stamp is the filesystem's stamp when one was found.
	Stamp FilesystemStamp
	// Notes say why, one line each, for the log.
	Notes []string
}

// decideReuse decides whether the filesystem chroot-<ver> of workDir,
// built from the stamp's inputs, can stand for a new build of in. The
// archive is always asked: IG_OFFLINE only keeps the host tools from
// GitHub, apt still fetches packages.
func decideReuse(ctx context.Context, workDir, version string, in FilesystemInputs, client *http.Client) Reuse {
	st, ok := ReadFilesystemStamp(workDir, version)
	if !ok {
		return Reuse{Notes: []string{"filesystem: building chroot-" + version + " (no earlier filesystem build of these inputs)"}}
	}
	r := Reuse{Stamp: st}
	if ch := in.changed(st.Inputs); len(ch) > 0 {
		r.Notes = append(r.Notes, "filesystem: building chroot-"+version+": "+strings.Join(ch, ", ")+" changed since the build of "+st.Built.Local().Format("2006-01-02 15:04"))
		return r
	}
	now, err := dpkgStamp(filesystemDir(workDir, version))
	if err != nil {
		r.Notes = append(r.Notes, "filesystem: building chroot-"+version+": the earlier filesystem is gone")
		return r
	}
	if now.Size != st.Dpkg.Size || !now.ModTime.Equal(st.Dpkg.ModTime) {
		r.Notes = append(r.Notes, "filesystem: building chroot-"+version+": its packages changed after it was built (var/lib/dpkg/status)")
		return r
	}
	var unchecked []string
	for _, c := range CheckReleases(ctx, st.Releases, client) {
		switch {
		case c.Changed():
			r.Notes = append(r.Notes, "filesystem: building chroot-"+version+": the archive changed ("+c.URL+" is newer)")
			return r
		case c.Err != nil:
			unchecked = append(unchecked, c.URL)
		case c.SHA256 == "":
			unchecked = append(unchecked, c.URL+" (not kept by the build)")
		}
	}
	r.OK = true
	r.Notes = append(r.Notes, fmt.Sprintf("filesystem: reusing chroot-%s, built %s (log %s): config, layers, rpi-image-gen tree, overrides and environment unchanged",
		version, st.Built.Local().Format("2006-01-02 15:04"), st.Log))
	if len(unchecked) > 0 {
		r.Notes = append(r.Notes, "filesystem: warning: could not check "+strings.Join(unchecked, ", ")+" for newer packages")
	}
	if n := len(st.Releases) - len(unchecked); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("filesystem: the archive is unchanged (%d InRelease files as at the build)", n))
	}
	r.Notes = append(r.Notes, "filesystem: to build it again: pistudio build --rebuild (GUI: Settings, turn off reusing the filesystem)")
	return r
}

// writeFilesystemStamp records what built chroot-<ver>. Sources whose
// InRelease apt did not keep in the filesystem are fetched now.
func writeFilesystemStamp(ctx context.Context, workDir, version, cfg, log string, in FilesystemInputs, client *http.Client) error {
	dir := filesystemDir(workDir, version)
	dp, err := dpkgStamp(dir)
	if err != nil {
		return fmt.Errorf("stamping the filesystem: %w", err)
	}
	rels, err := AptReleases(dir)
	if err != nil {
		return fmt.Errorf("stamping the filesystem: %w", err)
	}
	var fetch []Release
	var idx []int
	for i, r := range rels {
		if r.SHA256 == "" {
			fetch, idx = append(fetch, r), append(idx, i)
		}
	}
	for j, c := range CheckReleases(ctx, fetch, client) {
		rels[idx[j]].SHA256 = c.Now
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
// -i. Otherwise the filesystem's stamp is removed before the tool starts.
func (r *Run) planFilesystem(ctx context.Context) error {
	if !r.job.buildsFilesystem() {
		return nil
	}
	in, err := filesystemInputs(r.job, r.argv, r.env, r.srcDir)
	if err != nil {
		r.reuseNote = append(r.reuseNote, "filesystem: warning: "+err.Error()+"; it is built and not stamped")
	} else {
		r.fsIn = &in
	}
	if r.fsIn != nil && r.opts.Cache.reuses() {
		d := decideReuse(ctx, r.job.WorkDir, r.ver, in, nil)
		r.reuseNote = append(r.reuseNote, d.Notes...)
		if d.OK {
			r.reused = &d.Stamp
			switch {
			case r.job.Stage == StageFull && r.job.NativeImage == nil:
				r.argv = onlyImage(r.argv)
			default:
				r.argv = nil
			}
			return nil
		}
	}
	return RemoveFilesystemStamp(r.job.WorkDir, r.ver)
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
// built it.
func (r *Run) stampFilesystem() {
	if r.fsIn == nil || r.reused != nil {
		return
	}
	if err := writeFilesystemStamp(r.ctx, r.job.WorkDir, r.ver, r.job.Config, filepath.Base(r.result.LogPath), *r.fsIn, nil); err != nil {
		r.internal("filesystem: warning: " + err.Error() + " (the next build builds it again)")
		return
	}
	r.internal("filesystem: stamped chroot-" + r.ver + "; a build of the same inputs reuses it")
}
