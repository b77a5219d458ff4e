package firstboot

import (
	"bytes"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// unTOML reads back a basic string tomlQuote wrote (the two escapes
// rpi-preseed's parser knows).
func unTOML(t *testing.T, q string) string {
	t.Helper()
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		t.Fatalf("not a quoted string: %q", q)
	}
	var b strings.Builder
	in := q[1 : len(q)-1]
	for i := 0; i < len(in); i++ {
		switch {
		case in[i] == '\\' && i+1 < len(in) && (in[i+1] == '\\' || in[i+1] == '"'):
			b.WriteByte(in[i+1])
			i++
		case in[i] == '"' || in[i] == '\\':
			t.Fatalf("unescaped %q in %q", in[i], q)
		default:
			b.WriteByte(in[i])
		}
	}
	return b.String()
}

// tomlValue finds `key = "…"` under [section] in a rendered file.
func tomlValue(t *testing.T, doc []byte, section, key string) string {
	t.Helper()
	cur := ""
	for l := range strings.SplitSeq(string(doc), "\n") {
		if strings.HasPrefix(l, "[") {
			cur = strings.Trim(l, "[]")
			continue
		}
		if k, v, ok := strings.Cut(l, " = "); ok && cur == section && k == key {
			return unTOML(t, v)
		}
	}
	t.Fatalf("no %s.%s in\n%s", section, key, doc)
	return ""
}

// FuzzRender feeds hostnames, users, SSIDs, keys and time zones with
// quotes, line breaks and Unicode to the validator and, for what it
// accepts, to every writer; each value must read back unchanged and no
// value may add a line.
func FuzzRender(f *testing.F) {
	f.Add("pi-1", "alice", `Café "5G" \ net`, "ssh-ed25519 AAAA x", "Europe/London")
	f.Add("a\nb", "bob\"", "line\nbreak", "ssh-rsa AA== a'b", "UTC")
	f.Add("ünï", "x'y", "\u2028sep", "ssh-ed25519 AAAA \"q\"", "Etc/GMT+1")
	f.Add("h", "u", "'; rm -rf / #", "ssh-ed25519 AAAA $(reboot)", "America/Argentina/Buenos_Aires")
	f.Fuzz(func(t *testing.T, host, user, ssid, key, tz string) {
		s := Settings{Hostname: host, User: user, WifiSSID: ssid, WifiCountry: "GB", Timezone: tz,
			PasswordHash: "$6$salt$abc", WifiPSKHash: strings.Repeat("ab", 32)}
		if key != "" {
			s.SSHKeys = []string{key}
		}
		if ssid == "" {
			s.WifiPSKHash, s.WifiCountry = "", ""
		}
		if s.Validate() != nil {
			return
		}
		base := Settings{Hostname: "h", User: "u", WifiSSID: "s", WifiCountry: "GB", Timezone: "UTC",
			PasswordHash: s.PasswordHash, WifiPSKHash: s.WifiPSKHash, SSHKeys: []string{"ssh-ed25519 AAAA c"}}
		if key == "" {
			base.SSHKeys = nil
		}
		if host == "" {
			base.Hostname = ""
		}
		if tz == "" {
			base.Timezone = ""
		}
		if ssid == "" {
			base.WifiSSID, base.WifiPSKHash, base.WifiCountry = "", "", ""
		}
		for _, fm := range []Format{CloudInit, RPiPreseed, Systemd} {
			p, err := Render(s, fm, RenderOptions{InstanceID: "i"})
			if err != nil {
				t.Fatalf("%s: %v", fm, err)
			}
			pb, err := Render(base, fm, RenderOptions{InstanceID: "i"})
			if err != nil {
				t.Fatal(err)
			}
			for i := range p.Files {
				if a, b := bytes.Count(p.Files[i].Data, []byte("\n")), bytes.Count(pb.Files[i].Data, []byte("\n")); a != b {
					t.Fatalf("%s %s: %d lines, %d with plain values:\n%s", fm, p.Files[i].Name, a, b, p.Files[i].Data)
				}
			}
			checkReadBack(t, fm, s, p)
		}
	})
}

func checkReadBack(t *testing.T, fm Format, s Settings, p *Payload) {
	switch fm {
	case CloudInit:
		var ud struct {
			Hostname string `yaml:"hostname"`
			Timezone string `yaml:"timezone"`
			User     struct {
				Name string   `yaml:"name"`
				Keys []string `yaml:"ssh_authorized_keys"`
			} `yaml:"user"`
		}
		if err := yaml.Unmarshal(p.Files[0].Data, &ud); err != nil {
			t.Fatalf("user-data: %v\n%s", err, p.Files[0].Data)
		}
		if ud.Hostname != s.Hostname || ud.User.Name != s.User || ud.Timezone != s.Timezone ||
			(len(s.SSHKeys) > 0 && (len(ud.User.Keys) != 1 || ud.User.Keys[0] != s.SSHKeys[0])) {
			t.Fatalf("user-data read back %+v from %+v", ud, s)
		}
		if s.WifiSSID == "" {
			return
		}
		var nc struct {
			Network struct {
				Wifis map[string]struct {
					APs map[string]any `yaml:"access-points"`
				} `yaml:"wifis"`
			} `yaml:"network"`
		}
		if err := yaml.Unmarshal(p.Files[2].Data, &nc); err != nil {
			t.Fatalf("network-config: %v\n%s", err, p.Files[2].Data)
		}
		if _, ok := nc.Network.Wifis["wlan0"].APs[s.WifiSSID]; !ok {
			t.Fatalf("SSID %q not read back:\n%s", s.WifiSSID, p.Files[2].Data)
		}
	case RPiPreseed:
		d := p.Files[0].Data
		for _, c := range []struct{ sect, key, want string }{
			{"system", "hostname", s.Hostname}, {"wlan", "ssid", s.WifiSSID},
			{"user", "name", s.User}, {"locale", "timezone", s.Timezone},
		} {
			if c.want != "" && tomlValue(t, d, c.sect, c.key) != c.want {
				t.Fatalf("rpi-preseed.toml %s.%s does not read back:\n%s", c.sect, c.key, d)
			}
		}
	case Systemd:
		if !bytes.Contains(p.Files[0].Data, []byte(shellQuote(s.WifiSSID))) {
			t.Fatalf("firstrun.sh lacks the quoted SSID")
		}
	}
}

// FuzzQuote checks that the YAML and TOML escapers give back any text.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", `a"b\c`, "x\ny\tz", "\u2028\u0085\x7f", "ünï ☃", "'; $(x) `y`", "#not a comment", "- item", ": colon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8ValidNoNUL(s) {
			return
		}
		var got string
		if err := yaml.Unmarshal([]byte("v: "+yamlQuote(s)+"\n"), &struct {
			V *string `yaml:"v"`
		}{&got}); err != nil {
			t.Fatalf("yaml %q: %v", yamlQuote(s), err)
		}
		if got != s {
			t.Fatalf("yaml read back %q from %q", got, s)
		}
		if !strings.ContainsAny(s, "\r\n") {
			if back := unTOML(t, tomlQuote(s)); back != s {
				t.Fatalf("toml read back %q from %q", back, s)
			}
		}
	})
}

func utf8ValidNoNUL(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, 0)
}

// FuzzReadTable feeds per-target CSV tables to ReadTable and Expand:
// whatever they accept expands into valid settings.
func FuzzReadTable(f *testing.F) {
	f.Add("hostname,wifi_ssid,wifi_country\nkitchen,net,GB\nhall,\"Café \"\"5G\"\"\",GB\n")
	f.Add("hostname\n\"a\nb\"\n")
	f.Add("ssh_key\nssh-ed25519 AAAA x;ssh-rsa BBBB y\n")
	f.Add("timezone,locale\nEurope/London,en_GB.UTF-8\n")
	f.Fuzz(func(t *testing.T, csv string) {
		rows, err := ReadTable(strings.NewReader(csv))
		if err != nil {
			return
		}
		out, err := Expand(Settings{User: "u", Password: "p"}, len(rows), 1, rows)
		if err != nil {
			return
		}
		for i, s := range out {
			if err := s.Validate(); err != nil {
				t.Fatalf("target %d expanded to invalid settings: %v", i, err)
			}
		}
	})
}

// FuzzImport feeds profile files to Import: an accepted profile is valid
// and holds no plain-text secret.
func FuzzImport(f *testing.F) {
	f.Add(`{"kind":"pistudio-settings-profile","version":1,"name":"lab","settings":{"hostname":"lab","user":"u","password_hash":"$6$s$h"}}`)
	f.Add(`{"kind":"pistudio-settings-profile","version":1,"settings":{"wifi_ssid":"x","wifi_psk_hash":"` + strings.Repeat("a", 64) + `","wifi_country":"GB"}}`)
	f.Add(`{"kind":"other"}`)
	f.Fuzz(func(t *testing.T, js string) {
		s, _, err := Import(strings.NewReader(js))
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("imported invalid settings: %v", err)
		}
		if s.Password != "" || s.WifiPSK != "" {
			t.Fatal("a profile carried a plain-text secret")
		}
	})
}
