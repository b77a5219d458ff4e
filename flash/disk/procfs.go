package disk

import (
	"strconv"
	"strings"
)

// mountEntry is one line of /proc/self/mountinfo or /proc/self/mounts.
type mountEntry struct {
	// Major and Minor come from mountinfo (0:0 when read from mounts).
	Major, Minor uint32
	// Source is the mounted device as the kernel names it, e.g. "/dev/sda1".
	Source string
	// Target is the mount point.
	Target string
	// FSType is the filesystem type.
	FSType string
}

// parseMountInfo parses /proc/self/mountinfo. Malformed lines are skipped.
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func parseMountInfo(data string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		maj, min, ok := parseMajMin(f[2])
		if !ok {
			continue
		}
		out = append(out, mountEntry{Major: maj, Minor: min, Source: unescapeOctal(f[sep+2]), Target: unescapeOctal(f[4]), FSType: f[sep+1]})
	}
	return out
}

// parseMounts parses /proc/self/mounts (fstab format). Malformed lines are skipped.
func parseMounts(data string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		out = append(out, mountEntry{Source: unescapeOctal(f[0]), Target: unescapeOctal(f[1]), FSType: f[2]})
	}
	return out
}

// parseSwaps parses /proc/swaps and returns the swap areas' file names and
// whether each is a partition (as opposed to a file).
func parseSwaps(data string) []swapEntry {
	var out []swapEntry
	for i, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if i == 0 && len(f) > 0 && f[0] == "Filename" || len(f) < 2 {
			continue
		}
		out = append(out, swapEntry{Path: unescapeOctal(f[0]), File: f[1] == "file"})
	}
	return out
}

type swapEntry struct {
	Path string
	File bool
}

// parseMajMin parses "8:16".
func parseMajMin(s string) (uint32, uint32, bool) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 32)
	min, err2 := strconv.ParseUint(b, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint32(maj), uint32(min), true
}

// unescapeOctal undoes the kernel's \ooo escaping of spaces, tabs,
// newlines and backslashes in mount and swap paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && isOctal(s, i+1) {
			v, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string, i int) bool {
	if i+3 > len(s) {
		return false
	}
	for _, c := range s[i : i+3] {
		if c < '0' || c > '7' {
			return false
		}
	}
	return s[i] <= '3'
}

// parseUdev parses a udev database record (/run/udev/data/b8:16) and
// returns its E: properties.
func parseUdev(data string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(data, "\n") {
		if kv, ok := strings.CutPrefix(line, "E:"); ok {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				m[k] = v
			}
		}
	}
	return m
}

// unescapeUdev decodes udev's \xNN escapes (ID_MODEL_ENC, ID_FS_LABEL_ENC).
func unescapeUdev(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
