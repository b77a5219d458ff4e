package layers

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
)

// This file mirrors how rpi-image-gen's pipeline (site/pipeline.py,
// site/env_types.py VariableResolver, site/env_resolver.py) turns the
// layers' variables into the build's environment, far enough to find the
// ${IGconf_...} references it cannot resolve:
//
//   - every declared variable resolves to one definition: the last force,
//     else (when the environment does not set it) the first immediate,
//     else the last lazy, else the last skip;
//   - the -Triggers rules of every resolved variable whose when= condition
//     holds add definitions of their target, and resolution repeats until
//     nothing changes;
//   - force definitions, and immediate or lazy ones of variables the
//     environment does not set, are assigned; skip ones are not;
//   - finally every assigned value (and every X-Env-Layer-Sets value) is
//     expanded, and a ${NAME} that is neither assigned nor in the
//     environment stops the build: "Variable resolution failed:
//     Undefined variable 'NAME'".
//
// Only the references of values that are assigned are checked, as the tool
// does: a trigger whose condition does not hold, or a default the config
// overrides, is never expanded.

// maxTriggerRounds is rpi-image-gen's MAX_TRIGGER_ITERATIONS.
const maxTriggerRounds = 16

// assignment is one definition of a variable: a layer's X-Env-Var default
// or the value a -Triggers rule sets.
type assignment struct {
	name   string
	value  string
	policy SetPolicy
	layer  *Layer
	pos    int // the layer's place in the build order
	line   int // header line of the value
	// rules are the -Triggers rules of a declared variable.
	rules []string
	// rulesField is the header field holding rules.
	rulesField Field
	// via is, for a trigger's definition, the variable whose rule it is.
	via string
	// fromSets marks a value of X-Env-Layer-Sets.
	fromSets bool
}

// envResolution is the result of resolving a plan's variables.
type envResolution struct {
	// resolved maps each variable to its winning definition.
	resolved map[string]assignment
	// assigned says which resolved variables the build assigns.
	assigned map[string]bool
	// order lists the resolved variables by first definition.
	order []string
}

// resolveEnv resolves the plan's variables as the tool does: the layers'
// definitions, then rounds of trigger definitions until a round adds
// nothing new (at most maxTriggerRounds, as upstream).
func (c *planCheck) resolveEnv() envResolution {
	base := map[string][]assignment{}
	var order []string
	for pos, l := range c.plan.Layers {
		for i := range l.Vars {
			v := &l.Vars[i]
			if _, seen := base[v.EnvName]; !seen {
				order = append(order, v.EnvName)
			}
			a := assignment{name: v.EnvName, value: v.Default, policy: v.Set, layer: l, pos: pos, line: v.Line, rules: v.Triggers}
			if len(v.Triggers) > 0 {
				a.rulesField = triggersField(l, v.Name)
			}
			base[v.EnvName] = append(base[v.EnvName], a)
		}
	}
	var res envResolution
	var injected map[string][]assignment
	sig := ""
	for range maxTriggerRounds {
		defs := map[string][]assignment{}
		names := slices.Clone(order)
		for _, n := range order {
			defs[n] = slices.Clone(base[n])
		}
		for _, n := range sortedKeys(injected) {
			if _, ok := defs[n]; !ok {
				names = append(names, n)
			}
			defs[n] = append(defs[n], injected[n]...)
		}
		res = c.pickAll(names, defs)
		injected = c.fire(res, defs)
		next := signature(injected)
		if next == sig {
			break
		}
		sig = next
	}
	return res
}

// pickAll resolves every variable of defs.
func (c *planCheck) pickAll(names []string, defs map[string][]assignment) envResolution {
	res := envResolution{resolved: map[string]assignment{}, assigned: map[string]bool{}}
	for _, n := range names {
		a, assigned, ok := pick(defs[n], c.inEnv(n))
		if !ok {
			continue
		}
		res.resolved[n], res.assigned[n] = a, assigned
		res.order = append(res.order, n)
	}
	return res
}

// pick is VariableResolver._resolve_single_variable with the assignment
// step of _apply_layers: the winning definition and whether the build
// assigns it. A variable the environment sets keeps its first definition
// (for its triggers) and is not assigned.
func pick(defs []assignment, inEnv bool) (a assignment, assigned, ok bool) {
	last := func(p SetPolicy) (assignment, bool) {
		var out assignment
		found := false
		for _, d := range defs {
			if d.policy == p && (!found || d.pos >= out.pos) {
				out, found = d, true
			}
		}
		return out, found
	}
	if d, found := last(SetForce); found {
		return d, true, true
	}
	if !inEnv {
		var first assignment
		found := false
		for _, d := range defs {
			if d.policy == SetImmediate && (!found || d.pos < first.pos) {
				first, found = d, true
			}
		}
		if found {
			return first, true, true
		}
		if d, found := last(SetLazy); found {
			return d, true, true
		}
	}
	if d, found := last(SetSkip); found {
		return d, false, true
	}
	if inEnv && len(defs) > 0 {
		// Already set: the first definition, placed after the last one.
		a = defs[0]
		for _, d := range defs {
			a.pos = max(a.pos, d.pos)
		}
		return a, false, true
	}
	return assignment{}, false, false
}

// fire returns the definitions the -Triggers rules of the resolved
// variables add: every rule of every definition of a resolved variable
// whose condition holds. Rules that do not parse, and conditions only the
// build can decide, add nothing.
func (c *planCheck) fire(res envResolution, defs map[string][]assignment) map[string][]assignment {
	out := map[string][]assignment{}
	for _, n := range res.order {
		src := res.resolved[n]
		seen := map[string]bool{}
		for _, d := range defs[n] {
			for _, rule := range d.rules {
				if seen[rule] {
					continue
				}
				seen[rule] = true
				t, err := parseTrigger(rule)
				if err != nil || !c.holds(t.cond, res) {
					continue
				}
				out[t.target] = append(out[t.target], assignment{name: t.target, value: t.value, policy: t.policy,
					layer: d.layer, pos: src.pos, line: ruleLine(d.rulesField, rule), via: n})
			}
		}
	}
	return out
}

// holds evaluates a trigger condition ("" always holds) against the
// resolved values; a condition that cannot be decided does not hold.
func (c *planCheck) holds(cond string, res envResolution) bool {
	if cond == "" {
		return true
	}
	if strings.Contains(cond, "has(") && len(c.plan.traits.Tokens()) == 0 {
		return false
	}
	pc, err := ParseCondition(cond)
	if err != nil {
		return false
	}
	lookup := func(n string) (string, bool) {
		v, ok := "", false
		if cv, inCfg := c.cfgVals[n]; inCfg {
			v, ok = cv.Value, true
		} else if a, isRes := res.resolved[n]; isRes {
			v, ok = a.value, true
		} else {
			v, ok = c.sets[n]
		}
		return v, ok && !IsDynamic(v)
	}
	hit, err := pc.Eval(lookup, c.plan.HasToken)
	return err == nil && hit
}

// inEnv reports whether the build's environment sets n before the layers
// are applied: the config (with overrides) or X-Env-Layer-Sets.
func (c *planCheck) inEnv(n string) bool {
	if _, ok := c.cfgVals[n]; ok {
		return true
	}
	_, ok := c.sets[n]
	return ok
}

func signature(m map[string][]assignment) string {
	var b strings.Builder
	for _, n := range sortedKeys(m) {
		for _, a := range m[n] {
			fmt.Fprintf(&b, "%s=%q/%d/%s/%d\n", n, a.value, a.policy, a.layer.Name, a.pos)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// trigger is one parsed -Triggers rule: when=COND set TARGET=VALUE [policy=P].
type trigger struct {
	cond          string
	target, value string
	policy        SetPolicy
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseTrigger parses a -Triggers rule the way rpi-image-gen does: the
// condition runs to the last " set ", the action is split like a shell
// command line (quotes removed), the policy defaults to immediate.
func parseTrigger(rule string) (trigger, error) {
	var t trigger
	action := rule
	if after, ok := strings.CutPrefix(rule, "when="); ok {
		i := strings.LastIndex(after, " set ")
		if i < 0 {
			return t, fmt.Errorf("trigger %q: no set action", rule)
		}
		t.cond, action = strings.TrimSpace(after[:i]), after[i+1:]
		if t.cond == "" {
			return t, fmt.Errorf("trigger %q: empty condition", rule)
		}
	}
	toks, err := shellSplit(action)
	if err != nil {
		return t, fmt.Errorf("trigger %q: %w", rule, err)
	}
	if len(toks) < 2 || toks[0] != "set" {
		return t, fmt.Errorf("trigger %q: want set TARGET=VALUE", rule)
	}
	target, value, ok := strings.Cut(toks[1], "=")
	target = strings.TrimSpace(target)
	if !ok || !envNameRe.MatchString(target) {
		return t, fmt.Errorf("trigger %q: want set TARGET=VALUE", rule)
	}
	t.target, t.value = target, strings.TrimSpace(value)
	for _, tok := range toks[2:] {
		if p, ok := strings.CutPrefix(tok, "policy="); ok {
			t.policy, _ = ParseSetPolicy(p) // unknown words mean immediate, as upstream
		}
	}
	return t, nil
}

// shellSplit splits s into words like Python's shlex.split: blanks
// separate words, quotes group and are removed, a backslash escapes the
// next character (inside double quotes only \ " $ ` and newline).
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote == '\'':
			if ch == '\'' {
				quote = 0
			} else {
				cur.WriteByte(ch)
			}
		case quote == '"':
			switch {
			case ch == '"':
				quote = 0
			case ch == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0:
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(ch)
			}
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'' || ch == '"':
			quote, inWord = ch, true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// triggersField returns the X-Env-Var-<name>-Triggers field of l (the
// last one, as the parser keeps).
func triggersField(l *Layer, name string) Field {
	var out Field
	for _, f := range l.Fields {
		if strings.EqualFold(f.Name, "X-Env-Var-"+name+"-Triggers") {
			out = f
		}
	}
	return out
}

// ruleLine is the header line of rule inside its -Triggers field (the
// field's line when it cannot be told).
func ruleLine(f Field, rule string) int {
	for i, l := range strings.Split(f.Value, "\n") {
		if strings.TrimSpace(l) == rule {
			return f.Line + i
		}
	}
	return f.Line
}

var refRe = regexp.MustCompile(`\$\{([^}]*)\}`)

// refs returns the IGconf_ variables value refers to as ${NAME}.
func refs(value string) []string {
	var out []string
	for _, m := range refRe.FindAllStringSubmatch(value, -1) {
		n := strings.TrimSpace(m[1])
		if strings.HasPrefix(n, "IGconf_") && envNameRe.MatchString(n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// undefinedRefs reports the ${IGconf_...} references in the values the
// build assigns (layer defaults, trigger values, X-Env-Layer-Sets) to
// variables nothing sets: rpi-image-gen stops on them with "Undefined
// variable".
func (c *planCheck) undefinedRefs() {
	res := c.resolveEnv()
	defined := func(n string) bool {
		return c.inEnv(n) || res.assigned[n] || slices.Contains(ToolProvidedVars, n)
	}
	for _, n := range res.order {
		a := res.resolved[n]
		if !res.assigned[n] {
			continue
		}
		for _, ref := range refs(a.value) {
			if !defined(ref) {
				c.probs = append(c.probs, c.undefinedProblem(ref, a, res))
			}
		}
	}
	for _, l := range c.plan.Layers {
		for _, k := range sortedKeys(l.Sets) {
			for _, ref := range refs(l.Sets[k]) {
				if !defined(ref) {
					a := assignment{name: k, value: l.Sets[k], layer: l, line: fieldLine(l, "X-Env-Layer-Sets"), fromSets: true}
					c.probs = append(c.probs, c.undefinedProblem(ref, a, res))
				}
			}
		}
	}
}

// fieldLine is the line of l's header field name (0 when absent).
func fieldLine(l *Layer, name string) int {
	line := 0
	for _, f := range l.Fields {
		if strings.EqualFold(f.Name, name) {
			line = f.Line
		}
	}
	return line
}

// undefinedProblem describes the reference to ref in a's value.
func (c *planCheck) undefinedProblem(ref string, a assignment, res envResolution) Problem {
	p := Problem{File: a.layer.File, Line: a.line, InLayer: true, Var: ref, Layer: a.layer.Name}
	section, key, _ := config.SplitEnvName(ref)
	setIt := "Set it in the config"
	if key != "" {
		p.Key = section + "." + key
		setIt = fmt.Sprintf("Set it in the config (%s: {%s: ...})", section, key)
	}
	by := "the default of " + a.name
	switch {
	case a.via != "":
		by = fmt.Sprintf("%s (set by a trigger of %s)", a.name, a.via)
	case a.fromSets:
		by = "X-Env-Layer-Sets " + a.name
	}
	stop := fmt.Sprintf("rpi-image-gen would stop with \"Undefined variable '%s'\"", ref)
	if decl, declared := res.resolved[ref]; declared {
		p.Msg = fmt.Sprintf("referenced by %s, but layer %s declares it with Set: n and the config does not set it: %s. %s",
			by, decl.layer.Name, stop, setIt)
		return p
	}
	p.Msg = fmt.Sprintf("referenced by %s, but no layer of the build declares it and the config does not set it: %s. %s",
		by, stop, setIt)
	if names := c.declaring(ref); len(names) > 0 {
		p.Msg += fmt.Sprintf(" or add the layer that declares it, %s, to the build (X-Env-Layer-Requires of a layer of the build, or layer: {%s: %s} in the config)",
			strings.Join(names, " or "), section, names[0])
	} else {
		p.Msg += " or add a layer that declares it to the build"
	}
	return p
}

// declaring names the catalog's layers that declare ref.
func (c *planCheck) declaring(ref string) []string {
	if c.plan.cat == nil {
		return nil
	}
	var out []string
	for _, l := range c.plan.cat.Declaring(ref) {
		out = append(out, l.Name)
	}
	return out
}
