package adapt

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/gui/backend"
)

// doc is a config.Config seen as a backend.ConfigDoc.
type doc struct{ c *config.Config }

func (d doc) Get(key string) (string, bool) { return d.c.Get(key) }

func (d doc) Set(key, value string) error {
	if err := d.c.Set(key, value); err != nil {
		return fmt.Errorf("setting %s: %w", key, err)
	}
	return nil
}

func (d doc) Bytes() ([]byte, error) { return d.c.Bytes(), nil }

// errForeignDoc is returned for a ConfigDoc this package did not make.
var errForeignDoc = errors.New("config was not loaded by the builder")

func unwrap(d backend.ConfigDoc) (*config.Config, error) {
	x, ok := d.(doc)
	if !ok {
		return nil, errForeignDoc
	}
	return x.c, nil
}

// Configs loads and validates configs with package builder.
type Configs struct{}

// Load reads a config file.
func (Configs) Load(path string) (backend.ConfigDoc, error) {
	c, err := config.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return doc{c}, nil
}

// Parse parses config text named name.
func (Configs) Parse(name string, data []byte) (backend.ConfigDoc, error) {
	c, err := config.ParseConfig(name, data)
	if err != nil {
		return nil, err
	}
	return doc{c}, nil
}

// New starts from the shipped minimal example.
func (Configs) New() (backend.ConfigDoc, error) {
	b, err := assets.Config("minimal-config.yaml")
	if err != nil {
		return nil, err
	}
	c, err := config.ParseConfig("untitled.yaml", b)
	if err != nil {
		return nil, err
	}
	c.Path = ""
	return doc{c}, nil
}

// Save writes config text to path with WriteFileAtomic.
func (Configs) Save(path string, data []byte) error {
	if err := WriteFileAtomic(path, data); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	return nil
}

// Catalog loads our embedded layers and those of the tool dir (detected
// when toolDir is empty; without a tool only our own layers are known).
func (Configs) Catalog(toolDir string) (backend.Catalog, error) {
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
func (Configs) EmbeddedCatalog() (backend.Catalog, error) {
	c, err := layers.LoadCatalog(layers.CatalogOptions{Embedded: true})
	if err != nil {
		return nil, err
	}
	cat := newCatalog(c)
	cat.noTool = true
	return cat, nil
}

// Validate runs layers.Validate.
func (Configs) Validate(d backend.ConfigDoc, cat backend.Catalog) []backend.Problem {
	c, err := unwrap(d)
	if err != nil {
		return []backend.Problem{{Msg: err.Error()}}
	}
	bc, ok := cat.(*catalog)
	if !ok {
		return nil
	}
	if bc.noTool {
		return validateWithoutTool(c, bc)
	}
	var out []backend.Problem
	for _, p := range layers.Validate(c, bc.c) {
		msg := p.Msg
		if p.Layer != "" && !strings.Contains(msg, p.Layer) {
			msg += " (layer " + p.Layer + ")"
		}
		out = append(out, backend.Problem{Key: p.Key, Line: p.Line, Msg: msg})
	}
	return out
}

// catalog is a layers.Catalog seen as a backend.Catalog.
type catalog struct {
	c      *layers.Catalog
	layers []backend.Layer
	noTool bool // rpi-image-gen was not found: only our own layers are known
}

// validateWithoutTool checks what can be checked without rpi-image-gen:
// the values of the variables of our own layers, against their rules. The
// layers only rpi-image-gen has are not reported as errors of the config:
// the app says once that they are unknown until the tool is found.
func validateWithoutTool(c *config.Config, cat *catalog) []backend.Problem {
	var out []backend.Problem
	vars, err := c.OrderedVars()
	if err != nil {
		return []backend.Problem{{Msg: err.Error()}}
	}
	rules := map[string]backend.Var{}
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
			out = append(out, backend.Problem{Key: key, Line: v.Line, Msg: err.Error()})
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

func (c *catalog) Layers() []backend.Layer { return c.layers }

func (c *catalog) Lookup(name string) (backend.Layer, bool) {
	l, ok := c.c.Lookup(name)
	if !ok {
		return backend.Layer{}, false
	}
	return convertLayer(l), true
}

// category maps rpi-image-gen layer categories onto the form's groups:
// Debian suites are the "base" the config's layer.base names.
func category(c string) string {
	switch c {
	case "device":
		return backend.CategoryDevice
	case "image":
		return backend.CategoryImage
	case "suite":
		return backend.CategoryBase
	case "base":
		return "foundation"
	}
	return c
}

func convertLayer(l *layers.Layer) backend.Layer {
	out := backend.Layer{Name: l.Name, Desc: l.Desc, Category: category(l.Category)}
	for _, v := range l.Vars {
		out.Vars = append(out.Vars, convertVar(l.VarPrefix, v))
	}
	return out
}

func convertVar(prefix string, v layers.Var) backend.Var {
	bv := backend.Var{Key: prefix + "." + v.Name, Name: v.Name, Default: v.Default, Desc: v.Desc, Required: v.Required}
	rule := v.Valid
	switch rule.Kind() {
	case layers.KindEnum:
		bv.Kind, bv.Choices = backend.KindEnum, rule.Choices()
	case layers.KindBool:
		bv.Kind = backend.KindBool
	case layers.KindInt:
		bv.Kind = backend.KindInt
	case layers.KindSize, layers.KindCapacity:
		bv.Kind = backend.KindSize
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

// Tool finds rpi-image-gen and runs the runner's preflight checks.
type Tool struct{}

// Find locates the tool (flag dir, $PISTUDIO_RPI_IMAGE_GEN, PATH, ~/rpi-image-gen).
func (Tool) Find(dir string) (string, error) { return runner.FindTool(dir, nil) }

// Version asks git for the checkout's version.
func (Tool) Version(dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "describe", "--tags", "--always").Output()
	if err != nil {
		return "", fmt.Errorf("reading the tool version: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Preflight runs the runner's checks for a build with dir and workDir.
func (Tool) Preflight(_ context.Context, dir, workDir string) []backend.Check {
	var skip []string
	if workDir == "" {
		skip = append(skip, runner.CheckWorkDir) // the check would create it
	}
	var out []backend.Check
	for _, c := range runner.Preflight(runner.Job{ToolDir: dir, WorkDir: workDir}, runner.Host{}, skip...) {
		d := c.Msg
		if c.Fix != "" {
			d += " — " + c.Fix
		}
		out = append(out, backend.Check{Name: c.Name, OK: c.OK && !c.Warning, Detail: d})
	}
	return out
}
