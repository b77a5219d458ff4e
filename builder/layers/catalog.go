package layers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/assets"
)

// LayerDirs are the directories of a source tree that hold layers.
var LayerDirs = []string{"device", "image", "layer"}

// CatalogOptions says where LoadCatalog looks for layers.
type CatalogOptions struct {
	// ToolDir is the rpi-image-gen checkout ("" to skip it).
	ToolDir string
	// SourceDirs are -S dirs, searched before the tool's own dirs, in order.
	SourceDirs []string
	// Embedded adds the layers shipped inside pistudio (searched after the
	// -S dirs and before the tool's dirs).
	Embedded bool
	// EmbeddedFS replaces assets.Layers() (for tests); nil means assets.Layers().
	EmbeddedFS fs.FS
}

// Catalog is the set of layers visible to a build: the first layer found
// under each name wins.
type Catalog struct {
	// Layers holds the winning layer of each name, in search order.
	Layers []*Layer
	// Shadowed holds layers hidden by an earlier one of the same name.
	Shadowed []*Layer
	// Errors holds per-file parse errors (*ParseError); those files are skipped.
	Errors []error
	// Warnings holds lint findings of every loaded layer.
	Warnings []Lint
	// Traits holds the trait tokens of the tool's and the -S dirs' trait/
	// trees (empty when there are none).
	Traits *TraitRegistry
	byName map[string]*Layer
}

// EmbeddedSource is the Layer.Source of layers shipped inside pistudio.
const EmbeddedSource = "embedded"

// LoadCatalog reads every layer file (*.yaml with a METABEGIN header) of
// the -S dirs, the embedded layers and the tool dir. A dir that cannot be
// read is an error; a file that does not parse is recorded in Errors.
func LoadCatalog(opts CatalogOptions) (*Catalog, error) {
	c := &Catalog{byName: map[string]*Layer{}}
	for _, d := range opts.SourceDirs {
		if err := c.addDir(d, d); err != nil {
			return nil, err
		}
	}
	if opts.Embedded {
		efs := opts.EmbeddedFS
		if efs == nil {
			efs = assets.Layers()
		}
		if err := c.addFS(efs, EmbeddedSource, func(p string) (string, Placeholders) {
			f := "embedded:" + p
			return f, Placeholders{Filename: path.Base(p), Directory: "embedded:" + path.Dir(p), Filepath: f}
		}); err != nil {
			return nil, err
		}
	}
	if opts.ToolDir != "" {
		if err := c.addDir(opts.ToolDir, opts.ToolDir); err != nil {
			return nil, err
		}
	}
	var traitDirs []string
	if opts.ToolDir != "" {
		traitDirs = append(traitDirs, filepath.Join(opts.ToolDir, "trait"))
	}
	for _, d := range opts.SourceDirs {
		traitDirs = append(traitDirs, filepath.Join(d, "trait"))
	}
	tr, err := LoadTraits(traitDirs...)
	if err != nil {
		c.Errors = append(c.Errors, err)
		tr = &TraitRegistry{defs: map[string]*traitDef{}}
	}
	c.Traits = tr
	return c, nil
}

func (c *Catalog) addDir(dir, source string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("layer source dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("layer source dir %s: not a directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("layer source dir: %w", err)
	}
	return c.addFS(os.DirFS(abs), source, func(p string) (string, Placeholders) {
		f := filepath.Join(abs, filepath.FromSlash(p))
		return f, Placeholders{Filename: filepath.Base(f), Directory: filepath.Dir(f), Filepath: f}
	})
}

func (c *Catalog) addFS(fsys fs.FS, source string, name func(string) (string, Placeholders)) error {
	for _, top := range LayerDirs {
		err := fs.WalkDir(fsys, top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == top && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipDir
				}
				return err
			}
			if d.IsDir() || !strings.HasSuffix(p, ".yaml") {
				return nil
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			file, ph := name(p)
			l, err := parseLayer(file, data, ph)
			if errors.Is(err, ErrNoHeader) {
				return nil
			}
			if err != nil {
				c.Errors = append(c.Errors, err)
				return nil
			}
			l.Source = source
			c.add(l)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading layers from %s: %w", source, err)
		}
	}
	return nil
}

func (c *Catalog) add(l *Layer) {
	c.Warnings = append(c.Warnings, l.Warnings...)
	if l.Name == "" {
		return
	}
	if prev, ok := c.byName[l.Name]; ok {
		if prev.Source == l.Source {
			c.Warnings = append(c.Warnings, Lint{l.File, 1, fmt.Sprintf("layer %s is also defined in %s; the first one found is used", l.Name, prev.File)})
		}
		c.Shadowed = append(c.Shadowed, l)
		return
	}
	c.byName[l.Name] = l
	c.Layers = append(c.Layers, l)
}

// Lookup returns the layer called name.
func (c *Catalog) Lookup(name string) (*Layer, bool) {
	l, ok := c.byName[name]
	return l, ok
}

// ByCategory returns the layers of category cat, sorted by name.
func (c *Catalog) ByCategory(cat string) []*Layer {
	var out []*Layer
	for _, l := range c.Layers {
		if l.Category == cat {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Declaring returns the layers that declare the variable envName
// (X-Env-VarPrefix and X-Env-Var-<name>), sorted by name.
func (c *Catalog) Declaring(envName string) []*Layer {
	var out []*Layer
	for _, l := range c.Layers {
		if _, ok := l.Var(envName); ok && l.VarPrefix != "" {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns every layer name, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.Layers))
	for _, l := range c.Layers {
		out = append(out, l.Name)
	}
	sort.Strings(out)
	return out
}

// Providers returns the layers whose Provides satisfies token: equal to
// it, or a more specific trait token below it (hw:device:rpi is provided
// by a layer providing hw:device:rpi:pi5).
func (c *Catalog) Providers(token string) []*Layer {
	var out []*Layer
	for _, l := range c.Layers {
		for _, p := range l.Provides {
			if providesToken(p, token) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func providesToken(provided, want string) bool {
	return provided == want || strings.HasPrefix(provided, want+":")
}

// Suggest returns the known layer name closest to name, or "" when none
// is reasonably close.
func (c *Catalog) Suggest(name string) string {
	best, bestD := "", -1
	for _, n := range c.Names() {
		d := editDistance(strings.ToLower(name), strings.ToLower(n))
		if bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	limit := len(name)/2 + 1
	if limit > 4 {
		limit = 4
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
