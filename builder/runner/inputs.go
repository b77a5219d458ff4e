package runner

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
)

// FilesystemInputs are the digests of what a filesystem build reads.
type FilesystemInputs struct {
	// Config covers the config file and the files it includes (as
	// rpi-image-gen finds them: symlinks resolved), and the host files
	// and folders its values name (an SSH key file, a host key folder).
	Config string `json:"config"`
	// Tree covers every file of the rpi-image-gen tree but .git, Python
	// byte code and work folders.
	Tree string `json:"tree"`
	// Layers covers the merged source dir (our layers and -S dirs).
	Layers string `json:"layers"`
	// Args covers the overrides after "--" (the artefact version among
	// them) but the apt cache folder, which changes no file.
	Args string `json:"args"`
	// Env covers the environment variables the tool reads: IG_* and
	// Record.Env's (but IG_OFFLINE, PIP_NO_DEPS and GENIMAGE_VER, which
	// only choose where host tools come from), ARCH, DEB_*, and every
	// variable the config's values name ($NAME, ${NAME}), which
	// rpi-image-gen expands.
	Env string `json:"env"`
}

// changed names the inputs that differ from old; withEnv false leaves the
// environment out (an image stage that runs no tool reads none).
func (in FilesystemInputs) changed(old FilesystemInputs, withEnv bool) []string {
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
		if c.now != c.was && (withEnv || c.name != "the environment") {
			out = append(out, c.name)
		}
	}
	return out
}

// filesystemInputs digests what a filesystem build of job with version
// reads; env is the tool's environment, srcDir the merged layers.
func filesystemInputs(job Job, version string, env []string, srcDir string) (FilesystemInputs, error) {
	var in FilesystemInputs
	files, vars, err := configFiles(job.Config, srcDir, job.ToolDir)
	if err != nil {
		return in, err
	}
	if in.Config, err = configDigest(files, env); err != nil {
		return in, err
	}
	if in.Tree, err = treeDigest(job.ToolDir, job.WorkDir, filepath.Join(job.ToolDir, "work")); err != nil {
		return in, err
	}
	if in.Layers, err = treeDigest(srcDir); err != nil {
		return in, err
	}
	h := sha256.New()
	if !hasOverride(job.Overrides, VersionKey) {
		fmt.Fprintf(h, "%q\n", VersionKey+"="+version)
	}
	for _, o := range job.Overrides {
		if !strings.HasPrefix(o, AptCacheKey+"=") {
			fmt.Fprintf(h, "%q\n", o)
		}
	}
	in.Args = hex.EncodeToString(h.Sum(nil))
	in.Env = envDigest(env, vars)
	return in, nil
}

// envDigest digests the variables of env the tool reads (see
// FilesystemInputs.Env); vars are those the config names.
func envDigest(env []string, vars map[string]bool) string {
	keep := map[string]string{}
	for k, v := range RecordedEnv(env) {
		keep[k] = v
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if vars[k] || k == "ARCH" || strings.HasPrefix(k, "DEB_") {
			keep[k] = v
		}
	}
	for name := range vars {
		if _, ok := keep[name]; !ok {
			keep[name] = "\x00unset"
		}
	}
	delete(keep, "IG_OFFLINE")
	delete(keep, "PIP_NO_DEPS")
	delete(keep, "GENIMAGE_VER")
	keys := make([]string, 0, len(keep))
	for k := range keep {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, keep[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// varRef finds $NAME and ${NAME} in config text.
var varRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// configFiles returns the config and, depth first, the files it includes,
// each with its symlinks resolved (rpi-image-gen resolves the config's
// path and looks for includes beside the real file, then in the config/
// dirs of the layers and of the tree), and the variables their text names.
func configFiles(path, srcDir, toolDir string) ([]string, map[string]bool, error) {
	var files []string
	vars := map[string]bool{}
	seen := map[string]bool{}
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("config %s: %w", p, err)
		}
		if seen[real] {
			return nil
		}
		if depth > 16 {
			return fmt.Errorf("config %s: includes nested too deep", p)
		}
		seen[real] = true
		files = append(files, real)
		b, err := os.ReadFile(real)
		if err != nil {
			return fmt.Errorf("reading config %s: %w", p, err)
		}
		for _, m := range varRef.FindAllSubmatch(b, -1) {
			vars[string(m[1])] = true
		}
		c, err := config.ParseConfig(real, b)
		if err != nil {
			return err
		}
		c.IncludePath = []string{filepath.Join(srcDir, "config"), filepath.Join(toolDir, "config")}
		incs, err := c.Includes()
		if err != nil {
			return err
		}
		for _, inc := range incs {
			if err := walk(inc, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(path, 0); err != nil {
		return nil, nil, err
	}
	return files, vars, nil
}

// configDigest digests the config files and the host files and folders
// their values name (absolute or ~/ paths, after expanding variables
// from env). Only regular files are read (at most 16 MiB each); a folder
// is digested one level deep; anything else (a device, a socket) only by
// its type.
func configDigest(files, env []string) (string, error) {
	h := sha256.New()
	home := envValue(env, "HOME")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("reading config %s: %w", f, err)
		}
		fmt.Fprintf(h, "config %q %d\n", f, len(b))
		h.Write(b)
		for _, p := range namedPaths(b, env, home) {
			fmt.Fprintf(h, "names %q\n", p)
			hostPathDigest(h, p)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pathValue finds a YAML value ("key: VALUE" or "- VALUE") that is a
// path: it starts with / or ~/ (variables are expanded first).
var pathValue = regexp.MustCompile(`(?:^\s*-\s+|:\s+)["']?((?:/|~/)[^\s"'#,\]}]*)`)

// namedPaths returns the absolute paths config text names as values.
func namedPaths(b []byte, env []string, home string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := os.Expand(sc.Text(), func(k string) string { return envValue(env, k) })
		for _, m := range pathValue.FindAllStringSubmatch(line, -1) {
			p := m[1]
			if strings.HasPrefix(p, "~/") && home != "" {
				p = filepath.Join(home, p[2:])
			}
			if filepath.IsAbs(p) {
				out = append(out, filepath.Clean(p))
			}
		}
	}
	return out
}

// hostPathDigest writes what is at p (symlinks followed) into h without
// opening anything but regular files.
func hostPathDigest(h hash.Hash, p string) {
	fi, err := os.Stat(p)
	if err != nil {
		fmt.Fprintf(h, "missing\n")
		return
	}
	switch {
	case fi.Mode().IsRegular():
		fmt.Fprintf(h, "file %o %d\n", fi.Mode(), fi.Size())
		if fi.Size() <= 16<<20 {
			_ = hashFile(h, p)
		}
	case fi.IsDir():
		ents, _ := os.ReadDir(p)
		fmt.Fprintf(h, "dir %d\n", len(ents))
		for i, e := range ents {
			if i == 256 {
				break
			}
			efi, err := e.Info()
			if err != nil {
				continue
			}
			fmt.Fprintf(h, "%q %o %d\n", e.Name(), efi.Mode(), efi.Size())
			if efi.Mode().IsRegular() && efi.Size() <= 1<<20 {
				_ = hashFile(h, filepath.Join(p, e.Name()))
			}
		}
	default:
		fmt.Fprintf(h, "other %o\n", fi.Mode().Type())
	}
}

// treeDigest digests every file under root (path, mode, link target or
// content) but .git, __pycache__, *.pyc and the folders skip.
func treeDigest(root string, skip ...string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (d.Name() == ".git" || d.Name() == "__pycache__" || slices.Contains(skip, p)) {
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
