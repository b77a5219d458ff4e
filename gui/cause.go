package gui

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pistudio/pistudio/builder/runner"
)

// cause is what the Build section says about a failed build: the first
// real error line of the log, what to do about it, and the details behind
// a toggle.
type cause struct {
	// Line is the first error line of the log ("" when none was seen).
	Line string
	// Fix says what to do; "" when nothing specific is known.
	Fix string
	// Details is the run's error and exit status, shown on request.
	Details string
}

// maxCauseLines bounds the log lines kept as candidates for a cause.
const maxCauseLines = 64

// causeLog keeps the log lines that may name the cause of a failure: the
// lines the runner explained and those that look like errors. It is fed
// from the worker goroutine that reads a run's events.
type causeLog struct {
	lines []runner.Event
}

// add keeps ev when it may name the cause.
func (c *causeLog) add(ev runner.Event) {
	if len(c.lines) >= maxCauseLines || isEnvLine(ev.Text) {
		return
	}
	if ev.Explain != "" || errorLine.MatchString(strings.TrimSpace(ev.Text)) {
		c.lines = append(c.lines, ev)
	}
}

// errorLine matches the lines of rpi-image-gen, apt, mmdebstrap and
// genimage that report an error.
var errorLine = regexp.MustCompile(`^(E: |ERROR|Error|error|FATAL|Fatal|fatal|mmdebstrap: error|genimage error|.*\b(failed|not found|No space left)\b)`)

// isEnvLine reports a line of the environment dump rpi-image-gen prints
// ("IGconf_device_class=pi5", "[SET] IGconf_..."): never a cause.
func isEnvLine(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			s = strings.TrimSpace(s[i+1:])
		}
	}
	return strings.HasPrefix(s, "IGconf_")
}

// causeOf says why a run failed from its result and the candidate lines
// of its log. It takes the first line the runner explained (its first
// hint), else the first error line; the run's error goes into the details
// unless it is part of the environment dump.
func causeOf(res *runner.Result, lines []runner.Event) cause {
	if res != nil && res.Cause != nil {
		return recordCause(res)
	}
	var c cause
	for _, ev := range lines {
		if ev.Explain != "" {
			c.Line, c.Fix = strings.TrimSpace(ev.Text), ev.Explain
			break
		}
	}
	if c.Line == "" && len(lines) > 0 {
		c.Line = strings.TrimSpace(lines[0].Text)
	}
	if c.Fix == "" && res != nil && len(res.Hints) > 0 {
		c.Fix = res.Hints[0]
	}
	if c.Fix == "" {
		c.Fix = "Read the log below from the first error line; fix the config or the build machine and build again."
	}
	if res != nil {
		c.Details = resultDetails(res)
	}
	return c
}

// resultDetails is the run's error, exit status and log file, without
// environment dump lines.
func resultDetails(res *runner.Result) string {
	var parts []string
	if res.Err != nil {
		var keep []string
		for _, l := range strings.Split(res.Err.Error(), "\n") {
			if !isEnvLine(l) {
				keep = append(keep, l)
			}
		}
		parts = append(parts, strings.Join(keep, "\n"))
	}
	parts = append(parts, fmt.Sprintf("Exit status %d.", res.ExitStatus))
	if res.LogPath != "" {
		parts = append(parts, "Full log: "+res.LogPath)
	}
	return strings.Join(parts, "\n")
}

// recordCause is the cause the runner found for res (the one its record
// and the command line show): its summary, its fix, and the log line it
// was read from in the details.
func recordCause(res *runner.Result) cause {
	rc := res.Cause
	c := cause{Line: rc.Summary, Fix: rc.Fix, Details: resultDetails(res)}
	if rc.Line != "" {
		c.Details = fmt.Sprintf("Log line %d: %s\n%s", rc.LineNo, rc.Line, c.Details)
	}
	if c.Fix == "" {
		c.Fix = "Read the log below from the first error line; fix the config or the build machine and build again."
	}
	return c
}
