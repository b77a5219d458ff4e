package layers

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
)

// Plan is a resolved build: the layers in the order rpi-image-gen applies them.
type Plan struct {
	// Targets are the layers asked for (essential, device, image, layer.*).
	Targets []string
	// Layers is the build order: every dependency before its dependents.
	Layers []*Layer
	// Providers maps each Provides token of the build to its layer's name.
	// Trait tokens are expanded (ancestors and unconditional Triggers) and
	// the config's trait: overrides applied; those map to "(config)".
	Providers map[string]string
	traits    *TraitRegistry
	overrides map[string]string
	// cat is the catalog the plan was resolved from (nil for partial plans).
	cat *Catalog
}

// Names returns the layer names in build order.
func (p *Plan) Names() []string {
	out := make([]string, len(p.Layers))
	for i, l := range p.Layers {
		out[i] = l.Name
	}
	return out
}

// Has reports whether layer name is part of the build.
func (p *Plan) Has(name string) bool {
	for _, l := range p.Layers {
		if l.Name == name {
			return true
		}
	}
	return false
}

// ResolveError explains why a set of layers cannot be built.
type ResolveError struct {
	// Layer is the missing, conflicting or unsatisfied layer (or token).
	Layer string
	// RequiredBy is the layer that asked for Layer ("" for a target).
	RequiredBy string
	// Suggestion is the closest known layer name for a missing one.
	Suggestion string
	// Msg is the full explanation.
	Msg string
	// Kind classifies the error: ErrMissingLayer, ErrLayerConflict,
	// ErrMissingProvider or ErrDependencyCycle.
	Kind error
}

// Error returns the message naming the layers involved.
func (e *ResolveError) Error() string { return e.Msg }

// Unwrap returns the Kind sentinel.
func (e *ResolveError) Unwrap() error { return e.Kind }

// Resolve error kinds.
var (
	ErrMissingLayer    = errors.New("missing layer")
	ErrLayerConflict   = errors.New("layer conflict")
	ErrMissingProvider = errors.New("missing provider")
	ErrDependencyCycle = errors.New("dependency cycle")
)

// ResolveConfig resolves the layers a config asks for (with includes merged).
func ResolveConfig(cfg *config.Config, cat *Catalog) (*Plan, error) {
	vars, err := cfg.OrderedVars()
	if err != nil {
		return nil, err
	}
	traits, err := cfg.TraitOverrides()
	if err != nil {
		return nil, err
	}
	return resolve(cat, config.TargetLayers(vars), traits)
}

// Resolve orders targets and everything they require. A Requires entry
// names a layer, or else a Provides token of exactly one layer.
func Resolve(cat *Catalog, targets []string) (*Plan, error) {
	return resolve(cat, targets, nil)
}

func resolve(cat *Catalog, targets []string, traits map[string]string) (*Plan, error) {
	p := &Plan{Targets: targets, Providers: map[string]string{}, traits: cat.Traits, overrides: traits, cat: cat}
	state := map[string]int{} // 1 visiting, 2 done
	var stack []string

	lookup := func(name, by string) (*Layer, error) {
		if l, ok := cat.Lookup(name); ok {
			return l, nil
		}
		if by != "" {
			if provs := cat.Providers(name); len(provs) == 1 {
				return provs[0], nil
			} else if len(provs) > 1 {
				var names []string
				for _, l := range provs {
					names = append(names, l.Name)
				}
				return nil, &ResolveError{Layer: name, RequiredBy: by, Kind: ErrMissingLayer,
					Msg: fmt.Sprintf("layer %s requires %q, which several layers provide (%s): name one of them", by, name, strings.Join(names, ", "))}
			}
		}
		e := &ResolveError{Layer: name, RequiredBy: by, Suggestion: cat.Suggest(name), Kind: ErrMissingLayer}
		if by == "" {
			e.Msg = fmt.Sprintf("unknown layer %q", name)
		} else {
			e.Msg = fmt.Sprintf("layer %s requires %q, which was not found", by, name)
		}
		if e.Suggestion != "" {
			e.Msg += fmt.Sprintf(" (did you mean %s?)", e.Suggestion)
		}
		return nil, e
	}
	var visit func(l *Layer) error
	visit = func(l *Layer) error {
		switch state[l.Name] {
		case 2:
			return nil
		case 1:
			return &ResolveError{Layer: l.Name, Kind: ErrDependencyCycle,
				Msg: fmt.Sprintf("dependency cycle: %s -> %s", strings.Join(stack, " -> "), l.Name)}
		}
		state[l.Name] = 1
		stack = append(stack, l.Name)
		for _, dep := range l.Requires {
			if strings.Contains(dep, "${") {
				continue // expanded from the build environment; cannot be checked statically
			}
			d, err := lookup(dep, l.Name)
			if err != nil {
				return err
			}
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[l.Name] = 2
		p.Layers = append(p.Layers, l)
		return nil
	}
	for _, t := range targets {
		l, err := lookup(t, "")
		if err != nil {
			return nil, err
		}
		if err := visit(l); err != nil {
			return nil, err
		}
	}
	if err := p.indexProviders(); err != nil {
		return nil, err
	}
	// Conditional requires, first order only, as upstream.
	for _, l := range append([]*Layer(nil), p.Layers...) {
		for _, cr := range l.CondRequires {
			if !evalHas(cr.When, p.Providers) {
				continue
			}
			d, err := lookup(cr.Name, l.Name)
			if err != nil {
				return nil, err
			}
			before := len(p.Layers)
			if err := visit(d); err != nil {
				return nil, err
			}
			added := append([]*Layer(nil), p.Layers[before:]...)
			p.Layers = p.Layers[:before]
			pos := p.index(l.Name)
			p.Layers = append(p.Layers[:pos], append(added, p.Layers[pos:]...)...)
		}
	}
	if err := p.indexProviders(); err != nil {
		return nil, err
	}
	if err := p.checkConflicts(); err != nil {
		return nil, err
	}
	if err := p.checkProviders(); err != nil {
		return nil, err
	}
	return p, p.orderAfterProviders()
}

func (p *Plan) index(name string) int {
	for i, l := range p.Layers {
		if l.Name == name {
			return i
		}
	}
	return -1
}

func (p *Plan) indexProviders() error {
	p.Providers = map[string]string{}
	for _, l := range p.Layers {
		for _, tok := range l.Provides {
			if prev, ok := p.Providers[tok]; ok && prev != l.Name {
				return &ResolveError{Layer: l.Name, RequiredBy: prev, Kind: ErrLayerConflict,
					Msg: fmt.Sprintf("layers %s and %s both provide %q: only one may be in a build", prev, l.Name, tok)}
			}
			p.Providers[tok] = l.Name
		}
	}
	for _, l := range p.Layers {
		for _, tok := range l.Provides {
			if strings.Contains(tok, ":") {
				for _, t := range p.traits.Expand(tok) {
					if _, ok := p.Providers[t]; !ok {
						p.Providers[t] = l.Name
					}
				}
			}
		}
	}
	for tok, v := range p.overrides {
		if isFalse(v) {
			for t := range p.Providers {
				if t == tok || strings.HasPrefix(t, tok+":") {
					delete(p.Providers, t)
				}
			}
			continue
		}
		for _, t := range p.traits.Expand(tok) {
			if _, ok := p.Providers[t]; !ok {
				p.Providers[t] = "(config)"
			}
		}
	}
	return nil
}

func isFalse(s string) bool {
	switch strings.ToLower(s) {
	case "false", "no", "n", "0", "off":
		return true
	}
	return false
}

// HasToken reports whether the build provides token (as a label or trait).
func (p *Plan) HasToken(token string) bool {
	_, ok := p.provided(token)
	return ok
}

func (p *Plan) provided(token string) (string, bool) {
	if n, ok := p.Providers[token]; ok {
		return n, true
	}
	for tok, n := range p.Providers {
		if providesToken(tok, token) {
			return n, true
		}
	}
	return "", false
}

func (p *Plan) checkConflicts() error {
	for _, l := range p.Layers {
		for _, c := range l.Conflicts {
			other := ""
			if p.Has(c) && c != l.Name {
				other = c
			} else if n, ok := p.Providers[c]; ok && n != l.Name {
				other = n
			}
			if other != "" {
				return &ResolveError{Layer: other, RequiredBy: l.Name, Kind: ErrLayerConflict,
					Msg: fmt.Sprintf("layer %s conflicts with %s, which is also in the build", l.Name, other)}
			}
		}
	}
	return nil
}

func (p *Plan) checkProviders() error {
	for _, l := range p.Layers {
		for _, tok := range append(append([]string(nil), l.RequiresProvider...), l.AfterProvider...) {
			if strings.Contains(tok, ":") && len(p.traits.Tokens()) == 0 {
				// Trait tokens (hw:soc:bcm2712) are derived through the
				// trait registry; without one only the build can check them.
				continue
			}
			if _, ok := p.provided(tok); !ok {
				return &ResolveError{Layer: tok, RequiredBy: l.Name, Kind: ErrMissingProvider,
					Msg: fmt.Sprintf("layer %s requires provider %q but no layer in the build provides it", l.Name, tok)}
			}
		}
	}
	return nil
}

// orderAfterProviders stable-sorts the build so that every AfterProvider
// consumer follows its provider, keeping Requires edges.
func (p *Plan) orderAfterProviders() error {
	pos := map[string]int{}
	for i, l := range p.Layers {
		pos[l.Name] = i
	}
	succ := make([][]int, len(p.Layers))
	indeg := make([]int, len(p.Layers))
	edge := func(from, to int) {
		if from == to {
			return
		}
		succ[from] = append(succ[from], to)
		indeg[to]++
	}
	hasAfter := false
	for i, l := range p.Layers {
		for _, d := range l.Requires {
			if j, ok := pos[d]; ok {
				edge(j, i)
			}
		}
		for _, tok := range l.AfterProvider {
			if n, ok := p.Providers[tok]; ok {
				edge(pos[n], i)
				hasAfter = true
			}
		}
	}
	if !hasAfter {
		return nil
	}
	var out []*Layer
	done := make([]bool, len(p.Layers))
	for len(out) < len(p.Layers) {
		next := -1
		for i := range p.Layers {
			if !done[i] && indeg[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			var stuck []string
			for i, l := range p.Layers {
				if !done[i] {
					stuck = append(stuck, l.Name)
				}
			}
			return &ResolveError{Layer: stuck[0], Kind: ErrDependencyCycle,
				Msg: "loop in AfterProvider ordering involving: " + strings.Join(stuck, ", ")}
		}
		done[next] = true
		out = append(out, p.Layers[next])
		for _, s := range succ[next] {
			indeg[s]--
		}
	}
	p.Layers = out
	return nil
}

var hasRe = regexp.MustCompile(`^(not\s+)?has\(\s*'([^']*)'\s*\)$`)

// evalHas evaluates the simple condition forms has('tok') and
// not has('tok'); anything else counts as false.
func evalHas(expr string, providers map[string]string) bool {
	m := hasRe.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return false
	}
	_, ok := providers[m[2]]
	if !ok {
		for tok := range providers {
			if providesToken(tok, m[2]) {
				ok = true
			}
		}
	}
	return ok != (m[1] != "")
}

// PlanVar is one variable of a build with the definition that wins
// rpi-image-gen's Set-policy resolution.
type PlanVar struct {
	// Var is the winning definition (default, rule, description).
	Var *Var
	// Layer declares the winning definition.
	Layer *Layer
	// Key is the config key that sets it, "<prefix>.<name>" (e.g. "image.rootfs_type").
	Key string
}

// Variables returns every variable the build's layers declare, in build
// order of first declaration, each with its winning definition: the last
// force, else the first immediate, else the last lazy, else the first.
func (p *Plan) Variables() []PlanVar {
	defs := map[string][]varDef{}
	var order []string
	for _, l := range p.Layers {
		for i := range l.Vars {
			v := &l.Vars[i]
			if _, seen := defs[v.EnvName]; !seen {
				order = append(order, v.EnvName)
			}
			defs[v.EnvName] = append(defs[v.EnvName], varDef{l, v})
		}
	}
	out := make([]PlanVar, 0, len(order))
	for _, name := range order {
		w := winner(defs[name])
		key := w.v.Name
		if w.layer.VarPrefix != "" {
			key = w.layer.VarPrefix + "." + w.v.Name
		}
		out = append(out, PlanVar{Var: w.v, Layer: w.layer, Key: key})
	}
	return out
}
