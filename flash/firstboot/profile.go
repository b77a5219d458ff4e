package firstboot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ErrNoProfile is matched by errors about a profile that does not exist.
var ErrNoProfile = errors.New("no such profile")

var reProfile = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// profileFile is the saved form of a profile (also the export format).
type profileFile struct {
	// Kind marks the file ("pistudio-settings-profile").
	Kind string `json:"kind"`
	// Version is the format version (1).
	Version int `json:"version"`
	// Name is the profile's name.
	Name string `json:"name,omitempty"`
	// Settings hold only hashed secrets.
	Settings Settings `json:"settings"`
}

const profileKind = "pistudio-settings-profile"

// Profiles stores named Settings as JSON files in one directory.
type Profiles struct {
	// Dir is the directory (created on the first save).
	Dir string
}

// DefaultProfiles returns the profiles in the user's config dir
// (~/.config/pistudio/profiles on Linux).
func DefaultProfiles() (*Profiles, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("finding the config dir: %w", err)
	}
	return &Profiles{Dir: filepath.Join(d, "pistudio", "profiles")}, nil
}

// CheckProfileName refuses names that are not a plain file name.
func CheckProfileName(name string) error {
	if !reProfile.MatchString(name) {
		return fmt.Errorf("%q is not a profile name: letters, digits, '.', '_' and '-', up to 64, starting with a letter or digit", name)
	}
	return nil
}

func (p *Profiles) path(name string) (string, error) {
	if err := CheckProfileName(name); err != nil {
		return "", err
	}
	return filepath.Join(p.Dir, name+".json"), nil
}

// Save hashes s's typed secrets and stores it as name (0600, replacing
// any profile of that name).
func (p *Profiles) Save(name string, s Settings) error {
	path, err := p.path(name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := Export(&buf, name, s); err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", p.Dir, err)
	}
	tmp, err := os.CreateTemp(p.Dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("saving profile %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("saving profile %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving profile %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving profile %s: %w", name, err)
	}
	return nil
}

// Load reads the profile name.
func (p *Profiles) Load(name string) (Settings, error) {
	path, err := p.path(name)
	if err != nil {
		return Settings{}, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Settings{}, fmt.Errorf("%w %q in %s", ErrNoProfile, name, p.Dir)
	}
	if err != nil {
		return Settings{}, fmt.Errorf("reading profile %s: %w", name, err)
	}
	defer f.Close()
	s, _, err := Import(f)
	if err != nil {
		return Settings{}, fmt.Errorf("profile %s: %w", name, err)
	}
	return s, nil
}

// List returns the saved profile names, sorted (none when the directory
// does not exist).
func (p *Profiles) List() ([]string, error) {
	ents, err := os.ReadDir(p.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing profiles: %w", err)
	}
	var out []string
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && reProfile.MatchString(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Delete removes the profile name.
func (p *Profiles) Delete(name string) error {
	path, err := p.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w %q", ErrNoProfile, name)
	} else if err != nil {
		return fmt.Errorf("deleting profile %s: %w", name, err)
	}
	return nil
}

// Export writes s (secrets hashed first) as a profile file named name.
func Export(w io.Writer, name string, s Settings) error {
	h, err := s.Hash()
	if err != nil {
		return err
	}
	if err := h.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(profileFile{Kind: profileKind, Version: 1, Name: name, Settings: h}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the profile: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing the profile: %w", err)
	}
	return nil
}

// Import reads a profile file, returning its settings and name. Unknown
// keys are refused, and so is a file that is not a profile.
func Import(r io.Reader) (Settings, string, error) {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	var pf profileFile
	if err := dec.Decode(&pf); err != nil {
		return Settings{}, "", fmt.Errorf("reading the profile: %w", err)
	}
	if pf.Kind != profileKind || pf.Version != 1 {
		return Settings{}, "", fmt.Errorf("not a settings profile (kind %q, version %d)", pf.Kind, pf.Version)
	}
	if err := pf.Settings.Validate(); err != nil {
		return Settings{}, "", err
	}
	return pf.Settings, pf.Name, nil
}
