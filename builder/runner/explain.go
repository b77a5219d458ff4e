package runner

import (
	"regexp"
	"strings"

	"github.com/pistudio/pistudio/builder/runner/cause"
)

type explainer struct {
	re  *regexp.Regexp
	fix func(m []string) string
}

var explainers = []explainer{
	{regexp.MustCompile(`Could not resolve host:? '?github\.com`), func([]string) string {
		return "rpi-image-gen downloads its host tools (bdebstrap, genimage, libconfuse, zstd) from GitHub on its first run, and github.com cannot be reached: connect this machine to the network (or set a proxy) and build again; later runs reuse <work>/cache."
	}},
	{regexp.MustCompile(`Could not resolve '?archive\.raspberrypi\.(com|org)`), func([]string) string {
		return "The Raspberry Pi apt archive (archive.raspberrypi.com) cannot be reached; the Raspberry Pi device layers install packages from it. Check the network, DNS or the apt proxy (sys.apt_proxy) and build again."
	}},
	{regexp.MustCompile(`Could not resolve '([A-Za-z0-9.-]+)'`), func(m []string) string {
		return "An apt mirror (" + m[1] + ") cannot be reached while building the filesystem. Check the network, DNS or the apt proxy (sys.apt_proxy) and build again."
	}},
	{regexp.MustCompile(`curl: \(6\) Could not resolve host:? ?(\S*)`), func(m []string) string {
		return "A download failed because the host name " + m[1] + " cannot be resolved: check the network and DNS and build again."
	}},
	{regexp.MustCompile(`genimage error \(([^)]*)\)`), func(m []string) string {
		return "genimage could not assemble the disk image from " + m[1] + ". The usual cause is a partition too small for its contents: raise image.boot_part_size / image.root_part_size, then run the image stage again (-i). The genimage lines just above say which partition failed."
	}},
	{regexp.MustCompile(`^ERROR: [a-z0-9-]+\(([^)]*)\): (.*)$`), func(m []string) string {
		return "genimage failed on " + m[1] + ": " + m[2] + ". If it reports no space, raise the partition sizes in the image section of the config."
	}},
	{regexp.MustCompile(`^Required dependencies \(([a-z]+)\) not installed`), func([]string) string {
		return "rpi-image-gen's host dependencies are missing: run its install_deps.sh as root (sudo ./install_deps.sh in the rpi-image-gen checkout), or install the Debian packages it lists below."
	}},
	{regexp.MustCompile(`Overrides must be provided as key=value pairs`), func([]string) string {
		return "An override after -- is not KEY=VALUE. Write overrides as IGconf_section_key=value."
	}},
	{regexp.MustCompile(`^Error: Stage '([a-z_]+)' failed`), func(m []string) string {
		return "rpi-image-gen stopped in stage " + m[1] + "; the error lines above say why. Fix the cause and run the build again (after a successful filesystem stage, -i rebuilds only the image)."
	}},
	{regexp.MustCompile(`^Error: (.+)$`), func(m []string) string {
		return "rpi-image-gen stopped with an error: " + m[1]
	}},
}

// Explain returns a plain-language explanation and fix for a known
// rpi-image-gen failure line (already stripped of escape codes), and
// whether line is one.
func Explain(line string) (string, bool) {
	line = strings.TrimSpace(line)
	if line == "" || !mayExplain(line) || cause.IsEnvironmentLine(line) {
		return "", false
	}
	for _, e := range explainers {
		if m := e.re.FindStringSubmatch(line); m != nil {
			return e.fix(m), true
		}
	}
	return "", false
}

// mayExplain is a cheap filter run on every line before the patterns.
func mayExplain(line string) bool {
	return strings.Contains(line, "resolve") || strings.Contains(line, "genimage") ||
		strings.HasPrefix(line, "ERROR: ") || strings.HasPrefix(line, "Error: ") ||
		strings.Contains(line, "Overrides must") || strings.HasPrefix(line, "Required dependencies")
}
