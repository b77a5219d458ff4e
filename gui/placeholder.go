package gui

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	// envRef is ${IGconf_section_key} in a layer default.
	envRef = regexp.MustCompile(`\$\{IGconf_([a-z0-9]+)_([A-Za-z0-9_]+)\}`)
	// cmdRef is $(command) in a layer default.
	cmdRef = regexp.MustCompile(`\$\(([^)]*)\)`)
	// headC is the length a command cuts its output to (head -c N).
	headC = regexp.MustCompile(`head -c ?([0-9]+)`)
)

// readableDefault turns a layer default computed at build time into
// words for a placeholder: "${IGconf_device_class}-$(tr -dc 'a-z' <
// /dev/urandom | head -c 6)" reads "pi5-xxxxxx, random" when the config
// sets device.class to pi5. lookup returns a config value ("" when unset).
// Plain defaults are returned as they are.
func readableDefault(def string, lookup func(key string) string) string {
	if !strings.Contains(def, "$") {
		return def
	}
	random := false
	out := envRef.ReplaceAllStringFunc(def, func(m string) string {
		p := envRef.FindStringSubmatch(m)
		if v := lookup(p[1] + "." + p[2]); v != "" {
			return v
		}
		return "<" + strings.ReplaceAll(p[1]+" "+p[2], "_", " ") + ">"
	})
	out = cmdRef.ReplaceAllStringFunc(out, func(m string) string {
		if !strings.Contains(m, "random") {
			return "…"
		}
		random = true
		n := 6
		if h := headC.FindStringSubmatch(m); h != nil {
			if k, err := strconv.Atoi(h[1]); err == nil && k > 0 && k <= 64 {
				n = k
			}
		}
		return strings.Repeat("x", n)
	})
	if random {
		out += ", random"
	}
	return out
}
