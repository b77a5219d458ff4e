package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// VarValue is one config value as the variable rpi-image-gen derives
// from it: section S, key k → IGconf_S_k.
type VarValue struct {
	// Name is the variable name, IGconf_<section>_<key> (lower-cased);
	// for the env: section, the key itself.
	Name string
	// Section and Key are as written in the config.
	Section, Key string
	// Value is the value, unexpanded (${VAR} and $(cmd) kept).
	Value string
	// File is the config file the value came from (after includes).
	File string
	// Line is the value's key line in File.
	Line int
}

// ErrIncludeCycle is wrapped by errors for include cycles.
var ErrIncludeCycle = errors.New("include cycle")

// EnvName returns the variable name for section and key.
func EnvName(section, key string) string {
	return "IGconf_" + strings.ToLower(section) + "_" + strings.ToLower(key)
}

// SplitEnvName is the inverse of EnvName: the config section and key of
// an IGconf_<section>_<key> variable, the section ending at the first '_'
// (IGconf_linux_page_size is linux: {page_size: ...}). ok is false for a
// name without the IGconf_ prefix; key is "" when the name has no '_'
// after the section.
func SplitEnvName(name string) (section, key string, ok bool) {
	rest, ok := strings.CutPrefix(name, "IGconf_")
	if !ok {
		return "", "", false
	}
	section, key, _ = strings.Cut(rest, "_")
	return section, key, true
}

// Includes returns the files named by the include: section (a mapping
// with file:, or a list of names), resolved relative to the config's
// directory, else found in IncludePath, in order (later entries win when
// merging).
func (c *Config) Includes() ([]string, error) {
	es, err := c.includeEntries()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.path
	}
	return out, nil
}

// includeEntry is one include: name with where it is written.
type includeEntry struct {
	name, path string
	line, col  int
}

func (c *Config) includeEntries() ([]includeEntry, error) {
	l, n := c.find([]string{"include"})
	if n != 1 {
		return nil, nil
	}
	var names []*yaml.Node
	v := l.val
	switch v.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			if v.Content[i].Value == "file" && v.Content[i+1].Kind == yaml.ScalarNode {
				names = append(names, v.Content[i+1])
			}
		}
		if len(names) == 0 || names[0].Value == "" {
			return nil, &ParseError{File: c.Path, Line: l.key.Line, Column: l.key.Column, Msg: "include: mapping has no 'file' key"}
		}
	case yaml.SequenceNode:
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return nil, &ParseError{File: c.Path, Line: it.Line, Column: it.Column, Msg: "include: list must hold file names"}
			}
			names = append(names, it)
		}
	default:
		return nil, &ParseError{File: c.Path, Line: l.key.Line, Column: l.key.Column, Msg: "include: must be a mapping (file: x.yaml) or a list of file names"}
	}
	dir := filepath.Dir(c.Path)
	out := make([]includeEntry, 0, len(names))
	for _, nn := range names {
		nm := nn.Value
		if filepath.IsAbs(nm) {
			return nil, &ParseError{File: c.Path, Line: nn.Line, Column: nn.Column, Msg: fmt.Sprintf("include %q: absolute include paths are not allowed", nm)}
		}
		p := filepath.Join(dir, nm)
		if !fileExists(p) {
			for _, d := range c.IncludePath {
				if q := filepath.Join(d, nm); fileExists(q) {
					p = q
					break
				}
			}
		}
		out = append(out, includeEntry{name: nm, path: p, line: nn.Line, col: nn.Column})
	}
	return out, nil
}

// loadInclude loads the included file of e; a file that cannot be read is
// a ParseError at the include: entry.
func (c *Config) loadInclude(e includeEntry) (*Config, error) {
	ic, err := LoadConfig(e.path)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("include from %s: %w", c.Path, err)
		}
		return nil, &ParseError{File: c.Path, Line: e.line, Column: e.col, Msg: fmt.Sprintf("include %q: %v", e.name, errors.Unwrap(err)), Err: err}
	}
	ic.IncludePath = c.IncludePath
	return ic, nil
}

// sectionValues flattens one config file (no includes) in file order.
func (c *Config) sectionValues() ([]VarValue, error) {
	r := c.root()
	if r == nil {
		return nil, nil
	}
	var out []VarValue
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := r.Content[i], r.Content[i+1]
		sect := k.Value
		if sect == "include" || sect == "trait" {
			continue
		}
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		switch v.Kind {
		case yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				name := EnvName(sect, v.Content[j].Value)
				if sect == "env" {
					name = v.Content[j].Value // exported raw
				}
				out = append(out, VarValue{Name: name, Section: sect, Key: v.Content[j].Value,
					Value: nodeString(v.Content[j+1]), File: c.Path, Line: v.Content[j].Line})
			}
		case yaml.SequenceNode:
			for j, it := range v.Content {
				key := strconv.Itoa(j)
				out = append(out, VarValue{Name: EnvName(sect, key), Section: sect, Key: key, Value: nodeString(it), File: c.Path, Line: it.Line})
			}
		default:
			return nil, &ParseError{File: c.Path, Line: k.Line, Column: k.Column, Msg: fmt.Sprintf("section %q must be a mapping or a list", sect)}
		}
	}
	return out, nil
}

// OrderedVars returns every section.key of the config merged with its
// includes, in the order rpi-image-gen writes them: included values
// first, later includes overriding earlier ones, the including file last.
// A value keeps its first position when overridden. Entries of the env:
// section keep their raw names (they are exported as written).
func (c *Config) OrderedVars() ([]VarValue, error) {
	visited := map[string]bool{}
	return c.merged(visited, nil)
}

func (c *Config) merged(visited map[string]bool, stack []string) ([]VarValue, error) {
	abs, err := filepath.Abs(c.Path)
	if err != nil {
		abs = c.Path
	}
	for _, s := range stack {
		if s == abs {
			return nil, fmt.Errorf("%w: %s includes itself via %s", ErrIncludeCycle, abs, strings.Join(append(stack, abs), " -> "))
		}
	}
	if visited[abs] {
		return nil, fmt.Errorf("%w: %s is included more than once (rpi-image-gen rejects this)", ErrIncludeCycle, abs)
	}
	visited[abs] = true
	stack = append(stack, abs)
	incs, err := c.includeEntries()
	if err != nil {
		return nil, err
	}
	var out []VarValue
	index := map[string]int{}
	add := func(vs []VarValue) {
		for _, v := range vs {
			if i, ok := index[v.Name]; ok {
				out[i] = v
				continue
			}
			index[v.Name] = len(out)
			out = append(out, v)
		}
	}
	for _, inc := range incs {
		if ia, err := filepath.Abs(inc.path); err == nil && (slices.Contains(stack, ia) || visited[ia]) {
			why := "include cycle: " + strings.Join(append(append([]string(nil), stack...), ia), " -> ")
			if !slices.Contains(stack, ia) {
				why = "is included more than once (rpi-image-gen rejects this)"
			}
			return nil, &ParseError{File: c.Path, Line: inc.line, Column: inc.col, Msg: fmt.Sprintf("include %q: %s", inc.name, why),
				Err: ErrIncludeCycle}
		}
		ic, err := c.loadInclude(inc)
		if err != nil {
			return nil, err
		}
		vs, err := ic.merged(visited, stack)
		if err != nil {
			return nil, err
		}
		add(vs)
	}
	own, err := c.sectionValues()
	if err != nil {
		return nil, err
	}
	add(own)
	return out, nil
}

// Vars returns OrderedVars keyed by variable name.
func (c *Config) Vars() (map[string]VarValue, error) {
	vs, err := c.OrderedVars()
	if err != nil {
		return nil, err
	}
	m := make(map[string]VarValue, len(vs))
	for _, v := range vs {
		m[v.Name] = v
	}
	return m, nil
}

// DeviceLayer returns device.layer of this file.
func (c *Config) DeviceLayer() string { v, _ := c.Get("device.layer"); return v }

// ImageLayer returns image.layer of this file.
func (c *Config) ImageLayer() string { v, _ := c.Get("image.layer"); return v }

// Layers returns the values of the layer: section (a mapping name→layer
// or a list) in file order.
func (c *Config) Layers() []string {
	var out []string
	for _, k := range c.Keys("layer") {
		if v, ok := c.Get("layer." + k); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Env returns the env: section (exported raw, not as IGconf_ names).
func (c *Config) Env() map[string]string {
	out := map[string]string{}
	for _, k := range c.Keys("env") {
		if v, ok := c.Get("env." + k); ok {
			out[k] = v
		}
	}
	return out
}

// Packages returns the packages: section's entries (list items, or mapping values).
func (c *Config) Packages() []string {
	var out []string
	for _, k := range c.Keys("packages") {
		if v, ok := c.Get("packages." + k); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}

// TargetLayers returns the layers a build of this config starts from, in
// rpi-image-gen's order: essential, then every device.layer, image.layer
// and layer.* value in the order the merged config lists them.
func TargetLayers(vars []VarValue) []string {
	out := []string{"essential"}
	for _, v := range vars {
		if v.Name == "IGconf_device_layer" || v.Name == "IGconf_image_layer" || strings.HasPrefix(v.Name, "IGconf_layer_") {
			if v.Value != "" {
				out = append(out, v.Value)
			}
		}
	}
	return out
}

// fileExists reports whether p names an existing regular file.
func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// TraitOverrides returns the trait: section merged over includes (the
// including file wins): token → value as written ("true", "false", ...).
func (c *Config) TraitOverrides() (map[string]string, error) {
	out := map[string]string{}
	if err := c.traitOverrides(out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Config) traitOverrides(out map[string]string, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%w: includes nested too deeply at %s", ErrIncludeCycle, c.Path)
	}
	incs, err := c.includeEntries()
	if err != nil {
		return err
	}
	for _, inc := range incs {
		ic, err := c.loadInclude(inc)
		if err != nil {
			return err
		}
		if err := ic.traitOverrides(out, depth+1); err != nil {
			return err
		}
	}
	for _, k := range c.Keys("trait") {
		if v, ok := c.Get("trait." + k); ok {
			out[k] = v
		}
	}
	return nil
}

// OverrideFile is the File of VarValues that come from KEY=VALUE
// overrides (the arguments after --) rather than from a config file.
const OverrideFile = "command line"

// ApplyOverrides applies KEY=VALUE overrides (as passed to rpi-image-gen
// after --, keyed by variable name such as IGconf_raid_devices=4) to vars,
// later ones winning. An override of a variable the config sets keeps the
// config's section and key; File becomes OverrideFile and Line 0.
func ApplyOverrides(vars map[string]VarValue, overrides []string) error {
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return fmt.Errorf("override %q is not KEY=VALUE", o)
		}
		vv := VarValue{Name: k, Value: v, File: OverrideFile}
		if old, ok := vars[k]; ok {
			vv.Section, vv.Key = old.Section, old.Key
		} else if sect, key, ok := SplitEnvName(k); ok {
			vv.Section, vv.Key = sect, key
		}
		vars[k] = vv
	}
	return nil
}

// MergedVars returns the config merged with its include chain (Vars) with
// the overrides applied on top: the values a build of the config sees.
func (c *Config) MergedVars(overrides []string) (map[string]VarValue, error) {
	vars, err := c.Vars()
	if err != nil {
		return nil, err
	}
	if err := ApplyOverrides(vars, overrides); err != nil {
		return nil, err
	}
	return vars, nil
}
