package layers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
)

// TraitRegistry holds the trait tokens of rpi-image-gen's trait/ trees
// (hw:soc:bcm2712, boot:gpt, ...). It knows each token's hierarchy and its
// unconditional (when=y) Triggers, which is what a static check needs to
// tell whether a build provides a token.
type TraitRegistry struct {
	defs map[string]*traitDef
}

type traitDef struct {
	name     string
	desc     string
	valid    string
	triggers []string // targets of unconditional "when=y set (target)=y" rules
	file     string
}

var triggerRe = regexp.MustCompile(`^when=(.*)\s+set\s+\(([^)]+)\)=(\S+)$`)

// LoadTraits reads the *.deb822 files at the top of each trait dir and
// everything they Include. Missing dirs are skipped.
func LoadTraits(dirs ...string) (*TraitRegistry, error) {
	r := &TraitRegistry{defs: map[string]*traitDef{}}
	visited := map[string]bool{}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.deb822"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			if err := r.load(f, "", visited); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

func (r *TraitRegistry) load(path, prefix string, visited map[string]bool) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if visited[abs] {
		return nil
	}
	visited[abs] = true
	data, err := os.ReadFile(abs)
	if err != nil {
		return fmt.Errorf("trait file: %w", err)
	}
	// A trait file is a bare deb822 stanza: wrap it as a header.
	var b strings.Builder
	b.WriteString("# METABEGIN\n")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			line = ""
		}
		b.WriteString("# " + line + "\n")
	}
	b.WriteString("# METAEND\n")
	fields, _, err := rawHeader(abs, []byte(b.String()))
	if err != nil {
		var pe *config.ParseError
		if errors.As(err, &pe) {
			pe.Line-- // account for the wrapper line
		}
		return err
	}
	l := &Layer{}
	if err := parseTraits(l, fields, abs); err != nil {
		return err
	}
	for _, t := range l.Traits {
		if _, ok := t.Attrs["Desc"]; !ok {
			continue
		}
		name := t.Name
		if prefix != "" {
			name = prefix + ":" + t.Name
		}
		d := &traitDef{name: name, desc: t.Attrs["Desc"], valid: t.Attrs["Valid"], file: abs}
		for _, line := range nonEmptyLines(t.Attrs["Triggers"]) {
			if m := triggerRe.FindStringSubmatch(line); m != nil && strings.TrimSpace(m[1]) == "y" && isTrue(m[3]) {
				d.triggers = append(d.triggers, m[2])
			}
		}
		r.defs[name] = d
		for _, inc := range strings.Split(t.Attrs["Include"], ",") {
			if inc = strings.TrimSpace(inc); inc == "" {
				continue
			}
			if err := r.load(filepath.Join(filepath.Dir(abs), inc), name, visited); err != nil {
				return err
			}
		}
	}
	return nil
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "y", "yes", "true", "1":
		return true
	}
	return false
}

// Has reports whether token is defined.
func (r *TraitRegistry) Has(token string) bool {
	if r == nil {
		return false
	}
	_, ok := r.defs[token]
	return ok
}

// Tokens returns every defined token (namespace nodes included), sorted.
func (r *TraitRegistry) Tokens() []string {
	if r == nil {
		return nil
	}
	out := make([]string, 0, len(r.defs))
	for n := range r.defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Desc returns a token's description.
func (r *TraitRegistry) Desc(token string) string {
	if d, ok := r.defs[token]; ok {
		return d.desc
	}
	return ""
}

// Expand returns token, its ancestors (hw:soc for hw:soc:bcm2712) and,
// recursively, the targets of its unconditional Triggers.
func (r *TraitRegistry) Expand(token string) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(t string)
	walk = func(t string) {
		if seen[t] {
			return
		}
		seen[t] = true
		parts := strings.Split(t, ":")
		for i := 2; i < len(parts); i++ {
			walk(strings.Join(parts[:i], ":"))
		}
		out = append(out, t)
		if r != nil {
			if d, ok := r.defs[t]; ok {
				for _, tg := range d.triggers {
					walk(tg)
				}
			}
		}
	}
	walk(token)
	return out
}
