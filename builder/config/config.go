package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pistudio/pistudio/internal/atomicfile"

	"gopkg.in/yaml.v3"
)

// Config is an rpi-image-gen YAML config held as its original bytes plus
// the yaml.v3 node tree parsed from them. Edits patch the bytes at the
// edited value and re-parse, so everything else (comments, key order, flow
// style, unknown sections) is kept byte for byte.
type Config struct {
	// Path is the file the config was loaded from or will be saved to.
	Path string
	// IncludePath lists extra directories searched for include: files
	// that are not found next to the including file (rpi-image-gen
	// searches the config/ dirs of the -S dirs and of the tool).
	IncludePath []string
	src         []byte
	doc         yaml.Node
	literal     bool // during SetLiteral: write values as given
}

// ErrUnsupportedEdit is returned when an edit would need a rewrite this
// package cannot do without touching other bytes (block scalars, anchors,
// tags, values inside nested flow collections).
var ErrUnsupportedEdit = errors.New("edit not supported")

// LoadConfig reads and parses the config at path.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses data as the config named name (used in messages and
// to resolve includes).
func ParseConfig(name string, data []byte) (*Config, error) {
	c := &Config{Path: name}
	if err := c.reparse(append([]byte(nil), data...)); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) reparse(src []byte) error {
	if err := CheckUTF8(c.Path, src); err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return YAMLError(c.Path, src, err)
	}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode && !(root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
			return &ParseError{File: c.Path, Line: root.Line, Column: root.Column, Msg: "config must be a mapping of sections at the top level"}
		}
	}
	c.src, c.doc = src, doc
	return nil
}

// Bytes returns the config's bytes: exactly what Save writes.
func (c *Config) Bytes() []byte { return append([]byte(nil), c.src...) }

// Save writes the config back to c.Path.
func (c *Config) Save() error { return c.SaveAs(c.Path) }

// SaveAs writes the config to path (atomically, via a temporary file) and
// makes path the config's Path.
func (c *Config) SaveAs(path string) error {
	if err := atomicfile.WriteFile(path, c.src, 0o644); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	c.Path = path
	return nil
}

func (c *Config) root() *yaml.Node {
	if len(c.doc.Content) == 0 || c.doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return c.doc.Content[0]
}

// loc is a found key path: key node, value node, parent and flow context.
type loc struct {
	key, val, parent *yaml.Node
	flow             bool // some collection on the path is in flow style
}

func splitKey(key string) []string { return strings.Split(key, ".") }

// find walks key path parts. It returns the deepest location reached and
// how many parts matched.
func (c *Config) find(parts []string) (loc, int) {
	var l loc
	n := c.root()
	if n == nil {
		return l, 0
	}
	flow := n.Style&yaml.FlowStyle != 0
	for i, p := range parts {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for j := 0; j+1 < len(n.Content); j += 2 {
				if n.Content[j].Value == p {
					l = loc{key: n.Content[j], val: n.Content[j+1], parent: n, flow: flow}
					found = true
				}
			}
			if !found {
				return l, i
			}
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(p)
			if err != nil || idx < 0 || idx >= len(n.Content) {
				return l, i
			}
			l = loc{val: n.Content[idx], parent: n, flow: flow}
		default:
			return l, i
		}
		n = l.val
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			flow = flow || n.Style&yaml.FlowStyle != 0
		}
	}
	return l, len(parts)
}

// scalarString gives a scalar's value, "" for null.
func scalarString(n *yaml.Node) string {
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// nodeString renders any node as the string rpi-image-gen would see
// (scalars as written; collections in flow YAML).
func nodeString(n *yaml.Node) string {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		return scalarString(n)
	}
	cp := *n
	cp.Style = yaml.FlowStyle
	b, err := yaml.Marshal(&cp)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Get returns the scalar value at key (e.g. "image.name"; list items by
// index, "layer.0"). Values are returned unexpanded. ok is false when the
// key is missing or names a mapping or list.
func (c *Config) Get(key string) (value string, ok bool) {
	parts := splitKey(key)
	l, n := c.find(parts)
	if n != len(parts) || l.val == nil {
		return "", false
	}
	v := l.val
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind != yaml.ScalarNode {
		return "", false
	}
	return scalarString(v), true
}

// Has reports whether key exists (as any kind of node).
func (c *Config) Has(key string) bool {
	parts := splitKey(key)
	_, n := c.find(parts)
	return n == len(parts)
}

// Line returns the source line of key (its key node), or 0 if missing.
func (c *Config) Line(key string) int {
	parts := splitKey(key)
	l, n := c.find(parts)
	if n != len(parts) {
		return 0
	}
	if l.key != nil {
		return l.key.Line
	}
	return l.val.Line
}

// Sections returns the top-level section names in file order.
func (c *Config) Sections() []string {
	r := c.root()
	if r == nil {
		return nil
	}
	var out []string
	for i := 0; i+1 < len(r.Content); i += 2 {
		out = append(out, r.Content[i].Value)
	}
	return out
}

// Keys returns the keys of the mapping at section, in file order (list
// sections give their indexes).
func (c *Config) Keys(section string) []string {
	l, n := c.find(splitKey(section))
	if n == 0 || l.val == nil {
		return nil
	}
	var out []string
	switch l.val.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(l.val.Content); i += 2 {
			out = append(out, l.val.Content[i].Value)
		}
	case yaml.SequenceNode:
		for i := range l.val.Content {
			out = append(out, strconv.Itoa(i))
		}
	}
	return out
}

// lineStarts returns the byte offset of each line start (index 0 = line 1).
// Line 1 starts after a UTF-8 byte order mark, as yaml.v3 counts columns.
func (c *Config) lineStarts() []int {
	starts := []int{0}
	if bytes.HasPrefix(c.src, utf8BOM) {
		starts[0] = len(utf8BOM)
	}
	for i, b := range c.src {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

var utf8BOM = []byte("\xef\xbb\xbf")

// eol returns the file's line ending: "\r\n" when its first line ends
// so, else "\n". Inserted lines use it.
func (c *Config) eol() string {
	if i := bytes.IndexByte(c.src, '\n'); i > 0 && c.src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// offset converts a yaml.v3 1-based line/column (in characters) to a byte offset.
func (c *Config) offset(line, col int) (int, error) {
	starts := c.lineStarts()
	if line < 1 || line > len(starts) {
		return 0, fmt.Errorf("%w: line %d out of range", ErrUnsupportedEdit, line)
	}
	off := starts[line-1]
	for i := 1; i < col; i++ {
		if off >= len(c.src) || c.src[off] == '\n' {
			return 0, fmt.Errorf("%w: column %d out of range on line %d", ErrUnsupportedEdit, col, line)
		}
		_, sz := utf8.DecodeRune(c.src[off:])
		off += sz
	}
	return off, nil
}

// scalarExtent returns the byte range of a scalar node's source text.
func (c *Config) scalarExtent(n *yaml.Node, flow bool) (int, int, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, 0, fmt.Errorf("%w: value at line %d is not a scalar", ErrUnsupportedEdit, n.Line)
	}
	if n.Anchor != "" || n.Style&(yaml.TaggedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return 0, 0, fmt.Errorf("%w: value at line %d has an anchor, a tag or is a block scalar", ErrUnsupportedEdit, n.Line)
	}
	start, err := c.offset(n.Line, n.Column)
	if err != nil {
		return 0, 0, err
	}
	s := c.src
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				return start, i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return start, i + 1, nil
			}
		}
	default:
		end := start
		for end < len(s) && s[end] != '\n' && s[end] != '\r' {
			if flow && (s[end] == ',' || s[end] == '}' || s[end] == ']') {
				break
			}
			if s[end] == '#' && end > start && (s[end-1] == ' ' || s[end-1] == '\t') {
				break
			}
			end++
		}
		for end > start && (s[end-1] == ' ' || s[end-1] == '\t') {
			end--
		}
		return start, end, nil
	}
	return 0, 0, fmt.Errorf("%w: unterminated quoted value at line %d", ErrUnsupportedEdit, n.Line)
}

// render encodes value as YAML scalar text for the given context, keeping
// the previous quoting style when there was one.
func (c *Config) render(value string, style yaml.Style, flow bool) string {
	if c.literal {
		return value
	}
	return render(value, style, flow)
}

func render(value string, style yaml.Style, flow bool) string {
	if style&yaml.SingleQuotedStyle != 0 && !strings.ContainsAny(value, "\n\r\t") && utf8.ValidString(value) {
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	}
	if style&yaml.DoubleQuotedStyle == 0 && value != "" && plainOK(value, flow) {
		return value
	}
	return doubleQuote(value)
}

func doubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case utf8.RuneError:
			b.WriteString(`\uFFFD`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\x%02X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// plainOK reports whether value reads back unchanged as a plain scalar.
func plainOK(value string, flow bool) bool {
	if strings.ContainsAny(value, "\n\r\t#") || strings.TrimSpace(value) != value {
		return false
	}
	if flow && strings.ContainsAny(value, ",[]{}") {
		return false
	}
	doc := "k: " + value + "\n"
	if flow {
		doc = "{k: " + value + "}\n"
	}
	var n yaml.Node
	if yaml.Unmarshal([]byte(doc), &n) != nil || len(n.Content) == 0 {
		return false
	}
	m := n.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 {
		return false
	}
	v := m.Content[1]
	if v.Kind != yaml.ScalarNode || v.Value != value || v.Style != 0 {
		return false
	}
	// rpi-image-gen reads configs with PyYAML (YAML 1.1) and str()s every
	// value: only plain text that stays a string there, or a canonical
	// decimal integer, reads back unchanged.
	if pyDecimalRe.MatchString(value) {
		return true
	}
	return v.Tag == "!!str" && !pyImplicitRe.MatchString(value)
}

var (
	pyDecimalRe  = regexp.MustCompile(`^(?:0|-?[1-9][0-9]*)$`)
	pyImplicitRe = regexp.MustCompile(`^(?:` +
		`yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|` + // bool
		`~|null|Null|NULL|` + // null
		`[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+|` + // int
		`[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|` + // float
		`[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*|` + // timestamp
		`=|<<)$`)
)

// patch replaces src[start:end] with text, re-parses, and checks that key
// reads back as want (when check is set). On failure nothing changes.
func (c *Config) patch(start, end int, text string, key string, want *string) error {
	old, oldDoc := c.src, c.doc
	ns := make([]byte, 0, len(old)+len(text))
	ns = append(ns, old[:start]...)
	ns = append(ns, text...)
	ns = append(ns, old[end:]...)
	if err := c.reparse(ns); err != nil {
		c.src, c.doc = old, oldDoc
		return fmt.Errorf("%w: editing %s would break the YAML: %w", ErrUnsupportedEdit, key, err)
	}
	if want != nil {
		if got, ok := c.Get(key); !ok || got != *want {
			c.src, c.doc = old, oldDoc
			return fmt.Errorf("%w: %s did not read back as %q", ErrUnsupportedEdit, key, *want)
		}
	} else if c.Has(key) {
		c.src, c.doc = old, oldDoc
		return fmt.Errorf("%w: %s could not be removed cleanly", ErrUnsupportedEdit, key)
	}
	return nil
}

// Set sets key to value, adding the key (and its section) when missing.
// Only the bytes of the value (or the inserted line) change.
func (c *Config) Set(key, value string) error {
	parts := splitKey(key)
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("invalid key %q", key)
		}
	}
	l, n := c.find(parts)
	if n == len(parts) {
		v := l.val
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("%w: %s is a mapping or list, not a value", ErrUnsupportedEdit, key)
		}
		if v.Tag == "!!null" && v.Value == "" {
			// "key:" with nothing after it: write after the colon.
			return c.fillEmpty(l, key, value)
		}
		start, end, err := c.scalarExtent(v, l.flow)
		if err != nil {
			return err
		}
		return c.patch(start, end, c.render(value, v.Style, l.flow), key, &value)
	}
	// Missing: parent is the node reached after n parts.
	var parent *yaml.Node
	flow := false
	if n == 0 {
		parent = c.root()
	} else {
		parent, flow = l.val, l.flow
	}
	rest := parts[n:]
	switch {
	case parent == nil:
		return c.appendSection(rest, key, value)
	case parent.Kind == yaml.MappingNode && (flow || parent.Style&yaml.FlowStyle != 0):
		return c.insertFlow(parent, rest, key, value)
	case parent.Kind == yaml.MappingNode:
		return c.insertBlock(parent, rest, key, value)
	case parent.Kind == yaml.ScalarNode && parent.Tag == "!!null" && parent.Value == "":
		return c.fillEmpty(l, key, value)
	}
	return fmt.Errorf("%w: cannot add %s under %s (line %d)", ErrUnsupportedEdit, key, strings.Join(parts[:n], "."), parent.Line)
}

// nestedText renders keys parts[1:]… as nested block lines under
// parts[0], each ended by eol; value is already rendered YAML text.
func nestedText(parts []string, value string, indent, step int, eol string) string {
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(strings.Repeat(" ", indent+i*step))
		b.WriteString(renderKey(p))
		b.WriteString(":")
		if i == len(parts)-1 {
			b.WriteString(" " + value)
		}
		b.WriteString(eol)
	}
	return b.String()
}

func renderKey(k string) string {
	if plainOK(k, true) {
		return k
	}
	return doubleQuote(k)
}

// indentStep guesses the file's indentation step (default 2).
func (c *Config) indentStep() int {
	r := c.root()
	if r == nil {
		return 2
	}
	for i := 1; i < len(r.Content); i += 2 {
		v := r.Content[i]
		if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
			if d := v.Content[0].Column - r.Content[i-1].Column; d > 0 {
				return d
			}
		}
	}
	return 2
}

func (c *Config) appendSection(parts []string, key, value string) error {
	end := len(c.src)
	text := nestedText(parts, c.render(value, 0, false), 0, c.indentStep(), c.eol())
	if end > 0 && c.src[end-1] != '\n' {
		text = c.eol() + text
	}
	return c.patch(end, end, text, key, &value)
}

// lastLine returns the last source line any node under n starts on.
func lastLine(n *yaml.Node) int {
	m := n.Line
	for _, ch := range n.Content {
		if l := lastLine(ch); l > m {
			m = l
		}
	}
	return m
}

// blockEnd returns the last line of the block entry whose last node
// starts on line last and whose key sits at column indent+1: following
// lines indented deeper (block scalar text, multi-line values) belong to
// it; trailing blank lines do not.
func (c *Config) blockEnd(last, indent int) int {
	lines := strings.Split(string(c.src), "\n")
	end := last
	for i := last; i < len(lines); i++ { // lines[i] is line i+1
		l := strings.TrimRight(lines[i], "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if len(l)-len(strings.TrimLeft(l, " ")) <= indent {
			break
		}
		end = i + 1
	}
	return end
}

func (c *Config) insertBlock(m *yaml.Node, parts []string, key, value string) error {
	if len(m.Content) == 0 {
		return fmt.Errorf("%w: empty block mapping at line %d", ErrUnsupportedEdit, m.Line)
	}
	indent := m.Content[0].Column - 1
	after := c.blockEnd(lastLine(m), indent)
	starts := c.lineStarts()
	var off int
	prefix := ""
	if after < len(starts) {
		off = starts[after]
	} else {
		off = len(c.src)
		if off > 0 && c.src[off-1] != '\n' {
			prefix = c.eol()
		}
	}
	return c.patch(off, off, prefix+nestedText(parts, c.render(value, 0, false), indent, c.indentStep(), c.eol()), key, &value)
}

func (c *Config) insertFlow(m *yaml.Node, parts []string, key, value string) error {
	if len(parts) != 1 {
		return fmt.Errorf("%w: cannot add nested %s inside a flow mapping", ErrUnsupportedEdit, key)
	}
	entry := renderKey(parts[0]) + ": " + c.render(value, 0, true)
	if len(m.Content) == 0 {
		start, err := c.offset(m.Line, m.Column)
		if err != nil || c.src[start] != '{' {
			return fmt.Errorf("%w: cannot locate flow mapping at line %d", ErrUnsupportedEdit, m.Line)
		}
		return c.patch(start+1, start+1, entry, key, &value)
	}
	last := m.Content[len(m.Content)-1]
	_, end, err := c.scalarExtent(last, true)
	if err != nil {
		return err
	}
	return c.patch(end, end, ", "+entry, key, &value)
}

// fillEmpty handles "section:" with nothing after it (a null value).
func (c *Config) fillEmpty(l loc, key, value string) error {
	if l.key == nil || l.flow {
		return fmt.Errorf("%w: cannot fill empty value of %s", ErrUnsupportedEdit, key)
	}
	// Where does the empty value's parent key path end and the rest begin?
	parts := splitKey(key)
	var have int
	for have = len(parts); have > 0; have-- {
		if lk, n := c.find(parts[:have]); n == have && lk.key == l.key {
			break
		}
	}
	rest := parts[have:]
	kstart, err := c.offset(l.key.Line, l.key.Column)
	if err != nil {
		return err
	}
	lineEnd := bytes.IndexByte(c.src[kstart:], '\n')
	if lineEnd < 0 {
		lineEnd = len(c.src)
	} else {
		lineEnd += kstart
	}
	// The rest of the key line must be ":" plus optional comment.
	tail := string(c.src[kstart:lineEnd])
	colon := strings.Index(tail, ":")
	if colon < 0 {
		return fmt.Errorf("%w: cannot find ':' after %s", ErrUnsupportedEdit, l.key.Value)
	}
	after := strings.TrimSpace(tail[colon+1:])
	if after != "" && !strings.HasPrefix(after, "#") {
		return fmt.Errorf("%w: %s has an explicit null value", ErrUnsupportedEdit, l.key.Value)
	}
	if len(rest) == 0 {
		pos := kstart + colon + 1
		return c.patch(pos, pos, " "+c.render(value, 0, false), key, &value)
	}
	text := nestedText(rest, c.render(value, 0, false), l.key.Column-1+c.indentStep(), c.indentStep(), c.eol())
	if lineEnd == len(c.src) {
		return c.patch(lineEnd, lineEnd, c.eol()+text, key, &value)
	}
	return c.patch(lineEnd+1, lineEnd+1, text, key, &value)
}

// SetLiteral is Set with value written as given, as YAML text: use it for
// typed values such as a trait override `true` that Set would quote. The
// text must read back as a plain scalar equal to itself.
func (c *Config) SetLiteral(key, yamlText string) error {
	if yamlText == "" || strings.ContainsAny(yamlText, "\n\r#") || strings.TrimSpace(yamlText) != yamlText {
		return fmt.Errorf("%w: %q is not a single plain YAML scalar", ErrUnsupportedEdit, yamlText)
	}
	c.literal = true
	defer func() { c.literal = false }()
	return c.Set(key, yamlText)
}

// Delete removes key and its value. Deleting a missing key is not an error.
func (c *Config) Delete(key string) error {
	parts := splitKey(key)
	l, n := c.find(parts)
	if n != len(parts) {
		return nil
	}
	if l.key == nil {
		return fmt.Errorf("%w: cannot delete list item %s", ErrUnsupportedEdit, key)
	}
	kstart, err := c.offset(l.key.Line, l.key.Column)
	if err != nil {
		return err
	}
	if l.flow {
		_, end, err := c.scalarExtent(l.val, true)
		if err != nil {
			return err
		}
		s := c.src
		j := end
		for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
			j++
		}
		if j < len(s) && s[j] == ',' {
			j++
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			return c.patch(kstart, j, "", key, nil)
		}
		i := kstart
		for i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
			i--
		}
		if i > 0 && s[i-1] == ',' {
			i--
		}
		return c.patch(i, end, "", key, nil)
	}
	starts := c.lineStarts()
	lineStart := starts[l.key.Line-1]
	if strings.TrimSpace(string(c.src[lineStart:kstart])) != "" {
		return fmt.Errorf("%w: %s does not start its line", ErrUnsupportedEdit, key)
	}
	last := c.blockEnd(lastLine(l.val), l.key.Column-1)
	end := len(c.src)
	if last < len(starts) {
		end = starts[last]
	}
	return c.patch(lineStart, end, "", key, nil)
}
