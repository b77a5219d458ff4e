package runner

import "strings"

// StripANSI removes terminal escape sequences (CSI such as colours, OSC
// such as titles, and two-byte escapes) from s. A carriage return inside
// the line keeps only the text after the last one, as a terminal would
// show it (progress meters redraw with \r); a trailing \r is dropped.
func StripANSI(s string) string {
	s = strings.TrimRight(s, "\r\n")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != 0x1b {
			b.WriteByte(c)
			i++
			continue
		}
		i++
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '[': // CSI: parameters 0x30-0x3f, intermediates 0x20-0x2f, final 0x40-0x7e
			i++
			for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
				i++
			}
			if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
				i++
			}
		case ']': // OSC: up to BEL or ESC \
			i++
			for i < len(s) {
				if s[i] == 0x07 {
					i++
					break
				}
				if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
					i += 2
					break
				}
				i++
			}
		default: // two-byte escape such as ESC ( B
			if s[i] == '(' || s[i] == ')' {
				i++
			}
			if i < len(s) {
				i++
			}
		}
	}
	return b.String()
}

// ParseStageHeader recognises rpi-image-gen's stage banner, printed as
// "ESC[1m==> NAME ESC[0m", and returns NAME. line may still carry its
// escape codes or be already stripped.
func ParseStageHeader(line string) (string, bool) {
	s := strings.TrimSpace(StripANSI(line))
	rest, ok := strings.CutPrefix(s, "==> ")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if rest == "" || len(rest) > 64 {
		return "", false
	}
	for _, r := range rest {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", false
		}
	}
	return rest, true
}
