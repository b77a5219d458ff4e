package provision

import (
	"fmt"
	"strings"
	"time"
)

// String renders the summary for people: two lines per role, what was
// written where and how it ended.
func (s *Summary) String() string {
	var b strings.Builder
	verdict := "written"
	if !s.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "Set %s%s %s in %s\n", orDash(s.Name), s.copyWords(), verdict, s.Duration.Round(time.Second/10))
	for _, r := range s.Targets {
		fmt.Fprintf(&b, "  %-10s %s  %s", r.Role, r.Device, r.Model)
		if r.Serial != "" {
			fmt.Fprintf(&b, ", serial %s", r.Serial)
		}
		if r.SizeBytes > 0 {
			fmt.Fprintf(&b, ", %s", human(r.SizeBytes))
		}
		fmt.Fprintf(&b, "\n  %-10s %s: %s of %s written", "", r.State, human(r.Written), r.Artifact)
		switch {
		case r.State != Done:
			fmt.Fprintf(&b, ": %s", r.Error)
		case r.Verified:
			fmt.Fprintf(&b, ", verified, %s", hashWords(&r))
		default:
			fmt.Fprintf(&b, ", not verified, %s", hashWords(&r))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// copyWords is " (2 of 3)" for one of several sets written at once, ""
// for a set written alone.
func (s *Summary) copyWords() string {
	if s.Of < 2 {
		return ""
	}
	return fmt.Sprintf(" (%d of %d)", s.Number, s.Of)
}

// hashWords names the image hash of r: its SHA-256 when known, else its
// XXH3-128.
func hashWords(r *Result) string {
	if r.SHA256 != "" || r.XXH3 == "" {
		return "sha256 " + r.SHA256
	}
	return "xxh3-128 " + r.XXH3
}

// Labels returns one block per disk, to print and stick on it: the role,
// the set's name (and number, for one of several sets written at once:
// their arrays share one UUID, so each set's disks must stay together),
// array UUID and level, and the disk's model, serial, size and result.
// Blocks are separated by a cut line.
func (s *Summary) Labels() string {
	var b strings.Builder
	for i, r := range s.Targets {
		if i > 0 {
			b.WriteString("- - - - - - - - - - - - - - - - - - - - - - - -\n")
		}
		role := r.Role
		if n, ok := memberIndex(r.Role); ok && s.Devices > 0 {
			role = fmt.Sprintf("%s (array member %d of %d)", r.Role, n, s.Devices)
		} else if r.Role == RoleSD {
			role = r.Role + " (boot card)"
		}
		line := func(k, v string) { fmt.Fprintf(&b, "%-11s %s\n", k+":", v) }
		line("Role", role)
		line("Set", orDash(s.Name)+s.copyWords())
		if s.Level != "" {
			line("Level", s.Level)
		}
		if s.ArrayUUID != "" {
			line("Array UUID", s.ArrayUUID)
		}
		line("Model", orDash(r.Model))
		line("Serial", orDash(r.Serial))
		line("Size", human(r.SizeBytes))
		res := string(r.State)
		if r.State == Done && r.Verified {
			res = "written and verified"
		} else if r.State == Done {
			res = "written, not verified"
		}
		line("Result", res)
	}
	return b.String()
}

// memberIndex returns I of "externalI".
func memberIndex(role string) (int, bool) {
	if !strings.HasPrefix(role, RoleExternalPrefix) {
		return 0, false
	}
	p, n := splitNum(role)
	return n, p == RoleExternalPrefix && n > 0
}
