package layers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// ErrCondition is wrapped by condition parse errors.
var ErrCondition = errors.New("invalid condition")

// errUnknownVar marks a condition that refers to a variable whose value
// cannot be known statically.
var errUnknownVar = errors.New("variable value unknown")

// Condition is a parsed X-Env condition (Conflicts, Triggers, Requires
// when=): comparisons with == != in "not in", and/or, has('token') and
// not has('token'), as upstream accepts them.
type Condition struct {
	text string
	root condNode
}

type condNode interface {
	eval(vars func(string) (string, bool), has func(string) bool) (bool, error)
}

// ParseCondition parses a condition expression.
func ParseCondition(s string) (*Condition, error) {
	p := &condParser{toks: nil, src: s}
	if err := p.lex(); err != nil {
		return nil, err
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("%w: %q: unexpected %q", ErrCondition, s, p.toks[p.pos].text)
	}
	return &Condition{text: s, root: n}, nil
}

// String returns the expression as written.
func (c *Condition) String() string { return c.text }

// Eval evaluates the condition; vars looks up variable values (ok false
// when unknown, which makes Eval fail with an error), has reports
// provided tokens.
func (c *Condition) Eval(vars func(string) (string, bool), has func(string) bool) (bool, error) {
	return c.root.eval(vars, has)
}

type condTok struct {
	kind byte // 'n' name, 's' string, 'o' operator/punct
	text string
}

type condParser struct {
	src  string
	toks []condTok
	pos  int
}

func (p *condParser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], s[i])
			if j < 0 {
				return fmt.Errorf("%w: %q: unterminated string", ErrCondition, s)
			}
			p.toks = append(p.toks, condTok{'s', s[i+1 : i+1+j]})
			i += j + 2
		case c == '_' || unicode.IsLetter(c):
			j := i
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			p.toks = append(p.toks, condTok{'n', s[i:j]})
			i = j
		case strings.HasPrefix(s[i:], "==") || strings.HasPrefix(s[i:], "!="):
			p.toks = append(p.toks, condTok{'o', s[i : i+2]})
			i += 2
		case strings.ContainsRune("()[],", c):
			p.toks = append(p.toks, condTok{'o', string(c)})
			i++
		default:
			return fmt.Errorf("%w: %q: unexpected %q", ErrCondition, s, c)
		}
	}
	return nil
}

func (p *condParser) peek(text string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind != 's' && p.toks[p.pos].text == text
}

func (p *condParser) expect(text string) error {
	if !p.peek(text) {
		return fmt.Errorf("%w: %q: expected %q", ErrCondition, p.src, text)
	}
	p.pos++
	return nil
}

type boolOp struct {
	and  bool
	args []condNode
}

func (b boolOp) eval(vars func(string) (string, bool), has func(string) bool) (bool, error) {
	for _, a := range b.args {
		v, err := a.eval(vars, has)
		if err != nil {
			return false, err
		}
		if b.and && !v {
			return false, nil
		}
		if !b.and && v {
			return true, nil
		}
	}
	return b.and, nil
}

type hasNode struct {
	token string
	not   bool
}

func (h hasNode) eval(_ func(string) (string, bool), has func(string) bool) (bool, error) {
	return has(h.token) != h.not, nil
}

type operand struct {
	name string   // variable name, or
	str  string   // string constant, or
	list []string // list constant
	kind byte     // 'n', 's', 'l'
}

func (o operand) value(vars func(string) (string, bool)) (string, error) {
	if o.kind == 's' {
		return o.str, nil
	}
	v, ok := vars(o.name)
	if !ok {
		return "", fmt.Errorf("%w: %s", errUnknownVar, o.name)
	}
	return v, nil
}

type compare struct {
	op          string // == != in notin
	left, right operand
}

func (c compare) eval(vars func(string) (string, bool), _ func(string) bool) (bool, error) {
	l, err := c.left.value(vars)
	if err != nil {
		return false, err
	}
	if c.op == "in" || c.op == "notin" {
		in := false
		if c.right.kind == 'l' {
			in = slices.Contains(c.right.list, l)
		} else {
			r, err := c.right.value(vars)
			if err != nil {
				return false, err
			}
			in = strings.Contains(r, l)
		}
		return in == (c.op == "in"), nil
	}
	r, err := c.right.value(vars)
	if err != nil {
		return false, err
	}
	return (l == r) == (c.op == "=="), nil
}

func (p *condParser) or() (condNode, error) {
	return p.chain("or", p.and)
}

func (p *condParser) and() (condNode, error) {
	return p.chain("and", p.unary)
}

func (p *condParser) chain(op string, next func() (condNode, error)) (condNode, error) {
	n, err := next()
	if err != nil {
		return nil, err
	}
	args := []condNode{n}
	for p.peek(op) {
		p.pos++
		m, err := next()
		if err != nil {
			return nil, err
		}
		args = append(args, m)
	}
	if len(args) == 1 {
		return n, nil
	}
	return boolOp{and: op == "and", args: args}, nil
}

func (p *condParser) unary() (condNode, error) {
	if p.peek("not") {
		p.pos++
		h, err := p.has()
		if err != nil {
			return nil, fmt.Errorf("%w: %q: 'not' can only negate has()", ErrCondition, p.src)
		}
		h.not = true
		return h, nil
	}
	if p.peek("(") {
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		return n, p.expect(")")
	}
	if p.peek("has") {
		return p.has()
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	var op string
	switch {
	case p.peek("=="), p.peek("!="), p.peek("in"):
		op = p.toks[p.pos].text
		p.pos++
	case p.peek("not"):
		p.pos++
		if err := p.expect("in"); err != nil {
			return nil, err
		}
		op = "notin"
	default:
		return nil, fmt.Errorf("%w: %q: expected a comparison (==, !=, in, not in)", ErrCondition, p.src)
	}
	right, err := p.operand()
	if err != nil {
		return nil, err
	}
	return compare{op: op, left: left, right: right}, nil
}

func (p *condParser) has() (hasNode, error) {
	if err := p.expect("has"); err != nil {
		return hasNode{}, err
	}
	if err := p.expect("("); err != nil {
		return hasNode{}, err
	}
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != 's' {
		return hasNode{}, fmt.Errorf("%w: %q: has() takes one quoted token", ErrCondition, p.src)
	}
	tok := p.toks[p.pos].text
	p.pos++
	return hasNode{token: tok}, p.expect(")")
}

func (p *condParser) operand() (operand, error) {
	if p.pos >= len(p.toks) {
		return operand{}, fmt.Errorf("%w: %q: unexpected end", ErrCondition, p.src)
	}
	t := p.toks[p.pos]
	switch {
	case t.kind == 's':
		p.pos++
		return operand{kind: 's', str: t.text}, nil
	case t.kind == 'n' && t.text != "and" && t.text != "or" && t.text != "not" && t.text != "in":
		p.pos++
		return operand{kind: 'n', name: t.text}, nil
	case t.text == "[":
		p.pos++
		o := operand{kind: 'l'}
		for !p.peek("]") {
			if p.pos >= len(p.toks) || p.toks[p.pos].kind != 's' {
				return operand{}, fmt.Errorf("%w: %q: lists hold quoted strings", ErrCondition, p.src)
			}
			o.list = append(o.list, p.toks[p.pos].text)
			p.pos++
			if p.peek(",") {
				p.pos++
			}
		}
		p.pos++
		return o, nil
	}
	return operand{}, fmt.Errorf("%w: %q: unexpected %q", ErrCondition, p.src, t.text)
}
