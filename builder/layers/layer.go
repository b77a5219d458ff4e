package layers

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
	"gopkg.in/yaml.v3"
)

// SetPolicy is a variable's X-Env-Var-*-Set policy.
type SetPolicy int

// Set policies, as rpi-image-gen resolves them.
const (
	// SetImmediate sets the variable if unset; the first layer wins (default).
	SetImmediate SetPolicy = iota
	// SetForce always overwrites; the last force definition wins.
	SetForce
	// SetLazy applies after all layers; the last layer wins.
	SetLazy
	// SetSkip never sets the variable.
	SetSkip
)

// String returns the canonical policy name.
func (p SetPolicy) String() string {
	return [...]string{"immediate", "force", "lazy", "skip"}[p]
}

// ParseSetPolicy parses a -Set value including its aliases
// (true/yes/1/y → immediate, false/no/0/n → skip). Empty means immediate.
func ParseSetPolicy(s string) (SetPolicy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "immediate", "true", "yes", "1", "y":
		return SetImmediate, nil
	case "force":
		return SetForce, nil
	case "lazy":
		return SetLazy, nil
	case "skip", "false", "no", "0", "n":
		return SetSkip, nil
	}
	return SetImmediate, fmt.Errorf("unknown set policy %q (want immediate, force, lazy or skip)", s)
}

// Field is one raw header field as written (after placeholder substitution).
type Field struct {
	// Name is the field name, e.g. "X-Env-Layer-Name".
	Name string
	// Value is the value; continuation lines are joined with "\n".
	Value string
	// Line is the 1-based source line of the field name.
	Line int
}

// Var is one variable a layer declares with X-Env-Var-<name>.
type Var struct {
	// Name is the short name as written after X-Env-Var-, lower-cased.
	Name string
	// EnvName is the environment name, IGconf_<prefix>_<name>.
	EnvName string
	// Default is the default value (placeholders substituted, ${VAR} kept).
	Default string
	// Desc is the description, continuation lines joined by spaces.
	Desc string
	// Required is X-Env-Var-*-Required.
	Required bool
	// Valid is the parsed -Valid rule (zero Rule when absent).
	Valid Rule
	// ValidText is the -Valid rule as written.
	ValidText string
	// Set is the -Set policy.
	Set SetPolicy
	// Anchor is the -Anchor name (e.g. "@WORKROOT"), if any.
	Anchor string
	// Conflicts holds the -Conflicts expressions, one per line.
	Conflicts []string
	// Triggers holds the -Triggers rules, one per line.
	Triggers []string
	// Line is the source line of the X-Env-Var-<name> field.
	Line int
}

// ExtVar is a variable named in X-Env-VarRequires or X-Env-VarOptional,
// checked as-is (no IGconf_ prefix applied).
type ExtVar struct {
	// Name is the environment variable name.
	Name string
	// Valid is the rule at the same position in the -Valid list.
	Valid Rule
	// ValidText is that rule as written ("" when none).
	ValidText string
}

// CondRequire is a conditional dependency "name when=expr".
type CondRequire struct {
	// Name is the required layer.
	Name string
	// When is the condition expression.
	When string
}

// Trait is an X-Env-Trait-<name> definition.
type Trait struct {
	// Name is the trait's local name.
	Name string
	// Default is the X-Env-Trait-<name> value.
	Default string
	// Attrs maps the suffix (Desc, Valid, Requires, Triggers, Include) to its value.
	Attrs map[string]string
}

// Layer is one rpi-image-gen layer parsed from its METABEGIN header.
type Layer struct {
	// Name is X-Env-Layer-Name.
	Name string
	// Desc is X-Env-Layer-Desc with continuation lines joined by spaces.
	Desc string
	// Version is X-Env-Layer-Version ("1.0.0" when absent, like upstream).
	Version string
	// Category is X-Env-Layer-Category (device, image, base, ...).
	Category string
	// Type is X-Env-Layer-Type ("static" unless "dynamic").
	Type string
	// Generator is X-Env-Layer-Generator for dynamic layers.
	Generator string
	// Requires lists the unconditional X-Env-Layer-Requires entries.
	Requires []string
	// CondRequires lists the "name when=expr" entries of X-Env-Layer-Requires.
	CondRequires []CondRequire
	// Provides lists X-Env-Layer-Provides tokens.
	Provides []string
	// RequiresProvider lists X-Env-Layer-RequiresProvider tokens.
	RequiresProvider []string
	// AfterProvider lists X-Env-Layer-AfterProvider tokens.
	AfterProvider []string
	// Conflicts lists X-Env-Layer-Conflicts layer names.
	Conflicts []string
	// Sets holds X-Env-Layer-Sets KEY=VALUE pairs.
	Sets map[string]string
	// VarPrefix is X-Env-VarPrefix, lower-cased.
	VarPrefix string
	// Vars lists the declared variables in header order.
	Vars []Var
	// VarRequires lists X-Env-VarRequires with their rules.
	VarRequires []ExtVar
	// VarOptional lists X-Env-VarOptional with their rules.
	VarOptional []ExtVar
	// Traits lists X-Env-Trait-* definitions.
	Traits []Trait
	// Fields holds every header field in order, including unknown ones.
	Fields []Field
	// File is the path the layer was read from (slash-separated for embedded
	// layers, prefixed with "embedded:").
	File string
	// Source names where the layer came from: a -S dir, the tool dir, or "embedded".
	Source string
	// Warnings are lint findings that do not stop the layer from loading.
	Warnings []Lint
}

// Var returns the variable with short or environment name n.
func (l *Layer) Var(n string) (*Var, bool) {
	for i := range l.Vars {
		if strings.EqualFold(l.Vars[i].Name, n) || l.Vars[i].EnvName == n {
			return &l.Vars[i], true
		}
	}
	return nil, false
}

// Field returns the value of the named header field (case-insensitive).
func (l *Layer) Field(name string) (string, bool) {
	for _, f := range l.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Lint is a non-fatal finding about a layer file.
type Lint struct {
	// File is the layer file.
	File string
	// Line is the 1-based line the finding is about.
	Line int
	// Msg describes the finding.
	Msg string
}

// String formats the finding as "file:line: msg".
func (l Lint) String() string { return fmt.Sprintf("%s:%d: %s", l.File, l.Line, l.Msg) }

// ErrNoHeader is returned by ParseLayer for a file without a METABEGIN block.
var ErrNoHeader = errors.New("no # METABEGIN header")

// Placeholders are the values substituted for ${FILENAME}, ${DIRECTORY}
// and ${FILEPATH} in a layer header.
type Placeholders struct {
	// Filename is the layer file's base name.
	Filename string
	// Directory is the directory holding the layer file.
	Directory string
	// Filepath is the layer file's absolute path.
	Filepath string
}

func placeholdersFor(p string) Placeholders {
	return Placeholders{Filename: path.Base(p), Directory: path.Dir(p), Filepath: p}
}

var placeholderRe = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)\}`)

// substitute replaces ${FILENAME}, ${DIRECTORY}, ${FILEPATH}; \${ escapes.
func (p Placeholders) substitute(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	const esc = "\x00LITERAL_DOLLAR_BRACE\x00"
	s = strings.ReplaceAll(s, `\${`, esc)
	s = placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
		switch m[2 : len(m)-1] {
		case "FILENAME":
			return p.Filename
		case "DIRECTORY":
			return p.Directory
		case "FILEPATH":
			return p.Filepath
		}
		return m
	})
	return strings.ReplaceAll(s, esc, "${")
}

var fieldNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// rawHeader extracts the header fields between # METABEGIN and # METAEND.
func rawHeader(file string, data []byte) ([]Field, []Lint, error) {
	lines := strings.Split(string(data), "\n")
	begin := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "# METABEGIN" {
			begin = i
			break
		}
	}
	if begin < 0 {
		return nil, nil, ErrNoHeader
	}
	var fields []Field
	var lints []Lint
	ended := false
	var stray []Lint
	for i := begin + 1; i < len(lines); i++ {
		line := strings.TrimSuffix(lines[i], "\r")
		n := i + 1
		if strings.TrimSpace(line) == "# METAEND" {
			ended = true
			break
		}
		var clean string
		switch {
		case strings.HasPrefix(line, "# "):
			clean = line[2:]
		case strings.HasPrefix(line, "#"):
			clean = line[1:]
		default:
			if strings.TrimSpace(line) != "" {
				stray = append(stray, Lint{file, n, "line inside the metadata block does not start with '#': ignored"})
			}
			continue
		}
		clean = strings.TrimRight(clean, " \t")
		if strings.TrimSpace(clean) == "" {
			continue
		}
		if clean[0] == ' ' || clean[0] == '\t' {
			if len(fields) == 0 {
				return nil, nil, &config.ParseError{File: file, Line: n, Msg: "continuation line before any field"}
			}
			f := &fields[len(fields)-1]
			f.Value += "\n" + strings.TrimSpace(clean)
			continue
		}
		name, val, ok := strings.Cut(clean, ":")
		if !ok {
			return nil, nil, &config.ParseError{File: file, Line: n, Msg: fmt.Sprintf("%q looks like a continuation line but is not indented (continuation lines start with '#  ')", clean)}
		}
		name = strings.TrimSpace(name)
		if !fieldNameRe.MatchString(name) {
			return nil, nil, &config.ParseError{File: file, Line: n, Msg: fmt.Sprintf("invalid field name %q: use letters, digits, '-' and '_'", name)}
		}
		if !strings.HasPrefix(name, "X-Env-") {
			return nil, nil, &config.ParseError{File: file, Line: n, Msg: fmt.Sprintf("invalid field name %q: must start with X-Env-", name)}
		}
		for _, f := range fields {
			if strings.EqualFold(f.Name, name) {
				lints = append(lints, Lint{file, n, fmt.Sprintf("field %s repeats line %d; the last one wins", name, f.Line)})
			}
		}
		fields = append(fields, Field{Name: name, Value: strings.TrimSpace(val), Line: n})
	}
	if !ended {
		// rpi-image-gen reads to the end of the file in this case.
		lints = append(lints, Lint{file, begin + 1, "# METABEGIN without # METAEND: the header runs to the end of the file"})
	} else {
		lints = append(lints, stray...)
	}
	return fields, lints, nil
}

var varAttrs = []string{"Desc", "Required", "Valid", "Set", "Anchor", "Conflicts", "Triggers"}
var traitAttrs = []string{"Desc", "Valid", "Requires", "Triggers", "Include"}

var layerFields = map[string]bool{
	"x-env-layer-name": true, "x-env-layer-desc": true, "x-env-layer-version": true,
	"x-env-layer-category": true, "x-env-layer-requires": true, "x-env-layer-provides": true,
	"x-env-layer-requiresprovider": true, "x-env-layer-afterprovider": true,
	"x-env-layer-conflicts": true, "x-env-layer-type": true, "x-env-layer-generator": true,
	"x-env-layer-sets": true, "x-env-varprefix": true, "x-env-varrequires": true,
	"x-env-varrequires-valid": true, "x-env-varoptional": true, "x-env-varoptional-valid": true,
}

var depNameRe = regexp.MustCompile(`^[A-Za-z0-9_:${}\-]+$`)

// ParseLayer parses the METABEGIN header of a layer file. file names the
// file in messages and fills the placeholders; data is its content. The
// YAML body must parse too. Files without a header give ErrNoHeader.
func ParseLayer(file string, data []byte) (*Layer, error) {
	return parseLayer(file, data, placeholdersFor(file))
}

func parseLayer(file string, data []byte, ph Placeholders) (*Layer, error) {
	if err := config.CheckUTF8(file, data); err != nil {
		return nil, err
	}
	fields, lints, err := rawHeader(file, data)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, config.YAMLError(file, data, err)
	}
	for i := range fields {
		fields[i].Value = ph.substitute(fields[i].Value)
	}
	h := &header{file: file, fields: fields}
	l := &Layer{File: file, Fields: fields, Version: "1.0.0", Type: "static", Warnings: lints}
	steps := []func(*Layer) error{h.identity, h.deps, h.sets, h.vars, h.varAttrs,
		func(l *Layer) error { return parseTraits(l, fields, file) },
		h.extVars,
	}
	for _, step := range steps {
		if err := step(l); err != nil {
			return nil, err
		}
	}
	if l.Name == "" && (len(l.Vars) > 0 || l.VarPrefix != "") {
		l.Warnings = append(l.Warnings, Lint{file, 1, "header has no X-Env-Layer-Name"})
	}
	return l, nil
}

// header is a layer file's raw header fields during parsing.
type header struct {
	file   string
	fields []Field
	varIdx map[string]int
}

// get returns the last field called name (case-insensitive).
func (h *header) get(name string) (Field, bool) {
	var out Field
	found := false
	for _, f := range h.fields {
		if strings.EqualFold(f.Name, name) {
			out, found = f, true
		}
	}
	return out, found
}

func (h *header) val(name string) string { f, _ := h.get(name); return f.Value }

func (h *header) fail(f Field, format string, args ...any) error {
	return &config.ParseError{File: h.file, Line: f.Line, Msg: fmt.Sprintf(format, args...)}
}

func (h *header) warn(l *Layer, line int, format string, args ...any) {
	l.Warnings = append(l.Warnings, Lint{h.file, line, fmt.Sprintf(format, args...)})
}

// identity reads the layer's name, description, version, category, type,
// generator and variable prefix.
func (h *header) identity(l *Layer) error {
	l.Name = h.val("X-Env-Layer-Name")
	l.Desc = strings.Join(strings.Fields(h.val("X-Env-Layer-Desc")), " ")
	if v := h.val("X-Env-Layer-Version"); v != "" {
		l.Version = v
	}
	l.Category = h.val("X-Env-Layer-Category")
	if t := strings.ToLower(h.val("X-Env-Layer-Type")); t != "" {
		l.Type = t
	}
	if l.Type != "static" && l.Type != "dynamic" {
		f, _ := h.get("X-Env-Layer-Type")
		return h.fail(f, "X-Env-Layer-Type %q: want static or dynamic", l.Type)
	}
	l.Generator = h.val("X-Env-Layer-Generator")
	l.VarPrefix = strings.ToLower(h.val("X-Env-VarPrefix"))
	return nil
}

// depList reads a comma-separated list of layer names.
func (h *header) depList(name string) ([]string, error) {
	f, _ := h.get(name)
	var out []string
	for _, d := range strings.Split(f.Value, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if !depNameRe.MatchString(d) {
			return nil, h.fail(f, "%s: invalid name %q (letters, digits, '-', '_', ':' only, comma-separated)", name, d)
		}
		out = append(out, d)
	}
	return out, nil
}

// deps reads Requires (with its "name when=cond" entries), Provides,
// RequiresProvider, AfterProvider and Conflicts.
func (h *header) deps(l *Layer) error {
	if f, ok := h.get("X-Env-Layer-Requires"); ok {
		var plain []string
		for _, d := range strings.Split(f.Value, ",") {
			d = strings.TrimSpace(d)
			if n, cond, ok := strings.Cut(d, " when="); ok {
				l.CondRequires = append(l.CondRequires, CondRequire{Name: strings.TrimSpace(n), When: strings.TrimSpace(cond)})
				continue
			}
			plain = append(plain, d)
		}
		for _, d := range plain {
			if d == "" {
				continue
			}
			if !depNameRe.MatchString(d) {
				return h.fail(f, "X-Env-Layer-Requires: invalid name %q (letters, digits, '-', '_', ':' only, comma-separated)", d)
			}
			l.Requires = append(l.Requires, d)
		}
	}
	for _, p := range []struct {
		name string
		dst  *[]string
	}{
		{"X-Env-Layer-Provides", &l.Provides},
		{"X-Env-Layer-RequiresProvider", &l.RequiresProvider},
		{"X-Env-Layer-AfterProvider", &l.AfterProvider},
		{"X-Env-Layer-Conflicts", &l.Conflicts},
	} {
		var err error
		if *p.dst, err = h.depList(p.name); err != nil {
			return err
		}
	}
	return nil
}

// sets reads X-Env-Layer-Sets, KEY=VALUE pairs that are not IGconf_ names.
func (h *header) sets(l *Layer) error {
	f, ok := h.get("X-Env-Layer-Sets")
	if !ok {
		return nil
	}
	l.Sets = map[string]string{}
	for _, tok := range strings.Fields(f.Value) {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k == "" {
			return h.fail(f, "X-Env-Layer-Sets: %q is not KEY=VALUE", tok)
		}
		if strings.HasPrefix(k, "IGconf_") {
			return h.fail(f, "X-Env-Layer-Sets: %q uses the IGconf_ prefix; declare it with X-Env-Var instead", k)
		}
		l.Sets[k] = v
	}
	return nil
}

// vars reads the variables' base fields (X-Env-Var-<name>); a repeated
// name takes the later default.
func (h *header) vars(l *Layer) error {
	h.varIdx = map[string]int{}
	for _, f := range h.fields {
		if !hasPrefixFold(f.Name, "X-Env-Var-") {
			continue
		}
		rest := f.Name[len("X-Env-Var-"):]
		if rest == "" || strings.Contains(rest, "-") {
			continue
		}
		n := strings.ToLower(rest)
		if i, dup := h.varIdx[n]; dup {
			l.Vars[i].Default = f.Value
			l.Vars[i].Line = f.Line
			continue
		}
		v := Var{Name: n, Default: f.Value, Line: f.Line, EnvName: n}
		if l.VarPrefix != "" {
			v.EnvName = "IGconf_" + l.VarPrefix + "_" + n
		}
		h.varIdx[n] = len(l.Vars)
		l.Vars = append(l.Vars, v)
	}
	if len(l.Vars) > 0 && l.VarPrefix == "" && l.Name != "" {
		f, _ := h.get("X-Env-Layer-Name")
		return h.fail(f, "X-Env-Var-* fields are defined but X-Env-VarPrefix is missing")
	}
	return nil
}

// varAttrs reads the variables' attributes (X-Env-Var-<name>-<attr>) and
// warns about fields no layer header knows.
func (h *header) varAttrs(l *Layer) error {
	for _, f := range h.fields {
		switch {
		case layerFields[strings.ToLower(f.Name)], hasPrefixFold(f.Name, "X-Env-Trait-"):
			// read elsewhere
		case hasPrefixFold(f.Name, "X-Env-Var-"):
			base, attr, hasAttr := strings.Cut(f.Name[len("X-Env-Var-"):], "-")
			if !hasAttr {
				continue
			}
			i, ok := h.varIdx[strings.ToLower(base)]
			if !ok {
				h.warn(l, f.Line, "%s: attribute for variable %q which has no X-Env-Var-%s field", f.Name, base, base)
				continue
			}
			if err := h.varAttr(l, &l.Vars[i], strings.ToLower(attr), f); err != nil {
				return err
			}
		default:
			h.warn(l, f.Line, "unknown field %s", f.Name)
		}
	}
	return nil
}

// varAttr applies one attribute field f to v.
func (h *header) varAttr(l *Layer, v *Var, attr string, f Field) error {
	switch attr {
	case "desc":
		v.Desc = strings.Join(strings.Fields(f.Value), " ")
	case "required":
		switch strings.ToLower(f.Value) {
		case "true", "1", "yes", "y":
			v.Required = true
		}
	case "valid":
		v.ValidText = f.Value
		if f.Value == "" {
			return nil
		}
		r, err := ParseRule(f.Value)
		switch {
		case errors.Is(err, errRegexUnsupported):
			h.warn(l, f.Line, "%s: %v; values are not checked", f.Name, err)
		case err != nil:
			return h.fail(f, "%s: %v", f.Name, err)
		default:
			v.Valid = r
		}
	case "set":
		p, err := ParseSetPolicy(f.Value)
		if err != nil {
			return h.fail(f, "%s: %v", f.Name, err)
		}
		v.Set = p
	case "anchor":
		if f.Value != "" && !strings.HasPrefix(f.Value, "@") {
			return h.fail(f, "%s: anchor %q must start with '@'", f.Name, f.Value)
		}
		v.Anchor = f.Value
	case "conflicts":
		v.Conflicts = nonEmptyLines(f.Value)
	case "triggers":
		v.Triggers = nonEmptyLines(f.Value)
	default:
		h.warn(l, f.Line, "unknown field %s (variable attributes are %s)", f.Name, strings.Join(varAttrs, ", "))
	}
	return nil
}

// extVars reads X-Env-VarRequires and X-Env-VarOptional.
func (h *header) extVars(l *Layer) error {
	var err error
	if l.VarRequires, err = extVars(h.get, "X-Env-VarRequires", h.file); err != nil {
		return err
	}
	l.VarOptional, err = extVars(h.get, "X-Env-VarOptional", h.file)
	return err
}

func parseTraits(l *Layer, fields []Field, file string) error {
	idx := map[string]int{}
	for _, f := range fields {
		if !hasPrefixFold(f.Name, "X-Env-Trait-") {
			continue
		}
		rest := f.Name[len("X-Env-Trait-"):]
		for _, a := range traitAttrs {
			if strings.HasSuffix(rest, "-"+a) && len(rest) > len(a)+1 {
				n := rest[:len(rest)-len(a)-1]
				i, ok := idx[n]
				if !ok {
					i = len(l.Traits)
					idx[n] = i
					l.Traits = append(l.Traits, Trait{Name: n, Attrs: map[string]string{}})
				}
				l.Traits[i].Attrs[a] = f.Value
				break
			}
		}
	}
	for _, f := range fields {
		if !hasPrefixFold(f.Name, "X-Env-Trait-") {
			continue
		}
		rest := f.Name[len("X-Env-Trait-"):]
		if i, ok := idx[rest]; ok {
			l.Traits[i].Default = f.Value
			continue
		}
		known := false
		for _, a := range traitAttrs {
			if strings.HasSuffix(rest, "-"+a) {
				known = true
			}
		}
		if !known {
			l.Warnings = append(l.Warnings, Lint{file, f.Line, fmt.Sprintf("unknown trait field %s", f.Name)})
		}
	}
	for _, t := range l.Traits {
		if _, ok := t.Attrs["Desc"]; !ok {
			l.Warnings = append(l.Warnings, Lint{file, 1, fmt.Sprintf("trait %s has no -Desc", t.Name)})
		}
	}
	return nil
}

func extVars(get func(string) (Field, bool), name, file string) ([]ExtVar, error) {
	f, ok := get(name)
	if !ok || strings.TrimSpace(f.Value) == "" {
		return nil, nil
	}
	var out []ExtVar
	for _, n := range strings.Split(f.Value, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, ExtVar{Name: n})
		}
	}
	if rf, ok := get(name + "-Valid"); ok && strings.TrimSpace(rf.Value) != "" {
		rules := splitRuleList(rf.Value)
		for i := range out {
			if i >= len(rules) || rules[i] == "" {
				continue
			}
			r, err := ParseRule(rules[i])
			if errors.Is(err, errRegexUnsupported) {
				continue
			}
			if err != nil {
				return nil, &config.ParseError{File: file, Line: rf.Line, Msg: fmt.Sprintf("%s-Valid: %v", name, err)}
			}
			out[i].Valid, out[i].ValidText = r, rules[i]
		}
	}
	return out, nil
}

// splitRuleList splits "rule1,rule2" the way upstream does: on every comma.
func splitRuleList(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(r))
	}
	return out
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}
