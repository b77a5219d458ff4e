package layers

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// RuleKind classifies a validation rule so a front end can choose a widget.
type RuleKind int

// The kinds of -Valid rules rpi-image-gen knows.
const (
	// KindNone is the zero Rule: no validation.
	KindNone RuleKind = iota
	// KindBool accepts true/false, 1/0, yes/no, y/n.
	KindBool
	// KindInt accepts an integer, optionally within a range.
	KindInt
	// KindEnum accepts one of a fixed list (plain list or keywords:).
	KindEnum
	// KindList accepts a comma-separated subset of a fixed list.
	KindList
	// KindRegex accepts values matching a regular expression.
	KindRegex
	// KindSize accepts an rpi-image-gen size (12345, 20k, 128M, 1G, 512s, 50%).
	KindSize
	// KindCapacity accepts a binary storage capacity (8K, 4GiB, 512).
	KindCapacity
	// KindString accepts strings (non-empty, or-empty, or-unset variants).
	KindString
	// KindFile accepts a path to an existing regular file.
	KindFile
	// KindDir accepts a path to an existing directory.
	KindDir
)

var kindNames = [...]string{"none", "bool", "int", "enum", "list", "regex", "size", "capacity", "string", "file", "dir"}

// String returns the kind's lower-case name.
func (k RuleKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Rule is a parsed X-Env-Var-*-Valid rule. The zero Rule accepts anything.
type Rule struct {
	text     string
	kind     RuleKind
	choices  []string
	min, max int64    // bigMin/bigMax clamped to int64 (Range)
	bigMin   *big.Int // int:MIN-MAX bounds, any size (as Python's int)
	bigMax   *big.Int
	ranged   bool
	re       *regexp.Regexp
	looks    []lookahead
	// string variants
	allowEmpty, allowUnset bool
	// file variants
	nonZero bool
}

// ErrBadRule is wrapped by ParseRule errors.
var ErrBadRule = errors.New("invalid validation rule")

// errRegexUnsupported marks a regex this package cannot compile (Python
// syntax beyond RE2 and leading lookaheads); it wraps ErrBadRule.
var errRegexUnsupported = fmt.Errorf("%w: unsupported regular expression", ErrBadRule)

// ParseRule parses a -Valid rule exactly as rpi-image-gen does.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	r := Rule{text: s}
	switch {
	case s == "":
		return r, fmt.Errorf("%w: empty rule", ErrBadRule)
	case s == "string":
		r.kind = KindString
	case s == "string-or-empty":
		r.kind, r.allowEmpty = KindString, true
	case s == "string-or-unset":
		r.kind, r.allowUnset = KindString, true
	case s == "bool":
		r.kind = KindBool
	case s == "int":
		r.kind = KindInt
	case strings.HasPrefix(s, "int:"):
		parts := strings.Split(s[4:], "-")
		if len(parts) != 2 || !isPlusDigits(parts[0]) || !isPlusDigits(parts[1]) {
			return r, fmt.Errorf("%w: %q: want int:MIN-MAX", ErrBadRule, s)
		}
		lo, err1 := pyInt(parts[0])
		hi, err2 := pyInt(parts[1])
		if err1 != nil || err2 != nil {
			return r, fmt.Errorf("%w: %q: want int:MIN-MAX", ErrBadRule, s)
		}
		r.kind, r.bigMin, r.bigMax, r.ranged = KindInt, lo, hi, true
		r.min, r.max = clampInt64(lo), clampInt64(hi)
	case strings.HasPrefix(s, "regex:"):
		re, looks, err := compilePyRegex(s[6:])
		if err != nil {
			return r, fmt.Errorf("%w: regex %q: %w", errRegexUnsupported, s[6:], err)
		}
		r.kind, r.re, r.looks = KindRegex, re, looks
	case strings.HasPrefix(s, "keywords:"):
		r.kind, r.choices = KindEnum, splitTrim(s[9:], false)
	case strings.HasPrefix(s, "list:"):
		r.kind, r.choices = KindList, splitTrim(s[5:], false)
	case s == "file":
		r.kind = KindFile
	case s == "file-nzero":
		r.kind, r.nonZero = KindFile, true
	case s == "dir":
		r.kind = KindDir
	case s == "size":
		r.kind = KindSize
	case s == "capacity":
		r.kind = KindCapacity
	case strings.Contains(s, ","):
		r.kind, r.choices = KindEnum, splitTrim(s, true)
	default:
		return r, fmt.Errorf("%w: single value %q must use a trailing comma (%q) or the keywords: prefix", ErrBadRule, s, s+",")
	}
	return r, nil
}

// isPlusDigits mirrors Python's p.lstrip("+").isdigit() followed by a
// successful int(p): one optional '+' and decimal digits (any script).
func isPlusDigits(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for _, c := range s {
		if !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// splitTrim splits on commas and trims; dropEmpty removes empty entries.
func splitTrim(s string, dropEmpty bool) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" && dropEmpty {
			continue
		}
		out = append(out, p)
	}
	return out
}

// lookahead is a leading (?=...) or (?!...) group of a Python pattern,
// which RE2 lacks; it is checked separately as an anchored prefix match.
type lookahead struct {
	re     *regexp.Regexp
	negate bool
}

// compilePyRegex compiles a Python-style pattern for full-match use.
// Python's fullmatch is emulated by anchoring the whole pattern. Leading
// lookahead groups (the usual "must contain a digit" idiom) are split off
// and checked as prefix matches at the start of the value.
func compilePyRegex(p string) (*regexp.Regexp, []lookahead, error) {
	rest := p
	caret := strings.HasPrefix(rest, "^")
	if caret {
		rest = rest[1:]
	}
	var looks []lookahead
	for strings.HasPrefix(rest, "(?=") || strings.HasPrefix(rest, "(?!") {
		end := matchParen(rest)
		if end < 0 {
			return nil, nil, errors.New("unbalanced parenthesis")
		}
		lre, err := regexp.Compile(`^(?:` + rest[3:end] + `)`)
		if err != nil {
			return nil, nil, err
		}
		looks = append(looks, lookahead{re: lre, negate: rest[2] == '!'})
		rest = rest[end+1:]
	}
	if len(looks) > 0 {
		p = rest
		if caret {
			p = "^" + rest
		}
	}
	if _, err := regexp.Compile(p); err != nil {
		return nil, nil, err
	}
	re, err := regexp.Compile(`^(?:` + p + `)$`)
	return re, looks, err
}

// matchParen returns the index of the parenthesis closing s[0], or -1.
func matchParen(s string) int {
	depth := 0
	inClass := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(s) && s[i+1] == ']' {
				i++
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func (r Rule) matchRegex(v string) bool {
	for _, l := range r.looks {
		if l.re.MatchString(v) == l.negate {
			return false
		}
	}
	return r.re.MatchString(v)
}

// String returns the rule as written.
func (r Rule) String() string { return r.text }

// Kind reports what sort of value the rule accepts.
func (r Rule) Kind() RuleKind { return r.kind }

// Choices returns the allowed values of an enum or list rule, else nil.
func (r Rule) Choices() []string {
	if r.kind != KindEnum && r.kind != KindList {
		return nil
	}
	return append([]string(nil), r.choices...)
}

// Range returns the inclusive bounds of an int:MIN-MAX rule.
func (r Rule) Range() (min, max int64, ok bool) { return r.min, r.max, r.ranged }

// RangeBig returns the exact bounds of an int:MIN-MAX rule (copies).
func (r Rule) RangeBig() (min, max *big.Int, ok bool) {
	if !r.ranged {
		return nil, nil, false
	}
	return new(big.Int).Set(r.bigMin), new(big.Int).Set(r.bigMax), true
}

// AllowsUnset reports whether the rule accepts an unset value.
func (r Rule) AllowsUnset() bool {
	return r.kind == KindNone || r.allowUnset || r.kind == KindFile || r.kind == KindDir
}

// Check validates value; set is false when the variable is unset. The
// error says why the value is rejected.
func (r Rule) Check(value string, set bool) error {
	if r.kind == KindNone {
		return nil
	}
	if !set {
		if r.AllowsUnset() {
			return nil
		}
		return errors.New("value is not set")
	}
	switch r.kind {
	case KindBool:
		return checkBool(value)
	case KindInt:
		return r.checkInt(value)
	case KindEnum:
		if slices.Contains(r.choices, value) {
			return nil
		}
		return fmt.Errorf("'%s' is not one of %s", value, strings.Join(r.choices, ", "))
	case KindList:
		return r.checkList(value)
	case KindRegex:
		if !r.matchRegex(value) {
			return fmt.Errorf("'%s' does not match %s", value, strings.TrimPrefix(r.text, "regex:"))
		}
		return nil
	case KindSize:
		if !sizeRe.MatchString(value) {
			return fmt.Errorf("'%s' is not a size (12345, 20k, 128M, 1G, 512s or 50%%)", value)
		}
		return nil
	case KindCapacity:
		return checkCapacity(value)
	case KindString:
		if value == "" && !r.allowEmpty {
			return errors.New("value is empty")
		}
		return nil
	case KindFile, KindDir:
		return r.checkPath(value)
	}
	return nil
}

func checkBool(value string) error {
	switch strings.ToLower(value) {
	case "true", "1", "yes", "y", "false", "0", "no", "n":
		return nil
	}
	return fmt.Errorf("'%s' is not a boolean (true/false, 1/0, yes/no, y/n)", value)
}

func (r Rule) checkInt(value string) error {
	n, err := pyInt(value)
	if err != nil {
		return fmt.Errorf("'%s' is not an integer", value)
	}
	if r.ranged && n.Cmp(r.bigMin) < 0 {
		return fmt.Errorf("'%s' is below the minimum %s", value, r.bigMin)
	}
	if r.ranged && n.Cmp(r.bigMax) > 0 {
		return fmt.Errorf("'%s' is above the maximum %s", value, r.bigMax)
	}
	return nil
}

// checkList checks a comma-separated list of choices: no empty entries,
// no unknown ones, none twice; every finding is reported.
func (r Rule) checkList(value string) error {
	items := strings.Split(value, ",")
	if len(items) == 1 && strings.TrimSpace(items[0]) == "" {
		return errors.New("value is empty")
	}
	seen := map[string]bool{}
	var errs []string
	for _, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
			errs = append(errs, "the list has an empty entry")
		case !slices.Contains(r.choices, it):
			errs = append(errs, fmt.Sprintf("'%s' is not one of %s", it, strings.Join(r.choices, ", ")))
		case seen[it]:
			errs = append(errs, fmt.Sprintf("'%s' is listed more than once", it))
		}
		seen[it] = true
	}
	if errs != nil {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// checkPath checks a file or directory rule against the file system,
// with ~ and $VARS expanded.
func (r Rule) checkPath(value string) error {
	p := os.ExpandEnv(expandHome(value))
	st, err := os.Stat(p)
	if r.kind == KindDir {
		if err != nil || !st.IsDir() {
			return fmt.Errorf("'%s' is not an existing directory", p)
		}
		return nil
	}
	if err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("'%s' is not an existing regular file", p)
	}
	if r.nonZero && st.Size() == 0 {
		return fmt.Errorf("file '%s' is empty", p)
	}
	return nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[1:])
		}
	}
	return p
}

// pyInt parses an integer of any size the way Python's int() does for
// strings: surrounding whitespace, one sign, decimal digits of any script
// and single underscores between digits.
func pyInt(s string) (*big.Int, error) {
	s = strings.TrimFunc(s, unicode.IsSpace) // the same set as Python's int()
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var digits strings.Builder
	prevDigit := false
	for _, c := range s {
		switch {
		case c == '_' && prevDigit:
			prevDigit = false
			continue
		case unicode.IsDigit(c):
			digits.WriteByte(byte('0' + digitValue(c)))
			prevDigit = true
		default:
			return nil, strconv.ErrSyntax
		}
	}
	if digits.Len() == 0 || !prevDigit {
		return nil, strconv.ErrSyntax
	}
	n, ok := new(big.Int).SetString(digits.String(), 10)
	if !ok {
		return nil, strconv.ErrSyntax
	}
	if neg {
		n.Neg(n)
	}
	return n, nil
}

// digitValue returns the value of a decimal digit (Unicode Nd): Nd
// characters come in runs of ten, 0 to 9.
func digitValue(r rune) int {
	k := 0
	for unicode.IsDigit(r - rune(k) - 1) {
		k++
	}
	return k % 10
}

func clampInt64(n *big.Int) int64 {
	switch {
	case n.IsInt64():
		return n.Int64()
	case n.Sign() < 0:
		return math.MinInt64
	}
	return math.MaxInt64
}

var (
	sizeRe        = regexp.MustCompile(`^(?:[0-9]+[kKmMgGsS]?|[1-9][0-9]*%)$`)
	capacityRe    = regexp.MustCompile(`^[0-9]+(?:[KMGT]|[KMGT]iB)?$`)
	decimalUnitRe = regexp.MustCompile(`[KMGTPEZY]B$`)
)

func checkCapacity(v string) error {
	if strings.Contains(v, "%") {
		return fmt.Errorf("'%s': a capacity cannot be a percentage", v)
	}
	if decimalUnitRe.MatchString(v) {
		return fmt.Errorf("'%s' uses decimal units; a capacity needs binary units (K/M/G/T or KiB/MiB/GiB/TiB)", v)
	}
	if !capacityRe.MatchString(v) {
		return fmt.Errorf("'%s' is not a capacity (a number with optional K, M, G, T or KiB, MiB, GiB, TiB)", v)
	}
	if n, ok := new(big.Int).SetString(v, 10); ok { // plain number, any size
		k := big.NewInt(1024)
		switch {
		case n.Cmp(big.NewInt(512)) < 0:
			return fmt.Errorf("'%s' is too small for a storage capacity (minimum 512)", v)
		case n.Cmp(k) <= 0 && new(big.Int).Mod(k, n).Sign() != 0:
			return fmt.Errorf("'%s' is not binary-aligned (must divide 1024)", v)
		case n.Cmp(k) > 0 && new(big.Int).Mod(n, k).Sign() != 0:
			return fmt.Errorf("'%s' is not binary-aligned (must be a multiple of 1024)", v)
		}
	}
	return nil
}

// ErrBadSize is wrapped by ParseSize errors.
var ErrBadSize = errors.New("invalid size")

// ParseSize parses an rpi-image-gen size: plain bytes (12345), k/K, m/M,
// g/G (1024-based), s/S (512-byte sectors), or a positive percentage (50%).
// It returns either bytes (pct == 0) or the percentage (bytes == 0).
func ParseSize(s string) (bytes int64, pct int, err error) {
	if !sizeRe.MatchString(s) {
		return 0, 0, fmt.Errorf("%w: %q (want 12345, 20k, 128M, 1G, 512s or 50%%)", ErrBadSize, s)
	}
	if strings.HasSuffix(s, "%") {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %q: %w", ErrBadSize, s, err)
		}
		return 0, n, nil
	}
	mult := int64(1)
	num := s
	switch s[len(s)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case 's', 'S':
		mult = 512
	}
	if mult != 1 {
		num = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<63-1)/mult {
		return 0, 0, fmt.Errorf("%w: %q is too large", ErrBadSize, s)
	}
	return n * mult, 0, nil
}
