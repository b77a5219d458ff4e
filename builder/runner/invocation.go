package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pistudio/pistudio/assets"
)

// ErrInvalidJob is wrapped by every error about a Job that cannot run.
var ErrInvalidJob = errors.New("invalid build job")

var (
	overrideKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	versionRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$`)
)

// systemPath is put first on the tool's PATH so that Debian's python3
// (with python3-debian and python3-yaml) is found before any pyenv or venv.
var systemPath = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// VersionKey is the override that pins the artefact version, which names
// the chroot-<ver> and deploy-<ver> folders.
const VersionKey = "IGconf_artefact_version"

// ValidateOverride checks that kv is KEY=VALUE with KEY a shell variable
// name and VALUE on one line.
func ValidateOverride(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("%w: override %q is not KEY=VALUE", ErrInvalidJob, kv)
	}
	if !overrideKey.MatchString(k) {
		return fmt.Errorf("%w: override key %q must match [A-Za-z_][A-Za-z0-9_]*", ErrInvalidJob, k)
	}
	if strings.ContainsAny(v, "\n\r\x00") {
		return fmt.Errorf("%w: override %s has a line break in its value", ErrInvalidJob, k)
	}
	return nil
}

// ValidVersion reports whether v can be used as an artefact version (it
// becomes part of folder names).
func ValidVersion(v string) bool { return versionRe.MatchString(v) }

// ToolEnv returns environ with every IGconf_* variable removed (they
// would win over the config file) and PATH starting with
// /usr/sbin:/usr/bin:/sbin:/bin followed by the rest of the old PATH.
func ToolEnv(environ []string) []string {
	out := make([]string, 0, len(environ)+1)
	oldPath := ""
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "IGconf_"):
			continue
		case k == "PATH":
			oldPath = v
			continue
		}
		out = append(out, kv)
	}
	parts := append([]string(nil), systemPath...)
	seen := map[string]bool{}
	for _, p := range systemPath {
		seen[p] = true
	}
	for _, p := range strings.Split(oldPath, ":") {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		parts = append(parts, p)
	}
	return append(out, "PATH="+strings.Join(parts, ":"))
}

// stateDir is where the runner keeps its own files inside a work dir.
func stateDir(workDir string) string { return filepath.Join(workDir, ".pistudio") }

// VersionFile is the single artefact-version file older releases kept per
// work dir; it is still read as a fallback (ConfigVersionFile is written).
func VersionFile(workDir string) string { return filepath.Join(stateDir(workDir), "artefact-version") }

// ConfigVersionFile is where the artefact version of the config at
// configPath is recorded by its filesystem builds and read back by later
// image builds of the same config in workDir:
// <work>/.pistudio/artefact-version-<first 12 hex digits of the sha256 of
// the config's absolute path>.
func ConfigVersionFile(workDir, configPath string) string {
	if abs, err := filepath.Abs(configPath); err == nil {
		configPath = abs
	}
	sum := sha256.Sum256([]byte(configPath))
	return filepath.Join(stateDir(workDir), "artefact-version-"+hex.EncodeToString(sum[:])[:12])
}

// SourceDir is the single source dir handed to the tool with -S: our own
// layers with the job's source dirs merged over them.
func SourceDir(workDir string) string { return filepath.Join(stateDir(workDir), "layers") }

// RecordedVersion returns the artefact version recorded in workDir's
// single work-dir-wide file (VersionFile), if any.
func RecordedVersion(workDir string) (string, bool) { return readVersion(VersionFile(workDir)) }

// RecordedConfigVersion returns the artefact version recorded for the
// config at configPath in workDir, falling back to the work dir's single
// file of older releases.
func RecordedConfigVersion(workDir, configPath string) (string, bool) {
	if v, ok := readVersion(ConfigVersionFile(workDir, configPath)); ok {
		return v, true
	}
	return RecordedVersion(workDir)
}

// readVersion reads a version file: the version on its first line, and
// the absolute config path on the second (files of older releases have
// none).
func readVersion(file string) (string, bool) {
	v, _, ok := readVersionFile(file)
	return v, ok
}

func readVersionFile(file string) (ver, config string, ok bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", "", false
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	ver = strings.TrimSpace(first)
	config, _, _ = strings.Cut(rest, "\n")
	return ver, strings.TrimSpace(config), ValidVersion(ver)
}

// ErrVersionInUse is wrapped when a filesystem build would pin an artefact
// version another config already uses in the same work dir: the second
// build would overwrite the first one's chroot-<ver>.
var ErrVersionInUse = errors.New("artefact version already used by another config in this work dir")

// versionOwner returns the config (other than configPath) recorded in
// workDir with version v, if any.
func versionOwner(workDir, configPath, v string) (string, bool) {
	mine := ConfigVersionFile(workDir, configPath)
	files, _ := filepath.Glob(filepath.Join(stateDir(workDir), "artefact-version-*"))
	for _, f := range files {
		if f == mine || strings.HasSuffix(f, ".tmp") {
			continue
		}
		if ov, cfg, ok := readVersionFile(f); ok && ov == v && cfg != "" && cfg != configPath {
			return cfg, true
		}
	}
	return "", false
}

// DefaultVersion is the artefact version of a config that sets none and
// has none recorded: the UTC date and the config's file name, so that two
// configs built into one work dir on the same day get their own
// chroot-<ver> folders ("2026-12-07-raid").
func DefaultVersion(configPath string, now time.Time) string {
	stem := strings.TrimSuffix(filepath.Base(configPath), filepath.Ext(configPath))
	var b strings.Builder
	for _, r := range stem {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	v := now.UTC().Format("2006-01-02")
	if s := strings.Trim(b.String(), "-."); s != "" {
		v += "-" + s
	}
	return v
}

// resolveVersion decides the artefact version of a run: the job's (from
// the config), else the one recorded for the config in the work dir, else for an
// image-only run the newest chroot-<ver> folder, else DefaultVersion.
// Runs that build a filesystem record it, and refuse a version another
// config of the work dir has recorded (ErrVersionInUse).
func resolveVersion(job Job, now time.Time) (string, error) {
	v := job.ArtefactVersion
	for _, o := range job.Overrides {
		if k, val, _ := strings.Cut(o, "="); k == VersionKey {
			v = val
		}
	}
	if v == "" {
		if rv, ok := RecordedConfigVersion(job.WorkDir, job.Config); ok {
			v = rv
		}
	}
	if v == "" && (job.Stage == StageImage || job.Stage == StageClean) {
		v = newestChrootVersion(job.WorkDir)
	}
	if v == "" {
		v = DefaultVersion(job.Config, now)
	}
	if !ValidVersion(v) {
		return "", fmt.Errorf("%w: artefact version %q is not usable in a folder name", ErrInvalidJob, v)
	}
	if job.Stage == StageFull || job.Stage == StageFilesystem {
		if other, ok := versionOwner(job.WorkDir, job.Config, v); ok {
			return "", fmt.Errorf("%w: %w: %s also builds chroot-%s in %s; set a different artefact_version in one config or use another work dir (-B)",
				ErrInvalidJob, ErrVersionInUse, other, v, job.WorkDir)
		}
		if err := os.MkdirAll(stateDir(job.WorkDir), 0o755); err != nil {
			return "", fmt.Errorf("recording artefact version: %w", err)
		}
		if err := os.WriteFile(ConfigVersionFile(job.WorkDir, job.Config), []byte(v+"\n"+job.Config+"\n"), 0o644); err != nil {
			return "", fmt.Errorf("recording artefact version: %w", err)
		}
	}
	return v, nil
}

func newestChrootVersion(workDir string) string {
	m, _ := filepath.Glob(filepath.Join(workDir, "chroot-*"))
	var best string
	var bestT time.Time
	for _, p := range m {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			continue
		}
		v := strings.TrimPrefix(filepath.Base(p), "chroot-")
		if ValidVersion(v) && (best == "" || fi.ModTime().After(bestT)) {
			best, bestT = v, fi.ModTime()
		}
	}
	return best
}

// prepareSourceDir rebuilds <work>/.pistudio/layers: our layers
// (assets.WriteLayers) with every file of the job's source dirs copied
// over them, later dirs winning. rpi-image-gen keeps only the last -S it
// is given, so several source dirs must be merged into one.
func prepareSourceDir(workDir string, sources []string) (string, error) {
	dir := SourceDir(workDir)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clearing source dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating source dir: %w", err)
	}
	if err := assets.WriteLayers(dir); err != nil {
		return "", fmt.Errorf("writing our layers: %w", err)
	}
	for _, src := range sources {
		abs, err := filepath.Abs(src)
		if err != nil {
			return "", fmt.Errorf("source dir %s: %w", src, err)
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("%w: source dir %s is not a directory", ErrInvalidJob, src)
		}
		err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(abs, p)
			dst := filepath.Join(dir, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			return copyFile(p, dst)
		})
		if err != nil {
			return "", fmt.Errorf("merging source dir %s: %w", src, err)
		}
	}
	return dir, nil
}

// Argv builds the tool's command line for job, given the merged source
// dir and the pinned artefact version:
//
//	<tooldir>/rpi-image-gen build -c <abs config> -S <srcdir> -B <workdir> [-f|-i] -- IGconf_artefact_version=<v> KEY=VALUE...
//
// A Full stage passes neither -f nor -i: the tool then runs every stage
// in one invocation. A Clean stage runs `clean` with the same options.
// With a NativeImage hook, Full runs the tool with -f (the hook builds
// the image) and Image does not run the tool at all.
func Argv(job Job, srcDir, version string) ([]string, error) {
	cfg, err := filepath.Abs(job.Config)
	if err != nil {
		return nil, fmt.Errorf("%w: config path: %w", ErrInvalidJob, err)
	}
	work, err := filepath.Abs(job.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("%w: work dir: %w", ErrInvalidJob, err)
	}
	cmd := "build"
	if job.Stage == StageClean {
		cmd = "clean"
	}
	argv := []string{ToolPath(job.ToolDir), cmd, "-c", cfg}
	if srcDir != "" {
		argv = append(argv, "-S", srcDir)
	}
	argv = append(argv, "-B", work)
	switch {
	case job.Stage == StageFilesystem, job.Stage == StageFull && job.NativeImage != nil:
		argv = append(argv, "-f")
	case job.Stage == StageImage:
		argv = append(argv, "-i")
	}
	argv = append(argv, "--")
	hasVersion := false
	for _, o := range job.Overrides {
		if err := ValidateOverride(o); err != nil {
			return nil, err
		}
		if strings.HasPrefix(o, VersionKey+"=") {
			hasVersion = true
		}
	}
	if !hasVersion && version != "" {
		argv = append(argv, VersionKey+"="+version)
	}
	argv = append(argv, job.Overrides...)
	if argv[len(argv)-1] == "--" {
		argv = argv[:len(argv)-1]
	}
	return argv, nil
}

// copyFile copies src to dst keeping the permission bits (hooks must stay
// executable). Symlinks are followed.
func copyFile(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return os.MkdirAll(dst, 0o755)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	_ = os.Remove(dst)
	return os.WriteFile(dst, b, fi.Mode().Perm())
}
