package runner

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Offline modes of Cache.Offline.
const (
	// OfflineAuto sets IG_OFFLINE=y when the host-tool cache holds every
	// tool the tree downloads, so the build never goes to GitHub.
	OfflineAuto = "auto"
	// OfflineOn always sets IG_OFFLINE=y.
	OfflineOn = "on"
	// OfflineOff never sets it (the tool downloads what is missing).
	OfflineOff = "off"
)

// Cache is the per-user cache shared by every work dir: the tarballs of
// the tool's host tools (bdebstrap, genimage, libconfuse...), which it
// otherwise downloads from GitHub into each work dir, and the apt cache.
// The zero value (no Dir) uses no cache.
type Cache struct {
	// Dir is the cache root, e.g. DefaultCacheDir().
	Dir string
	// Offline is OfflineAuto (when empty), OfflineOn or OfflineOff.
	Offline string
	// NoAptCache leaves the tool's apt cache setting alone.
	NoAptCache bool
	// NoReuse builds every filesystem, even when an earlier build of the
	// same inputs left one in the work dir (see FilesystemStamp).
	NoReuse bool
}

// DefaultCacheDir is the per-user cache folder: $XDG_CACHE_HOME/pistudio
// (~/.cache/pistudio). As root under sudo it is still the invoking user's
// folder when SUDO_USER's home is known through HOME.
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache folder: %w", err)
	}
	return filepath.Join(d, "pistudio"), nil
}

// HostToolsDir holds the host tools' source tarballs.
func (c Cache) HostToolsDir() string { return filepath.Join(c.Dir, "host-tools") }

// AptDir is handed to the tool as IGconf_sys_apt_cachedir.
func (c Cache) AptDir() string { return filepath.Join(c.Dir, "apt") }

// AptCacheKey is the override that points the tool's apt cache somewhere.
const AptCacheKey = "IGconf_sys_apt_cachedir"

// HostTool is one source tarball the tree's package build fetches.
type HostTool struct {
	// Package is the folder under the tree's package/ (genimage).
	Package string
	// Archive is the tarball's file name (genimage-19.tar.gz).
	Archive string
	// SHA256 is the digest the tree expects, in hex.
	SHA256 string
	// URL is where the tree downloads it from.
	URL string
}

var metaLine = regexp.MustCompile(`^(\S+\.tar\.[a-z0-9]+)\s+sha256:([0-9a-f]{64})\s+(\S+)`)

// HostTools reads the tree's package/*/*.meta files: every tarball its
// package build may download, sorted by archive name.
func HostTools(toolDir string) ([]HostTool, error) {
	metas, err := filepath.Glob(filepath.Join(toolDir, "package", "*", "*.meta"))
	if err != nil {
		return nil, fmt.Errorf("reading the host-tool list: %w", err)
	}
	var out []HostTool
	for _, m := range metas {
		f, err := os.Open(m)
		if err != nil {
			return nil, fmt.Errorf("reading the host-tool list: %w", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if g := metaLine.FindStringSubmatch(strings.TrimSpace(sc.Text())); g != nil {
				out = append(out, HostTool{Package: filepath.Base(filepath.Dir(m)), Archive: g[1], SHA256: g[2], URL: g[3]})
			}
		}
		f.Close()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Archive < out[j].Archive })
	return out, nil
}

// requiredHostTools are the packages a build fetches (the others are
// optional features).
var requiredHostTools = []string{"bdebstrap", "genimage", "libconfuse"}

// CacheState says what the host-tool cache holds for a tree.
type CacheState struct {
	// Cached are the tree's tarballs present in the cache with the
	// expected digest.
	Cached []HostTool
	// Missing names the required packages the tree lists with no cached
	// tarball.
	Missing []string
}

// Complete reports whether a build can run without downloading host tools.
func (s CacheState) Complete() bool { return len(s.Missing) == 0 }

// State checks the cache against the tree at toolDir.
func (c Cache) State(toolDir string) (CacheState, error) {
	tools, err := HostTools(toolDir)
	if err != nil {
		return CacheState{}, err
	}
	return stateOf(tools, func(t HostTool) []string {
		return []string{filepath.Join(c.HostToolsDir(), t.Archive)}
	}), nil
}

// stateOf checks tools against the tarballs at the paths where(t) names:
// a tool is cached when one of them has its digest.
func stateOf(tools []HostTool, where func(HostTool) []string) CacheState {
	var st CacheState
	have, listed := map[string]bool{}, map[string]bool{}
	for _, t := range tools {
		listed[t.Package] = true
		for _, p := range where(t) {
			if ok, _ := fileHasDigest(p, t.SHA256); ok {
				st.Cached = append(st.Cached, t)
				have[t.Package] = true
				break
			}
		}
	}
	for _, p := range requiredHostTools {
		if listed[p] && !have[p] {
			st.Missing = append(st.Missing, p)
		}
	}
	return st
}

func fileHasDigest(path, want string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}

// WorkHasHostTools reports whether the work folder workDir already holds a
// verified tarball of every required host tool of the tree at toolDir,
// where the tree looks before it downloads: <work>/cache (the default of
// IGconf_sys_cachedir) or <work>/build/<package>/. A build there then needs
// no GitHub, with or without a pistudio cache.
func WorkHasHostTools(toolDir, workDir string) bool {
	if toolDir == "" || workDir == "" {
		return false
	}
	tools, err := HostTools(toolDir)
	if err != nil {
		return false
	}
	st := stateOf(tools, func(t HostTool) []string {
		return []string{filepath.Join(workDir, "cache", t.Archive), hostToolWorkPath(workDir, t)}
	})
	return st.Complete() && len(st.Cached) > 0
}

// hostToolWorkPath is where the tree's package build looks for a tarball:
// <work>/build/<package>/<archive> (IGconf_sys_buildroot is <work>/build).
func hostToolWorkPath(workDir string, t HostTool) string {
	return filepath.Join(workDir, "build", t.Package, t.Archive)
}

// prepare seeds the work dir with the cached host tools, points the apt
// cache into the cache and decides IG_OFFLINE. It edits the tool's
// environment and argv and returns lines for the log.
func (c Cache) prepare(job Job, env *[]string, argv *[]string) ([]string, error) {
	if c.Dir == "" || job.Stage == StageClean {
		return nil, nil
	}
	var notes []string
	tools, err := HostTools(job.ToolDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.HostToolsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("creating the cache: %w", err)
	}
	st, err := c.State(job.ToolDir)
	if err != nil {
		return nil, err
	}
	seeded, err := c.seed(job.WorkDir, st)
	if err != nil {
		return nil, err
	}
	if seeded > 0 {
		notes = append(notes, fmt.Sprintf("cache: %d host-tool tarballs copied from %s", seeded, c.HostToolsDir()))
	}
	if v, ok := cachedGenimage(st, tools, *env); ok {
		*env = append(*env, "GENIMAGE_VER="+v)
		notes = append(notes, "cache: GENIMAGE_VER="+v+" (the genimage version in the cache)")
	}
	offline := c.Offline == OfflineOn || ((c.Offline == "" || c.Offline == OfflineAuto) &&
		(st.Complete() || WorkHasHostTools(job.ToolDir, job.WorkDir)))
	if offline && envValue(*env, "IG_OFFLINE") == "" {
		*env = append(*env, "IG_OFFLINE=y")
		notes = append(notes, "cache: IG_OFFLINE=y (host tools come from the cache, nothing is downloaded from GitHub)")
		if envValue(*env, "PIP_NO_DEPS") == "" {
			// bdebstrap's Python dependencies come from Debian
			// (python3-yaml...), not from PyPI, which offline cannot be reached.
			*env = append(*env, "PIP_NO_DEPS=1")
		}
	}
	if err := c.aptCache(job, argv); err != nil {
		return nil, err
	}
	return notes, nil
}

// aptCache points the tool's apt cache into the cache, unless the job's
// overrides choose one or the cache is told not to.
func (c Cache) aptCache(job Job, argv *[]string) error {
	if c.NoAptCache || hasOverride(job.Overrides, AptCacheKey) {
		return nil
	}
	if err := os.MkdirAll(c.AptDir(), 0o755); err != nil {
		return fmt.Errorf("creating the apt cache: %w", err)
	}
	*argv = appendOverride(*argv, AptCacheKey+"="+c.AptDir())
	return nil
}

// seed copies the cached tarballs into the work dir where the tree's
// package build looks for them, and returns how many it copied.
func (c Cache) seed(workDir string, st CacheState) (int, error) {
	n := 0
	for _, t := range st.Cached {
		dst := hostToolWorkPath(workDir, t)
		if ok, _ := fileHasDigest(dst, t.SHA256); ok {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return n, fmt.Errorf("seeding host tools: %w", err)
		}
		if err := copyFile(filepath.Join(c.HostToolsDir(), t.Archive), dst); err != nil {
			return n, fmt.Errorf("seeding host tools: %w", err)
		}
		n++
	}
	return n, nil
}

// cachedGenimage returns the genimage version to build when the cache
// holds a genimage tarball but not the tree's default one, and the
// environment does not choose.
func cachedGenimage(st CacheState, tools []HostTool, env []string) (string, bool) {
	if envValue(env, "GENIMAGE_VER") != "" {
		return "", false
	}
	var cached []string
	for _, t := range st.Cached {
		if t.Package == "genimage" {
			cached = append(cached, strings.TrimSuffix(strings.TrimPrefix(t.Archive, "genimage-"), ".tar.gz"))
		}
	}
	if len(cached) == 0 {
		return "", false
	}
	newest := ""
	for _, t := range tools {
		if t.Package == "genimage" {
			newest = strings.TrimSuffix(strings.TrimPrefix(t.Archive, "genimage-"), ".tar.gz")
		}
	}
	for _, v := range cached {
		if v == newest {
			return "", false
		}
	}
	return cached[len(cached)-1], true
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func hasOverride(overrides []string, key string) bool {
	for _, o := range overrides {
		if strings.HasPrefix(o, key+"=") {
			return true
		}
	}
	return false
}

// appendOverride adds KEY=VALUE after the argv's "--", adding one if needed.
func appendOverride(argv []string, kv string) []string {
	for _, a := range argv {
		if a == "--" {
			return append(argv, kv)
		}
	}
	return append(argv, "--", kv)
}

// Keep copies the verified host-tool tarballs a run downloaded into
// <work>/build into the cache, so that later builds in any work dir need
// no download. It returns the archives it added.
func (c Cache) Keep(toolDir, workDir string) ([]string, error) {
	if c.Dir == "" {
		return nil, nil
	}
	tools, err := HostTools(toolDir)
	if err != nil {
		return nil, err
	}
	var added []string
	for _, t := range tools {
		dst := filepath.Join(c.HostToolsDir(), t.Archive)
		if ok, _ := fileHasDigest(dst, t.SHA256); ok {
			continue
		}
		src := hostToolWorkPath(workDir, t)
		if ok, _ := fileHasDigest(src, t.SHA256); !ok {
			continue
		}
		if err := os.MkdirAll(c.HostToolsDir(), 0o755); err != nil {
			return added, fmt.Errorf("keeping host tools: %w", err)
		}
		if err := copyFile(src, dst+".tmp"); err != nil {
			return added, fmt.Errorf("keeping host tools: %w", err)
		}
		if err := os.Rename(dst+".tmp", dst); err != nil {
			return added, fmt.Errorf("keeping host tools: %w", err)
		}
		added = append(added, t.Archive)
	}
	return added, nil
}
