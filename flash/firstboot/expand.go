package firstboot

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrPattern is matched by errors about a per-target pattern or table.
var ErrPattern = errors.New("bad per-target settings")

// Placeholders a pattern may hold: {n} is the target's number (First,
// First+1, …); {i} its index from 0.
const (
	PlaceholderN = "{n}"
	PlaceholderI = "{i}"
)

// Expand returns one Settings per target: base with {n} and {i} replaced
// in Hostname, User and WifiSSID (n counts from first), then the values of
// row i of table (nil for none) on top. Every result is validated; two
// targets with one hostname are refused when the hostname came from a
// pattern or table, and so is a stored Wi-Fi key (WifiPSKHash) carried
// to another SSID. Typed secrets stay typed: hash each result (Hash) so
// that each Wi-Fi key is derived for its own SSID.
func Expand(base Settings, targets, first int, table []Row) ([]Settings, error) {
	if targets < 1 {
		return nil, fmt.Errorf("%w: no targets", ErrPattern)
	}
	if table != nil && len(table) < targets {
		return nil, fmt.Errorf("%w: %d targets but the table has %d rows", ErrPattern, targets, len(table))
	}
	out := make([]Settings, targets)
	seen := map[string]int{}
	for i := range targets {
		s, err := expandOne(base, i, first, table)
		if err != nil {
			return nil, err
		}
		if s.Hostname != "" && targets > 1 {
			if j, dup := seen[s.Hostname]; dup && (strings.Contains(base.Hostname, "{") || table != nil) {
				return nil, fmt.Errorf("%w: targets %d and %d would both be named %q", ErrPattern, j+1, i+1, s.Hostname)
			}
			seen[s.Hostname] = i
		}
		out[i] = s
	}
	return out, nil
}

// expandOne makes target i's settings and validates them.
func expandOne(base Settings, i, first int, table []Row) (Settings, error) {
	s := base
	s.SSHKeys = append([]string(nil), base.SSHKeys...)
	r := strings.NewReplacer(PlaceholderN, strconv.Itoa(first+i), PlaceholderI, strconv.Itoa(i))
	s.Hostname, s.User, s.WifiSSID = r.Replace(s.Hostname), r.Replace(s.User), r.Replace(s.WifiSSID)
	if table != nil {
		if err := table[i].apply(&s); err != nil {
			return s, fmt.Errorf("%w: row %d: %w", ErrPattern, i+1, err)
		}
	}
	if s.WifiPSKHash != "" && s.WifiPSKHash == base.WifiPSKHash && s.WifiSSID != base.WifiSSID {
		return s, fmt.Errorf("%w: target %d: the stored Wi-Fi key was derived for %q, not %q: give the passphrase or a wifi_psk_hash for it", ErrPattern, i+1, base.WifiSSID, s.WifiSSID)
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("target %d: %w", i+1, err)
	}
	return s, nil
}

// Row is one target's values from a table: column name → value.
type Row map[string]string

// Columns a table may have (CSV header names).
var Columns = []string{"hostname", "user", "password_hash", "ssh_key", "wifi_ssid", "wifi_psk_hash",
	"wifi_country", "locale", "keyboard", "timezone"}

func (r Row) apply(s *Settings) error {
	for k, v := range r {
		if v == "" {
			continue
		}
		switch k {
		case "hostname":
			s.Hostname = v
		case "user":
			s.User = v
		case "password_hash":
			s.PasswordHash, s.Password = v, ""
		case "ssh_key":
			keys, err := ParseSSHKeys(strings.ReplaceAll(v, ";", "\n"))
			if err != nil {
				return err
			}
			s.SSHKeys = keys
		case "wifi_ssid":
			s.WifiSSID = v
		case "wifi_psk_hash":
			s.WifiPSKHash, s.WifiPSK = v, ""
		case "wifi_country":
			s.WifiCountry = v
		case "locale":
			s.Locale = v
		case "keyboard":
			s.Keyboard = v
		case "timezone":
			s.Timezone = v
		default:
			return fmt.Errorf("unknown column %q (known: %s)", k, strings.Join(Columns, ", "))
		}
	}
	return nil
}

// ReadTable reads a CSV whose first line names the columns (see Columns);
// each further line is one target, in order. Secrets are taken only
// hashed (password_hash, wifi_psk_hash): a plain-text password column is
// refused.
func ReadTable(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPattern, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%w: the table needs a header line and at least one row", ErrPattern)
	}
	head := recs[0]
	known := map[string]bool{}
	for _, c := range Columns {
		known[c] = true
	}
	for _, h := range head {
		if !known[strings.TrimSpace(h)] {
			return nil, fmt.Errorf("%w: unknown column %q (known: %s)", ErrPattern, h, strings.Join(Columns, ", "))
		}
	}
	rows := make([]Row, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		row := Row{}
		for j, v := range rec {
			row[strings.TrimSpace(head[j])] = strings.TrimSpace(v)
		}
		rows = append(rows, row)
	}
	return rows, nil
}
