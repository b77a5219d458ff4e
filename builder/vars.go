package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// Includes returns the files named by the include: section (a mapping
// with file:, or a list of names), resolved relative to the config's
// directory, else found in IncludePath, in order (later entries win when
// merging).
func (c *Config) Includes() ([]string, error) {
	l, n := c.find([]string{"include"})
	if n != 1 {
		return nil, nil
	}
	var names []string
	v := l.val
	switch v.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(v.Content); i += 2 {
			if v.Content[i].Value == "file" && v.Content[i+1].Kind == yaml.ScalarNode {
				names = append(names, v.Content[i+1].Value)
			}
		}
		if len(names) == 0 || names[0] == "" {
			return nil, &ParseError{File: c.Path, Line: l.key.Line, Msg: "include: mapping has no 'file' key"}
		}
	case yaml.SequenceNode:
		for _, it := range v.Content {
			if it.Kind != yaml.ScalarNode {
				return nil, &ParseError{File: c.Path, Line: it.Line, Msg: "include: list must hold file names"}
			}
			names = append(names, it.Value)
		}
	default:
		return nil, &ParseError{File: c.Path, Line: l.key.Line, Msg: "include: must be a mapping (file: x.yaml) or a list of file names"}
	}
	dir := filepath.Dir(c.Path)
	out := make([]string, 0, len(names))
	for _, nm := range names {
		if filepath.IsAbs(nm) {
			return nil, &ParseError{File: c.Path, Line: l.key.Line, Msg: fmt.Sprintf("include %q: absolute include paths are not allowed", nm)}
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
		out = append(out, p)
	}
	return out, nil
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
	incs, err := c.Includes()
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
		ic, err := LoadConfig(inc)
		if err == nil {
			ic.IncludePath = c.IncludePath
		}
		if err != nil {
			return nil, fmt.Errorf("include from %s: %w", c.Path, err)
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
	incs, err := c.Includes()
	if err != nil {
		return err
	}
	for _, inc := range incs {
		ic, err := LoadConfig(inc)
		if err != nil {
			return fmt.Errorf("include from %s: %w", c.Path, err)
		}
		ic.IncludePath = c.IncludePath
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
