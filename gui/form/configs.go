package form

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/atomicfile"
)

// Configs loads and validates configs with package builder.
type Configs struct{}

// Load reads a config file.
func (Configs) Load(path string) (*config.Config, error) {
	c, err := config.LoadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return c, nil
}

// New starts from the shipped minimal example.
func (Configs) New() (*config.Config, error) {
	b, err := assets.Config("minimal-config.yaml")
	if err != nil {
		return nil, fmt.Errorf("reading the config template: %w", err)
	}
	c, err := config.ParseConfig("untitled.yaml", b)
	if err != nil {
		return nil, fmt.Errorf("reading the config template: %w", err)
	}
	c.Path = ""
	return c, nil
}

// Save writes config text to path with atomicfile.WriteFile.
func (Configs) Save(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	return nil
}

// Catalog loads our embedded layers and those of the tool dir (detected
// when toolDir is empty; without a tool only our own layers are known).
func (Configs) Catalog(toolDir string) (Catalog, error) {
	if toolDir == "" {
		toolDir, _ = runner.FindTool("", nil)
	}
	c, err := layers.LoadCatalog(layers.CatalogOptions{ToolDir: toolDir, Embedded: true})
	if err != nil {
		return nil, err
	}
	cat := newCatalog(c)
	cat.noTool = toolDir == ""
	return cat, nil
}

// EmbeddedCatalog is the catalog as it is without rpi-image-gen: only the
// layers shipped inside pistudio. Validate then checks the values of their
// variables and nothing else.
func (Configs) EmbeddedCatalog() (Catalog, error) {
	c, err := layers.LoadCatalog(layers.CatalogOptions{Embedded: true})
	if err != nil {
		return nil, err
	}
	cat := newCatalog(c)
	cat.noTool = true
	return cat, nil
}

// Validate runs layers.Validate.
func (Configs) Validate(c *config.Config, cat Catalog) []Problem {
	bc, ok := cat.(*catalog)
	if !ok {
		return nil
	}
	if bc.noTool {
		return validateWithoutTool(c, bc)
	}
	var out []Problem
	for _, p := range layers.Validate(c, bc.c) {
		out = append(out, formProblem(p))
	}
	return out
}

// formProblem is p as the form shows it. Line is a line of the config;
// a problem located in a layer's header names the layer file and line in
// its message instead.
func formProblem(p layers.Problem) Problem {
	msg, line := p.Msg, p.Line
	switch {
	case p.InLayer:
		where := fmt.Sprintf("%s line %d", p.File, p.Line)
		if p.Layer != "" {
			where = "layer " + p.Layer + ", " + where
		}
		msg += " (" + where + ")"
		line = 0
	case p.Layer != "" && !strings.Contains(msg, p.Layer):
		msg += " (layer " + p.Layer + ")"
	}
	return Problem{Key: p.Key, Line: line, Msg: msg}
}

// catalog is a layers.Catalog seen as a Catalog.
type catalog struct {
	c      *layers.Catalog
	layers []Layer
	noTool bool // rpi-image-gen was not found: only our own layers are known
}

// validateWithoutTool checks what can be checked without rpi-image-gen:
// the values of the variables of our own layers, against their rules. The
// layers only rpi-image-gen has are not reported as errors of the config:
// the app says once that they are unknown until the tool is found.
func validateWithoutTool(c *config.Config, cat *catalog) []Problem {
	var out []Problem
	vars, err := c.OrderedVars()
	if err != nil {
		return []Problem{{Msg: err.Error()}}
	}
	rules := map[string]Var{}
	for _, l := range cat.layers {
		for _, v := range l.Vars {
			rules[v.Key] = v
		}
	}
	for _, v := range vars {
		key := v.Section + "." + v.Key
		r, ok := rules[key]
		if !ok || r.Check == nil {
			continue
		}
		if err := r.Check(v.Value); err != nil {
			out = append(out, Problem{Key: key, Line: v.Line, Msg: err.Error()})
		}
	}
	return out
}

func newCatalog(c *layers.Catalog) *catalog {
	out := &catalog{c: c}
	for _, l := range c.Layers {
		out.layers = append(out.layers, convertLayer(l))
	}
	sort.Slice(out.layers, func(i, j int) bool { return out.layers[i].Name < out.layers[j].Name })
	return out
}

func (c *catalog) Layers() []Layer { return c.layers }

func (c *catalog) Lookup(name string) (Layer, bool) {
	l, ok := c.c.Lookup(name)
	if !ok {
		return Layer{}, false
	}
	return convertLayer(l), true
}

// category maps rpi-image-gen layer categories onto the form's groups:
// Debian suites are the "base" the config's layer.base names.
func category(c string) string {
	switch c {
	case "device":
		return CategoryDevice
	case "image":
		return CategoryImage
	case "suite":
		return CategoryBase
	case "base":
		return "foundation"
	}
	return c
}

func convertLayer(l *layers.Layer) Layer {
	out := Layer{Name: l.Name, Desc: l.Desc, Category: category(l.Category)}
	for _, v := range l.Vars {
		out.Vars = append(out.Vars, convertVar(l.VarPrefix, v))
	}
	return out
}

func convertVar(prefix string, v layers.Var) Var {
	bv := Var{Key: prefix + "." + v.Name, Name: v.Name, Default: v.Default, Desc: v.Desc, Required: v.Required}
	rule := v.Valid
	switch rule.Kind() {
	case layers.KindEnum:
		bv.Kind, bv.Choices = KindEnum, rule.Choices()
	case layers.KindBool:
		bv.Kind = KindBool
	case layers.KindInt:
		bv.Kind = KindInt
	case layers.KindSize, layers.KindCapacity:
		bv.Kind = KindSize
	}
	if rule.Kind() != layers.KindNone {
		bv.Check = func(s string) error {
			if layers.IsDynamic(s) {
				return nil // expanded at build time, as Validate skips it
			}
			return rule.Check(s, true)
		}
	}
	return bv
}
