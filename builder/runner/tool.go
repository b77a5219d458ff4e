package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ToolEnvVar names the environment variable that points at an
// rpi-image-gen checkout.
const ToolEnvVar = "PISTUDIO_RPI_IMAGE_GEN"

// ToolScript is the file name that marks an rpi-image-gen checkout.
const ToolScript = "rpi-image-gen"

// ErrToolNotFound is wrapped by FindTool when no checkout is found.
var ErrToolNotFound = errors.New("rpi-image-gen not found")

// FindTool locates the rpi-image-gen checkout: flagDir (--rpi-image-gen),
// else $PISTUDIO_RPI_IMAGE_GEN, else the directory of rpi-image-gen on
// PATH (symlinks resolved), else ~/rpi-image-gen. A candidate counts when
// it holds an rpi-image-gen script. An explicit flag or variable that does
// not is an error on its own. getenv nil means os.Getenv.
func FindTool(flagDir string, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var looked []string
	check := func(dir, how string) (string, bool) {
		if dir == "" {
			return "", false
		}
		abs, err := filepath.Abs(dir)
		if err == nil {
			dir = abs
		}
		looked = append(looked, fmt.Sprintf("%s (%s)", dir, how))
		st, err := os.Stat(filepath.Join(dir, ToolScript))
		return dir, err == nil && st.Mode().IsRegular()
	}
	notFound := func() error {
		return fmt.Errorf("%w; looked in:\n  %s\nget it with: git clone https://github.com/raspberrypi/rpi-image-gen\nthen pass --rpi-image-gen DIR or set %s=DIR",
			ErrToolNotFound, strings.Join(looked, "\n  "), ToolEnvVar)
	}
	if flagDir != "" {
		if d, ok := check(flagDir, "--rpi-image-gen"); ok {
			return d, nil
		}
		return "", notFound()
	}
	if env := getenv(ToolEnvVar); env != "" {
		if d, ok := check(env, "$"+ToolEnvVar); ok {
			return d, nil
		}
		return "", notFound()
	}
	if p, err := lookPath(ToolScript, getenv("PATH")); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if d, ok := check(filepath.Dir(p), "rpi-image-gen on PATH"); ok {
			return d, nil
		}
	} else {
		looked = append(looked, "rpi-image-gen on $PATH (not found)")
	}
	if home := getenv("HOME"); home != "" {
		if d, ok := check(filepath.Join(home, "rpi-image-gen"), "home directory"); ok {
			return d, nil
		}
	}
	return "", notFound()
}

// lookPath finds an executable file in the PATH list path.
func lookPath(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}
