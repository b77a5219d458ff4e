package layers

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
)

// Problem is one finding of Validate.
type Problem struct {
	// File and Line locate the value (Line 0 when no line applies).
	File string
	Line int
	// Key is the config key that sets (or would set) the variable, e.g.
	// "image.rootfs_type"; "" for problems that concern no variable.
	Key string
	// Var is the variable (IGconf_image_rootfs_type).
	Var string
	// Value is the offending value.
	Value string
	// Rule is the -Valid rule that rejected it.
	Rule string
	// Layer is the layer whose rule or dependency is involved.
	Layer string
	// Msg says what is wrong.
	Msg string
	// InLayer says File and Line locate a layer's header (the value that
	// needs something the config lacks), not a config value.
	InLayer bool
}

// String formats the problem as
// "raid.yaml:9: image.rootfs_type (IGconf_image_rootfs_type): 'xfs' is not one of ext4, btrfs (layer image-rpios)".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	switch {
	case p.Key != "" && p.Var != "":
		fmt.Fprintf(&b, "%s (%s): ", p.Key, p.Var)
	case p.Key != "":
		b.WriteString(p.Key + ": ")
	case p.Var != "":
		b.WriteString(p.Var + ": ")
	}
	b.WriteString(p.Msg)
	if p.Layer != "" {
		fmt.Fprintf(&b, " (layer %s)", p.Layer)
	}
	return b.String()
}

// ToolProvidedVars are variables rpi-image-gen itself sets for every
// build; X-Env-VarRequires naming them is satisfied without a config value.
var ToolProvidedVars = []string{"IGTOP", "RPI_TEMPLATES", "SRC_DIR", "IGconf_sys_workroot", "IGconf_sys_target"}

// IsDynamic reports whether value holds ${VAR}, $(cmd) or `cmd` text that
// only the build can expand; such values are not checked against rules.
func IsDynamic(value string) bool {
	return strings.Contains(value, "${") || strings.Contains(value, "$(") || strings.Contains(value, "`")
}

// Validate checks a config against a catalog the way rpi-image-gen's
// pipeline does: it resolves the layers, then checks every variable the
// build's layers declare (config value, else the winning layer default)
// against its -Valid rule, reports required variables left unset, and
// checks X-Env-VarRequires. Keys no layer declares are allowed. Values
// that need build-time expansion are skipped.
func Validate(cfg *config.Config, cat *Catalog) []Problem {
	return ValidateOverrides(cfg, cat, nil)
}

// ValidateOverrides is Validate with KEY=VALUE overrides (the arguments
// after --, e.g. IGconf_raid_devices=4) applied over the config's values.
func ValidateOverrides(cfg *config.Config, cat *Catalog, overrides []string) []Problem {
	vars, err := cfg.OrderedVars()
	if err != nil {
		return []Problem{errProblem(cfg.Path, err)}
	}
	if len(overrides) > 0 {
		m := make(map[string]config.VarValue, len(vars))
		for _, v := range vars {
			m[v.Name] = v
		}
		if err := config.ApplyOverrides(m, overrides); err != nil {
			return []Problem{errProblem(cfg.Path, err)}
		}
		for i, v := range vars {
			vars[i] = m[v.Name]
			delete(m, v.Name)
		}
		for _, o := range overrides { // new names, in override order
			k, _, _ := strings.Cut(o, "=")
			if v, ok := m[k]; ok {
				vars = append(vars, v)
				delete(m, k)
			}
		}
	}
	traits, err := cfg.TraitOverrides()
	if err != nil {
		return []Problem{errProblem(cfg.Path, err)}
	}
	targets := config.TargetLayers(vars)
	plan, err := resolve(cat, targets, traits)
	if err != nil {
		return append([]Problem{resolveProblem(cfg.Path, vars, err)}, partialProblems(cat, targets, traits, vars, cfg.Path)...)
	}
	return ValidatePlan(plan, vars, cfg.Path)
}

// partialProblems checks what can still be checked when the layers do not
// resolve: the values of the variables that the named layers (device,
// image, layer:) found in the catalog declare themselves, so that one
// missing layer does not hide every other mistake. Checks that need the
// whole build (X-Env-VarRequires, Conflicts, undefined references) are
// left to the full plan.
func partialProblems(cat *Catalog, targets []string, traits map[string]string, vars []config.VarValue, file string) []Problem {
	partial := &Plan{Targets: targets, Providers: map[string]string{}, traits: cat.Traits, overrides: traits}
	for _, name := range targets {
		if l, ok := cat.Lookup(name); ok {
			partial.Layers = append(partial.Layers, l)
		}
	}
	if len(partial.Layers) == 0 {
		return nil
	}
	var out []Problem
	for _, p := range ValidatePlan(partial, vars, file) {
		if p.Msg == "required by the layer but not set" || strings.Contains(p.Msg, "conflicts with the build") || p.InLayer {
			continue
		}
		out = append(out, p)
	}
	return out
}

func errProblem(file string, err error) Problem {
	var pe *config.ParseError
	if errors.As(err, &pe) {
		return Problem{File: pe.File, Line: pe.Line, Msg: pe.Msg}
	}
	return Problem{File: file, Msg: err.Error()}
}

func resolveProblem(file string, vars []config.VarValue, err error) Problem {
	var re *ResolveError
	if !errors.As(err, &re) {
		return errProblem(file, err)
	}
	// The message names the layers; point at the config line that names
	// the missing layer, or else the layer that pulled it in.
	p := Problem{File: file, Msg: re.Msg}
	for _, want := range []string{re.Layer, re.RequiredBy} {
		for _, v := range vars {
			if want != "" && v.Value == want &&
				(v.Name == "IGconf_device_layer" || v.Name == "IGconf_image_layer" || strings.HasPrefix(v.Name, "IGconf_layer_")) {
				p.File, p.Line, p.Key, p.Var, p.Value = v.File, v.Line, v.Section+"."+v.Key, v.Name, v.Value
				return p
			}
		}
	}
	return p
}

type varDef struct {
	layer *Layer
	v     *Var
}

// winner picks the definition rpi-image-gen resolves a variable to:
// the last force, else the first immediate, else the last lazy, else skip.
func winner(defs []varDef) varDef {
	var force, imm, lazy *varDef
	for i := range defs {
		d := &defs[i]
		switch d.v.Set {
		case SetForce:
			force = d
		case SetImmediate:
			if imm == nil {
				imm = d
			}
		case SetLazy:
			lazy = d
		}
	}
	switch {
	case force != nil:
		return *force
	case imm != nil:
		return *imm
	case lazy != nil:
		return *lazy
	}
	return defs[0]
}

// ValidatePlan validates merged config values (OrderedVars) against a
// resolved plan; file names the config for problems without a line. It
// also reports the ${IGconf_...} references in the values the build's
// layers assign that nothing sets (rpi-image-gen's "Undefined variable"),
// at the layer's header line (Problem.InLayer).
func ValidatePlan(plan *Plan, vars []config.VarValue, file string) []Problem {
	c := &planCheck{plan: plan, file: file, cfgVals: map[string]config.VarValue{},
		effective: map[string]string{}, isSet: map[string]bool{}, sets: map[string]string{}}
	for _, v := range vars {
		c.cfgVals[v.Name] = v
	}
	for _, l := range plan.Layers {
		for k, v := range l.Sets {
			c.sets[k] = v
		}
	}
	pvars := plan.Variables()
	sort.SliceStable(pvars, func(i, j int) bool { return pvars[i].Var.EnvName < pvars[j].Var.EnvName })
	for _, pv := range pvars {
		c.declared(pv)
	}
	c.conflicts(pvars)
	for _, l := range plan.Layers {
		for _, ov := range l.VarOptional {
			c.optional(l, ov)
		}
	}
	for _, l := range plan.Layers {
		for _, rv := range l.VarRequires {
			c.required(l, rv)
		}
	}
	c.undefinedRefs()
	sort.SliceStable(c.probs, func(i, j int) bool {
		if c.probs[i].File != c.probs[j].File {
			return c.probs[i].File < c.probs[j].File
		}
		return c.probs[i].Line < c.probs[j].Line
	})
	return c.probs
}

// planCheck is one ValidatePlan run: the config's values, what each
// declared variable resolves to, and the problems found.
type planCheck struct {
	plan    *Plan
	file    string
	cfgVals map[string]config.VarValue
	// effective holds what each declared variable resolves to; isSet
	// whether it is set at all.
	effective map[string]string
	isSet     map[string]bool
	// sets holds the build's X-Env-Layer-Sets.
	sets  map[string]string
	probs []Problem
}

// at points p at the config line that sets cv.
func at(p *Problem, cv config.VarValue) {
	p.File, p.Line, p.Key = cv.File, cv.Line, cv.Section+"."+cv.Key
}

// declared resolves a variable a layer declares (force, config, default,
// skip) and checks Required and the -Valid rule.
func (c *planCheck) declared(pv PlanVar) {
	w := varDef{pv.Layer, pv.Var}
	name := pv.Var.EnvName
	cv, inCfg := c.cfgVals[name]
	p := Problem{File: c.file, Key: pv.Key, Var: name, Layer: w.layer.Name, Rule: w.v.ValidText}
	var value string
	set := true
	switch {
	case w.v.Set == SetForce:
		value = w.v.Default
	case inCfg:
		value = cv.Value
		at(&p, cv)
	case w.v.Set != SetSkip:
		value = w.v.Default
	default:
		set = false
	}
	p.Value = value
	c.effective[name], c.isSet[name] = value, set
	if w.v.Required && (!set || value == "") {
		p.Msg = "required but not set"
		c.probs = append(c.probs, p)
		return
	}
	if !set || IsDynamic(value) || w.v.Valid.Kind() == KindNone {
		return
	}
	if err := w.v.Valid.Check(value, true); err != nil {
		p.Msg = err.Error()
		if !inCfg {
			p.Msg += " (layer default)"
		}
		c.probs = append(c.probs, p)
	}
}

// lookup is a variable's value for Conflicts expressions; values only
// the build knows count as unknown.
func (c *planCheck) lookup(n string) (string, bool) {
	v, ok := c.effective[n]
	if !ok {
		cv, inCfg := c.cfgVals[n]
		v, ok = cv.Value, inCfg
	} else {
		ok = c.isSet[n]
	}
	return v, ok && !IsDynamic(v)
}

// conflicts evaluates the variables' Conflicts expressions against the
// resolved values and the build's provider tokens; expressions that need
// a value only the build knows are skipped.
func (c *planCheck) conflicts(pvars []PlanVar) {
	canHas := len(c.plan.traits.Tokens()) > 0
	for _, pv := range pvars {
		for _, expr := range pv.Var.Conflicts {
			cond, err := ParseCondition(expr)
			if err != nil || (!canHas && strings.Contains(expr, "has(")) {
				continue
			}
			hit, err := cond.Eval(c.lookup, c.plan.HasToken)
			if err != nil || !hit {
				continue
			}
			name := pv.Var.EnvName
			p := Problem{File: c.file, Key: pv.Key, Var: name, Layer: pv.Layer.Name, Value: c.effective[name],
				Msg: fmt.Sprintf("'%s' conflicts with the build: %s", c.effective[name], expr)}
			if cv, ok := c.cfgVals[name]; ok {
				p.File, p.Line = cv.File, cv.Line
			}
			c.probs = append(c.probs, p)
		}
	}
}

// external resolves a variable a layer names in X-Env-VarOptional or
// X-Env-VarRequires: what a declaring layer resolves it to, else the
// config's value, else the build's X-Env-Layer-Sets.
func (c *planCheck) external(name string) (value string, set bool, cv config.VarValue, inCfg bool) {
	if c.isSet[name] {
		cv, inCfg = c.cfgVals[name]
		return c.effective[name], true, cv, inCfg
	}
	if cv, inCfg = c.cfgVals[name]; inCfg {
		return cv.Value, true, cv, true
	}
	value, set = c.sets[name]
	return value, set, cv, false
}

// optional checks an X-Env-VarOptional variable: an unset variable is
// fine; a set one (config, override, layer default, X-Env-Layer-Sets)
// must pass its rule.
func (c *planCheck) optional(l *Layer, ov ExtVar) {
	value, set, cv, inCfg := c.external(ov.Name)
	if !set || IsDynamic(value) || ov.Valid.Kind() == KindNone {
		return
	}
	if err := ov.Valid.Check(value, true); err != nil {
		p := Problem{File: c.file, Var: ov.Name, Layer: l.Name, Rule: ov.ValidText, Value: value, Msg: err.Error()}
		if inCfg {
			at(&p, cv)
		}
		p.Msg += " (rule " + ov.ValidText + ")"
		c.probs = append(c.probs, p)
	}
}

// required checks an X-Env-VarRequires variable: it must be set (the
// tool's own variables are), and pass its rule.
func (c *planCheck) required(l *Layer, rv ExtVar) {
	value, set, cv, inCfg := c.external(rv.Name)
	if !set && slices.Contains(ToolProvidedVars, rv.Name) {
		return
	}
	p := Problem{File: c.file, Var: rv.Name, Layer: l.Name, Rule: rv.ValidText, Value: value}
	if inCfg {
		at(&p, cv)
	}
	if !set {
		p.Msg = "required by the layer but not set"
		c.probs = append(c.probs, p)
		return
	}
	if IsDynamic(value) || rv.Valid.Kind() == KindNone {
		return
	}
	if err := rv.Valid.Check(value, true); err != nil {
		p.Msg = err.Error()
		c.probs = append(c.probs, p)
	}
}
