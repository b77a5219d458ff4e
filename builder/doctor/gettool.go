package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// UpstreamURL is the rpi-image-gen repository.
const UpstreamURL = "https://github.com/raspberrypi/rpi-image-gen"

// UpstreamRelease is the release Pi Image Studio is tested against.
const UpstreamRelease = "v2.8.0"

// DefaultToolDirHint names DefaultToolDir for messages.
const DefaultToolDirHint = "~/rpi-image-gen"

// DefaultToolDir is where GetTool puts the tree by default and where the
// tool search looks last: ~/rpi-image-gen.
func DefaultToolDir() (string, error) {
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home folder: %w", err)
	}
	return filepath.Join(h, "rpi-image-gen"), nil
}

// ErrToolDirExists is returned by GetTool when dir already exists and is
// not empty: it never clones over anything.
var ErrToolDirExists = errors.New("folder exists and is not empty")

// CloneProgress is one step of GetTool's clone.
type CloneProgress struct {
	// Phase is git's phase ("Receiving objects", "Resolving deltas"...).
	Phase string
	// Percent is the phase's progress, 0-100.
	Percent int
	// Line is git's line as printed.
	Line string
}

// GetTool clones UpstreamURL at UpstreamRelease into dir (a shallow
// clone of that tag) with git, reporting git's progress. A dir that
// exists and is not empty is refused (ErrToolDirExists); a failed or
// cancelled clone leaves no dir behind. gitPath "" means git on PATH.
func GetTool(ctx context.Context, dir, gitPath string, progress func(CloneProgress)) error {
	if gitPath == "" {
		gitPath = "git"
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("getting rpi-image-gen into %s: %w", dir, ErrToolDirExists)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("getting rpi-image-gen: %w", err)
	}
	_, statErr := os.Stat(dir)
	existed := statErr == nil
	cmd := exec.CommandContext(ctx, gitPath, "clone", "--progress", "--depth", "1", "--branch", UpstreamRelease,
		"-c", "advice.detachedHead=false", UpstreamURL, dir)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "LC_ALL=C")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("getting rpi-image-gen: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("getting rpi-image-gen: starting git: %w", err)
	}
	last := readCloneProgress(stderr, progress)
	if err := cmd.Wait(); err != nil {
		if existed {
			clearDir(dir)
		} else {
			os.RemoveAll(dir)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("getting rpi-image-gen: %w", ctx.Err())
		}
		return fmt.Errorf("getting rpi-image-gen: git clone %s: %w: %s", UpstreamURL, err, last)
	}
	return nil
}

func clearDir(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

var progressRe = regexp.MustCompile(`^(?:remote: )?([A-Za-z ]+):\s+(\d{1,3})%`)

// readCloneProgress reads git's stderr (lines end in \r or \n) and
// returns the last line, for the error message.
func readCloneProgress(r io.Reader, progress func(CloneProgress)) string {
	sc := bufio.NewScanner(r)
	sc.Split(splitCRLF)
	last := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		last = line
		if progress == nil {
			continue
		}
		p := CloneProgress{Line: line}
		if m := progressRe.FindStringSubmatch(line); m != nil {
			p.Phase = strings.TrimSpace(m[1])
			p.Percent, _ = strconv.Atoi(m[2])
		}
		progress(p)
	}
	return last
}

// splitCRLF splits at \r or \n.
func splitCRLF(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\r' || b == '\n' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}
