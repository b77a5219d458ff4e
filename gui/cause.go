package gui

import (
	"fmt"
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

// causeOf says why a run failed: the cause the runner found (the one its
// record and the command line show). A result without one (a run that
// ended without a result) says so, with the run's error in the details.
func causeOf(res *runner.Result) cause {
	if res != nil && res.Cause != nil {
		return recordCause(res)
	}
	c := cause{Line: "The build failed.", Fix: readTheLog}
	if res != nil {
		c.Details = resultDetails(res)
	}
	return c
}

// readTheLog is the advice when nothing more specific is known.
const readTheLog = "Read the log below from the first error line; fix the config or the build machine and build again."

// isEnvLine reports a line of the environment dump rpi-image-gen prints
// ("IGconf_device_class=pi5", "[SET] IGconf_..."): never shown as a cause.
func isEnvLine(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			s = strings.TrimSpace(s[i+1:])
		}
	}
	return strings.HasPrefix(s, "IGconf_")
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
		c.Fix = readTheLog
	}
	return c
}
