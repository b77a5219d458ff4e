package firstboot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// File is one file written to the root of the boot partition.
type File struct {
	// Name is the file name ("user-data").
	Name string `json:"name"`
	// Data is its content (base64 in JSON).
	Data []byte `json:"data"`
}

// Payload is what a reader needs on the boot partition.
type Payload struct {
	// Format is the reader's format.
	Format Format `json:"format"`
	// Files are written (replaced) in the partition's root.
	Files []File `json:"files"`
	// Cmdline are arguments appended to cmdline.txt (when it exists),
	// after removing earlier arguments with the same key.
	Cmdline []string `json:"cmdline,omitempty"`
	// Skipped lists set fields the format cannot carry.
	Skipped []Field `json:"skipped,omitempty"`
}

// RenderOptions tune Render.
type RenderOptions struct {
	// InstanceID is the cloud-init instance-id; "" makes a new one
	// ("pistudio-<ms>-<random>").
	InstanceID string
	// Now is the time for a new instance-id (zero = time.Now).
	Now time.Time
}

// ErrNothing is returned by Render for Settings that set nothing.
var ErrNothing = errors.New("no settings to write")

// Render validates s, hashes its typed secrets and returns the files
// format f reads. The payload holds no plain-text secret.
func Render(s Settings, f Format, opts RenderOptions) (*Payload, error) {
	if !f.CanApply() {
		return nil, fmt.Errorf("%w %q: settings cannot be written for it", ErrUnknownFormat, f)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if s.Empty() {
		return nil, ErrNothing
	}
	h, err := s.Hash()
	if err != nil {
		return nil, err
	}
	p := &Payload{Format: f}
	for _, fd := range h.setFields() {
		if !f.Supports(fd) {
			p.Skipped = append(p.Skipped, fd)
		}
	}
	switch f {
	case CloudInit, CloudInitRPi:
		id := opts.InstanceID
		if id == "" {
			id = newInstanceID(opts.Now)
		}
		p.Files = cloudInit(h, id)
		p.Cmdline = append(p.Cmdline, "ds=nocloud;i="+id)
	case RPiPreseed:
		p.Files = []File{{Name: "rpi-preseed.toml", Data: preseed(h)}}
		return p, nil
	case Systemd:
		p.Files = []File{{Name: "firstrun.sh", Data: firstrun(h)}}
		p.Cmdline = append(p.Cmdline, "systemd.run=/boot/firstrun.sh", "systemd.run_success_action=reboot",
			"systemd.unit=kernel-command-line.target")
	}
	if h.WifiCountry != "" {
		p.Cmdline = append(p.Cmdline, "cfg80211.ieee80211_regdom="+h.WifiCountry)
	}
	return p, nil
}

// setFields lists the fields s sets.
func (s Settings) setFields() []Field {
	var out []Field
	add := func(ok bool, f Field) {
		if ok {
			out = append(out, f)
		}
	}
	add(s.Hostname != "", FieldHostname)
	add(s.User != "", FieldUser)
	add(s.PasswordHash != "", FieldPassword)
	add(len(s.SSHKeys) > 0, FieldSSHKeys)
	add(s.WifiSSID != "", FieldWifiSSID)
	add(s.WifiPSKHash != "", FieldWifiPSK)
	add(s.WifiCountry != "", FieldWifiCountry)
	add(s.Locale != "", FieldLocale)
	add(s.Keyboard != "", FieldKeyboard)
	add(s.Timezone != "", FieldTimezone)
	return out
}

func newInstanceID(now time.Time) string {
	if now.IsZero() {
		now = time.Now()
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("pistudio-%d-%s", now.UnixMilli(), hex.EncodeToString(b))
}

// EditCmdline returns cmdline (one line of kernel arguments) with add
// appended, after dropping existing arguments with the same key (the text
// before '=') and any systemd.run* argument when add has one.
func EditCmdline(cmdline string, add []string) string {
	keys := map[string]bool{}
	for _, a := range add {
		k, _, _ := strings.Cut(a, "=")
		keys[k] = true
	}
	var out []string
	for _, a := range strings.Fields(cmdline) {
		k, _, _ := strings.Cut(a, "=")
		if keys[k] {
			continue
		}
		out = append(out, a)
	}
	return strings.Join(append(out, add...), " ") + "\n"
}

// yamlQuote renders s as a YAML double-quoted scalar: backslash, quote and
// every control or non-printing character escaped, other Unicode kept.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || r == 0xfeff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// shellQuote renders s as one POSIX shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// tomlQuote renders s as a TOML basic string the rpi-preseed parser reads:
// only backslash and quote are escaped there, so line breaks are dropped
// (Validate refuses control characters before this).
func tomlQuote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(s)
	return `"` + s + `"`
}

// lines builds a text file line by line.
type lines struct{ bytes.Buffer }

func (l *lines) add(format string, a ...any) {
	fmt.Fprintf(&l.Buffer, format, a...)
	l.WriteByte('\n')
}

// FileNames are the only files a Payload may write.
var FileNames = []string{"user-data", "meta-data", "network-config", "rpi-preseed.toml", "firstrun.sh"}

// cmdlineKeys are the only kernel arguments a Payload may add.
var cmdlineKeys = []string{"ds", "cfg80211.ieee80211_regdom", "systemd.run", "systemd.run_success_action", "systemd.unit"}

// ErrPayload is matched by errors about a Payload that writes something
// else than a reader's files.
var ErrPayload = errors.New("bad settings payload")

// Check refuses a payload (for example one received by the privileged
// helper) that names a file or kernel argument no reader uses, or holds
// more than 1 MiB.
func (p *Payload) Check() error {
	total := 0
	for _, f := range p.Files {
		if !slices.Contains(FileNames, f.Name) {
			return fmt.Errorf("%w: file %q", ErrPayload, f.Name)
		}
		total += len(f.Data)
	}
	if total > 1<<20 {
		return fmt.Errorf("%w: %d bytes", ErrPayload, total)
	}
	for _, a := range p.Cmdline {
		k, _, _ := strings.Cut(a, "=")
		if !slices.Contains(cmdlineKeys, k) || strings.ContainsAny(a, " \t\r\n") {
			return fmt.Errorf("%w: kernel argument %q", ErrPayload, a)
		}
	}
	return nil
}
