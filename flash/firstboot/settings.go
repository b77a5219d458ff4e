package firstboot

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Settings are what is written for a target's first boot. The zero value
// writes nothing. Password and WifiPSK are plain text as typed; Hash turns
// them into PasswordHash and WifiPSKHash, and only those are ever written
// or saved.
type Settings struct {
	// Hostname is the system's name: one RFC 1123 label (letters, digits,
	// hyphens; 1-63 characters; no hyphen at either end).
	Hostname string `json:"hostname,omitempty"`
	// User is the login account to create or rename the first user to
	// (lower case, starts with a letter or underscore, up to 32 characters).
	User string `json:"user,omitempty"`
	// Password is the user's password as typed (never saved, never written).
	Password string `json:"-"`
	// PasswordHash is the user's password as a crypt(3) hash ("$6$…" or
	// "$y$…").
	PasswordHash string `json:"password_hash,omitempty"`
	// SSHKeys are OpenSSH public keys, one per entry ("ssh-ed25519 AAAA… c").
	SSHKeys []string `json:"ssh_keys,omitempty"`
	// SSH turns the SSH server on (true) or leaves it as the image has it.
	SSH bool `json:"ssh,omitempty"`
	// SSHPasswordAuth allows password logins over SSH; without it only the
	// keys log in.
	SSHPasswordAuth bool `json:"ssh_password_auth,omitempty"`
	// WifiSSID is the network name (1-32 bytes).
	WifiSSID string `json:"wifi_ssid,omitempty"`
	// WifiPSK is the Wi-Fi passphrase as typed (8-63 characters; never
	// saved, never written).
	WifiPSK string `json:"-"`
	// WifiPSKHash is the derived key: 64 hex digits.
	WifiPSKHash string `json:"wifi_psk_hash,omitempty"`
	// WifiHidden says the network does not broadcast its name.
	WifiHidden bool `json:"wifi_hidden,omitempty"`
	// WifiCountry is the ISO 3166-1 alpha-2 regulatory domain ("GB").
	WifiCountry string `json:"wifi_country,omitempty"`
	// Locale is a glibc locale name ("en_GB.UTF-8").
	Locale string `json:"locale,omitempty"`
	// Keyboard is an XKB layout ("gb", "us", "de").
	Keyboard string `json:"keyboard,omitempty"`
	// Timezone is a tz database name ("Europe/London").
	Timezone string `json:"timezone,omitempty"`
}

// Field names one setting (for per-field validation and messages).
type Field string

// The fields of Settings.
const (
	FieldHostname    Field = "hostname"
	FieldUser        Field = "user"
	FieldPassword    Field = "password"
	FieldSSHKeys     Field = "ssh-key"
	FieldWifiSSID    Field = "wifi-ssid"
	FieldWifiPSK     Field = "wifi-psk"
	FieldWifiCountry Field = "wifi-country"
	FieldLocale      Field = "locale"
	FieldKeyboard    Field = "keyboard"
	FieldTimezone    Field = "timezone"
)

// Fields lists every field in form order.
var Fields = []Field{FieldHostname, FieldUser, FieldPassword, FieldSSHKeys, FieldWifiSSID,
	FieldWifiPSK, FieldWifiCountry, FieldLocale, FieldKeyboard, FieldTimezone}

// ErrInvalid is matched (errors.Is) by every *FieldError.
var ErrInvalid = errors.New("invalid setting")

// FieldError says why one field's value is refused.
type FieldError struct {
	// Field is the setting.
	Field Field
	// Reason says what is wrong, for people.
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(t error) bool { return t == ErrInvalid }

func fieldErr(f Field, format string, a ...any) *FieldError {
	return &FieldError{Field: f, Reason: fmt.Sprintf(format, a...)}
}

var (
	reHostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	reUser     = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	reCrypt    = regexp.MustCompile(`^\$(6|5|y|gy|7|2[aby])\$[./A-Za-z0-9$=,]+$`)
	reHex64    = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	reCountry  = regexp.MustCompile(`^[A-Z]{2}$`)
	reLocale   = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?(\.[A-Za-z0-9-]+)?(@[a-z]+)?$|^C\.UTF-8$`)
	reKeyboard = regexp.MustCompile(`^[a-z]{2,8}(\([a-z0-9_-]{1,24}\))?$`)
	reTimezone = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){0,2}$`)
	reSSHKey   = regexp.MustCompile(`^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+=*( [^\x00-\x1f\x7f]*)?$`)
	reUpper    = regexp.MustCompile(`[A-Z]`)
)

// checkers validate one field's non-empty value each.
var checkers = map[Field]func(string) error{
	FieldHostname: checkHostname,
	FieldUser:     checkUser,
	FieldPassword: func(v string) error { return checkSecret(FieldPassword, v, 1, 256) },
	FieldSSHKeys:  func(v string) error { return checkKeys(splitLines(v)) },
	FieldWifiSSID: checkSSID,
	FieldWifiPSK: func(v string) error {
		if reHex64.MatchString(v) {
			return nil
		}
		return checkSecret(FieldWifiPSK, v, 8, 63)
	},
	FieldWifiCountry: matcher(FieldWifiCountry, reCountry, 2, "%q is not a two-letter country code such as GB or US"),
	FieldLocale:      matcher(FieldLocale, reLocale, 64, "%q is not a locale name such as en_GB.UTF-8"),
	FieldKeyboard:    matcher(FieldKeyboard, reKeyboard, 40, "%q is not a keyboard layout such as gb, us or de"),
	FieldTimezone:    matcher(FieldTimezone, reTimezone, 64, "%q is not a time zone such as Europe/London or UTC"),
}

// matcher checks a value against a pattern and a length.
func matcher(f Field, re *regexp.Regexp, maxLen int, msg string) func(string) error {
	return func(v string) error {
		if len(v) > maxLen || !re.MatchString(v) {
			return fieldErr(f, msg, v)
		}
		return nil
	}
}

// CheckField validates one field's value as the form holds it (the typed
// password or passphrase for FieldPassword and FieldWifiPSK, one key per
// line for FieldSSHKeys). An empty value is valid: the field is not set.
func CheckField(f Field, v string) error {
	check, ok := checkers[f]
	if !ok {
		return fieldErr(f, "unknown field")
	}
	if v == "" {
		return nil
	}
	return check(v)
}

func checkUser(v string) error {
	if !reUser.MatchString(v) {
		return fieldErr(FieldUser, "%q is not a user name: lower-case letters, digits, '_' and '-', starting with a letter or '_', up to 32 characters", v)
	}
	if v == "root" {
		return fieldErr(FieldUser, "root cannot be the login user")
	}
	return nil
}

func checkSSID(v string) error {
	if len(v) > 32 {
		return fieldErr(FieldWifiSSID, "a network name holds at most 32 bytes, this one has %d", len(v))
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
		return fieldErr(FieldWifiSSID, "a network name must be UTF-8 text without control characters")
	}
	return nil
}

func checkHostname(v string) error {
	if !reHostname.MatchString(v) {
		return fieldErr(FieldHostname, "%q is not a host name: letters, digits and '-', 1 to 63 characters, no '-' at either end", v)
	}
	if reUpper.MatchString(v) {
		return fieldErr(FieldHostname, "%q has upper-case letters: use %q", v, strings.ToLower(v))
	}
	return nil
}

func checkSecret(f Field, v string, minLen, maxLen int) error {
	v = StripLineBreaks(v)
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v):
		return fieldErr(f, "must be UTF-8 text")
	case n < minLen:
		return fieldErr(f, "must have at least %d characters", minLen)
	case n > maxLen:
		return fieldErr(f, "must have at most %d characters", maxLen)
	case strings.ContainsRune(v, 0):
		return fieldErr(f, "must not contain NUL")
	}
	if f == FieldWifiPSK {
		for _, r := range v {
			if r < 0x20 || r > 0x7e {
				return fieldErr(f, "a WPA passphrase is printable ASCII only")
			}
		}
	}
	return nil
}

func checkKeys(keys []string) error {
	for i, k := range keys {
		if !reSSHKey.MatchString(k) {
			short := k
			if len(short) > 24 {
				short = short[:24] + "…"
			}
			return fieldErr(FieldSSHKeys, "key %d (%q) is not an OpenSSH public key line", i+1, short)
		}
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// splitLines splits keys text into trimmed, non-empty lines.
func splitLines(v string) []string {
	var out []string
	for l := range strings.SplitSeq(strings.ReplaceAll(v, "\r", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// ParseSSHKeys reads public keys from the text of a .pub or
// authorized_keys file: one key per line, blank lines and comments
// skipped.
func ParseSSHKeys(text string) ([]string, error) {
	keys := splitLines(text)
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

// StripLineBreaks removes every CR and LF (a password pasted or read from
// a file often ends with one).
func StripLineBreaks(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// Validate checks every field and their combinations. The error is a
// *ValidationError listing each refused field (nil when all are valid).
func (s Settings) Validate() error {
	var errs []*FieldError
	add := func(err error) {
		var fe *FieldError
		if errors.As(err, &fe) {
			errs = append(errs, fe)
		}
	}
	add(CheckField(FieldHostname, s.Hostname))
	add(CheckField(FieldUser, s.User))
	add(CheckField(FieldPassword, s.Password))
	add(checkKeys(s.SSHKeys))
	add(CheckField(FieldWifiSSID, s.WifiSSID))
	add(CheckField(FieldWifiPSK, s.WifiPSK))
	add(CheckField(FieldWifiCountry, s.WifiCountry))
	add(CheckField(FieldLocale, s.Locale))
	add(CheckField(FieldKeyboard, s.Keyboard))
	add(CheckField(FieldTimezone, s.Timezone))
	errs = append(errs, s.combinations()...)
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: errs}
}

// combinations checks what no single field can.
func (s Settings) combinations() []*FieldError {
	var errs []*FieldError
	add := func(bad bool, f Field, msg string) {
		if bad {
			errs = append(errs, fieldErr(f, "%s", msg))
		}
	}
	hasPass := s.Password != "" || s.PasswordHash != ""
	add(s.PasswordHash != "" && !reCrypt.MatchString(s.PasswordHash), FieldPassword, "the stored password hash is not a crypt(3) hash")
	add(s.WifiPSKHash != "" && !reHex64.MatchString(s.WifiPSKHash), FieldWifiPSK, "the stored Wi-Fi key is not 64 hex digits")
	add(hasPass && s.User == "", FieldUser, "a password needs a user name")
	add(len(s.SSHKeys) > 0 && s.User == "", FieldUser, "SSH keys need a user name")
	add((s.WifiPSK != "" || s.WifiPSKHash != "" || s.WifiHidden) && s.WifiSSID == "", FieldWifiSSID, "a Wi-Fi passphrase needs a network name")
	add(s.WifiSSID != "" && s.WifiCountry == "", FieldWifiCountry, "Wi-Fi needs a country (its radio rules)")
	add(s.SSHPasswordAuth && !hasPass, FieldPassword, "SSH password logins need a password")
	add(s.SSH && !s.SSHPasswordAuth && len(s.SSHKeys) == 0 && !hasPass, FieldSSHKeys, "SSH on needs a public key or a password to log in with")
	return errs
}

// ValidationError lists the refused fields of a Settings.
type ValidationError struct {
	// Fields are the refusals, in form order.
	Fields []*FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return "invalid settings: " + strings.Join(msgs, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(t error) bool { return t == ErrInvalid }

// For returns the first refusal of field f, or nil.
func (e *ValidationError) For(f Field) *FieldError {
	for _, fe := range e.Fields {
		if fe.Field == f {
			return fe
		}
	}
	return nil
}

// Empty reports whether s sets nothing.
func (s Settings) Empty() bool {
	return s.Hostname == "" && s.User == "" && s.Password == "" && s.PasswordHash == "" &&
		len(s.SSHKeys) == 0 && !s.SSH && !s.SSHPasswordAuth && s.WifiSSID == "" && s.WifiPSK == "" &&
		s.WifiPSKHash == "" && !s.WifiHidden && s.WifiCountry == "" && s.Locale == "" &&
		s.Keyboard == "" && s.Timezone == ""
}
