package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// CheckUTF8 refuses bytes that are not UTF-8 (rpi-image-gen reads configs
// and layers as UTF-8), naming the line and column of the first bad byte.
func CheckUTF8(file string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	off := 0
	for off < len(data) {
		r, sz := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && sz <= 1 {
			break
		}
		off += sz
	}
	line, col := lineCol(data, off)
	return &ParseError{File: file, Line: line, Column: col, Msg: "invalid UTF-8 (byte 0x" + strconv.FormatUint(uint64(data[off]), 16) + ")"}
}

// lineCol converts a byte offset of UTF-8 text to a 1-based line and a
// 1-based column counted in characters.
func lineCol(data []byte, off int) (line, col int) {
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return bytes.Count(data[:off], []byte{'\n'}) + 1, utf8.RuneCount(data[start:off]) + 1
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// locateBudget caps the bytes yamlError re-parses to locate an error.
const locateBudget = 32 << 20

// YAMLError turns a yaml.v3 error about src into a ParseError naming file,
// line and (where it is known exactly) column.
//
// yaml.v3 does not report where the problem is: its "line N" is the line
// where the enclosing construct starts (the context mark), one less than
// that for parser errors, and absent when that is the first line. The true
// line is found as the first line L such that src cut after line L fails
// with the same problem: everything before L parses as a prefix, and L
// brings the error in. When no prefix reproduces the problem (or src is
// too large to re-parse) yaml.v3's own line is reported. The column is
// reported only for tab characters in indentation (the column of the
// tab); yaml.v3 gives no column otherwise, and none is invented.
func YAMLError(file string, src []byte, err error) error {
	msg := err.Error()
	line, problem := 0, strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		problem = m[2]
	}
	pe := &ParseError{File: file, Line: max(line, 1), Msg: "invalid YAML: " + problem, Err: err}
	if l, ok := locateYAMLError(src, line, problem); ok {
		pe.Line = l
	}
	if strings.Contains(problem, "tab character") {
		if col := indentTabColumn(src, pe.Line); col > 0 {
			pe.Column = col
		}
	}
	return pe
}

// yamlProblem returns the text of a yaml.v3 error without its location.
func yamlProblem(err error) string {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return strings.TrimPrefix(msg, "yaml: ")
}

// locateYAMLError finds the first line whose inclusion makes src fail
// with problem, starting at the line before yaml.v3's reported one (the
// context mark never lies after the problem).
func locateYAMLError(src []byte, reported int, problem string) (int, bool) {
	var ends []int // ends[i]: byte offset just after line i+1
	for i, b := range src {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(src) {
		ends = append(ends, len(src))
	}
	budget := locateBudget
	for l := max(reported-1, 1); l <= len(ends); l++ {
		prefix := src[:ends[l-1]]
		if budget -= len(prefix); budget < 0 {
			return 0, false
		}
		var n yaml.Node
		if err := yaml.Unmarshal(prefix, &n); err != nil && yamlProblem(err) == problem {
			return l, true
		}
	}
	return 0, false
}

// indentTabColumn returns the column of the first tab in the leading
// whitespace of line (1-based), or 0.
func indentTabColumn(src []byte, line int) int {
	lines := bytes.Split(src, []byte{'\n'})
	if line < 1 || line > len(lines) {
		return 0
	}
	for i, b := range lines[line-1] {
		switch b {
		case '\t':
			return i + 1 // leading whitespace is ASCII: bytes are characters
		case ' ':
		default:
			return 0
		}
	}
	return 0
}

// ParseError is a syntax error in a layer header or a YAML document.
type ParseError struct {
	// File is the file being parsed.
	File string
	// Line is the 1-based line of the error.
	Line int
	// Column is the 1-based column in characters, 0 when it cannot be
	// determined exactly (see YAMLError).
	Column int
	// Msg describes the error.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error formats the error as "file:line[:column]: message".
func (e *ParseError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
