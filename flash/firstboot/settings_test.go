package firstboot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/internal/imager"
)

func TestCheckField(t *testing.T) {
	tests := []struct {
		f    Field
		v    string
		good bool
	}{
		{FieldHostname, "pi-1", true},
		{FieldHostname, "-pi", false},
		{FieldHostname, "pi_1", false},
		{FieldHostname, "Pi", false},
		{FieldHostname, strings.Repeat("a", 64), false},
		{FieldHostname, `a"b`, false},
		{FieldUser, "alice", true},
		{FieldUser, "root", false},
		{FieldUser, "Alice", false},
		{FieldPassword, "x", true},
		{FieldSSHKeys, "ssh-ed25519 AAAA me@x\n\n# c\nssh-rsa BBBB=", true},
		{FieldSSHKeys, "not a key", false},
		{FieldWifiSSID, `Café "5G"`, true},
		{FieldWifiSSID, "a\nb", false},
		{FieldWifiSSID, strings.Repeat("é", 17), false},
		{FieldWifiPSK, "short", false},
		{FieldWifiPSK, "long enough", true},
		{FieldWifiPSK, strings.Repeat("a", 64), true},
		{FieldWifiPSK, "pässwörd1", false},
		{FieldWifiCountry, "GB", true},
		{FieldWifiCountry, "gb", false},
		{FieldLocale, "en_GB.UTF-8", true},
		{FieldLocale, "C.UTF-8", true},
		{FieldLocale, "en GB", false},
		{FieldKeyboard, "gb", true},
		{FieldKeyboard, "g'b", false},
		{FieldTimezone, "America/Argentina/Buenos_Aires", true},
		{FieldTimezone, "../etc/passwd", false},
		{FieldTimezone, "UTC", true},
	}
	for _, tt := range tests {
		err := CheckField(tt.f, tt.v)
		if (err == nil) != tt.good {
			t.Errorf("CheckField(%s, %q) = %v, want good=%v", tt.f, tt.v, err, tt.good)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%v does not match ErrInvalid", err)
		}
	}
}

func TestValidateCombinations(t *testing.T) {
	tests := []struct {
		name  string
		s     Settings
		field Field
	}{
		{"password without user", Settings{Password: "x"}, FieldUser},
		{"keys without user", Settings{SSHKeys: []string{"ssh-ed25519 AAAA"}}, FieldUser},
		{"psk without ssid", Settings{WifiPSK: "12345678"}, FieldWifiSSID},
		{"ssid without country", Settings{WifiSSID: "n"}, FieldWifiCountry},
		{"ssh with no way in", Settings{SSH: true, User: "u"}, FieldSSHKeys},
		{"bad hash", Settings{User: "u", PasswordHash: "plain"}, FieldPassword},
	}
	for _, tt := range tests {
		var ve *ValidationError
		if err := tt.s.Validate(); !errors.As(err, &ve) || ve.For(tt.field) == nil {
			t.Errorf("%s: %v, want a refusal of %s", tt.name, err, tt.field)
		}
	}
	if err := fullSettings().Validate(); err != nil {
		t.Errorf("full settings: %v", err)
	}
}

func TestExpand(t *testing.T) {
	base := Settings{Hostname: "pi-{n}", User: "u", Password: "pw"}
	got, err := Expand(base, 3, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"pi-7", "pi-8", "pi-9"} {
		if got[i].Hostname != want {
			t.Errorf("target %d: %q, want %q", i, got[i].Hostname, want)
		}
	}
	if _, err := Expand(Settings{Hostname: "pi"}, 2, 1, nil); err != nil {
		t.Errorf("one fixed name for two targets is allowed: %v", err)
	}
	if _, err := Expand(Settings{Hostname: "pi-{i}x{i}"}, 2, 1, nil); err != nil {
		t.Error(err)
	}
	if _, err := Expand(Settings{Hostname: "pi{"}, 2, 1, nil); err == nil {
		t.Error("a bad pattern expanded")
	}
	table, err := ReadTable(strings.NewReader("hostname,wifi_ssid,wifi_country\n# comment\nkitchen,net,GB\nhall, \"Café \"\"5G\"\"\",GB\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err = Expand(Settings{User: "u"}, 2, 1, table)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Hostname != "kitchen" || got[1].WifiSSID != `Café "5G"` {
		t.Errorf("table rows gave %+v", got)
	}
	if _, err := Expand(Settings{}, 3, 1, table); !errors.Is(err, ErrPattern) {
		t.Errorf("3 targets, 2 rows: %v", err)
	}
	dup, _ := ReadTable(strings.NewReader("hostname\na\na\n"))
	if _, err := Expand(Settings{}, 2, 1, dup); !errors.Is(err, ErrPattern) {
		t.Errorf("duplicate names: %v", err)
	}
	psk := Settings{WifiSSID: "net-{n}", WifiPSKHash: strings.Repeat("ab", 32), WifiCountry: "GB"}
	if _, err := Expand(psk, 2, 1, nil); !errors.Is(err, ErrPattern) {
		t.Errorf("a stored key carried to other SSIDs: %v", err)
	}
	typed, err := Expand(Settings{WifiSSID: "net-{n}", WifiPSK: "passphrase", WifiCountry: "GB"}, 2, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	h0, _ := typed[0].Hash()
	h1, _ := typed[1].Hash()
	if k, _ := DerivePSK("passphrase", "net-2"); h0.WifiPSKHash == h1.WifiPSKHash || h1.WifiPSKHash != k {
		t.Error("each target's key must be derived for its own SSID")
	}
	for _, bad := range []string{"password\nx\n", "hostname\n", ""} {
		if _, err := ReadTable(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadTable(%q) accepted", bad)
		}
	}
}

func TestProfiles(t *testing.T) {
	p := &Profiles{Dir: filepath.Join(t.TempDir(), "profiles")}
	if names, err := p.List(); err != nil || len(names) != 0 {
		t.Fatalf("empty list: %v %v", names, err)
	}
	s := Settings{Hostname: "lab", User: "u", Password: "secret-pass", WifiSSID: "n", WifiPSK: "wifi-pass-1", WifiCountry: "GB"}
	if err := p.Save("lab", s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(p.Dir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret-pass")) || bytes.Contains(raw, []byte("wifi-pass-1")) {
		t.Fatalf("a profile holds a plain-text secret:\n%s", raw)
	}
	if st, _ := os.Stat(filepath.Join(p.Dir, "lab.json")); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	got, err := p.Load("lab")
	if err != nil {
		t.Fatal(err)
	}
	if got.Hostname != "lab" || !strings.HasPrefix(got.PasswordHash, "$6$") || len(got.WifiPSKHash) != 64 || got.Password != "" {
		t.Errorf("loaded %+v", got)
	}
	if names, _ := p.List(); len(names) != 1 || names[0] != "lab" {
		t.Errorf("list %v", names)
	}
	var buf bytes.Buffer
	if err := Export(&buf, "lab", got); err != nil {
		t.Fatal(err)
	}
	back, name, err := Import(&buf)
	if err != nil || name != "lab" || back.PasswordHash != got.PasswordHash {
		t.Errorf("import: %v %q %+v", err, name, back)
	}
	for _, bad := range []string{`{"kind":"other","version":1}`, `{"kind":"pistudio-settings-profile","version":1,"settings":{"password":"x"}}`, "not json"} {
		if _, _, err := Import(strings.NewReader(bad)); err == nil {
			t.Errorf("imported %s", bad)
		}
	}
	if _, err := p.Load("../x"); err == nil {
		t.Error("loaded a path")
	}
	if err := p.Delete("lab"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Load("lab"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("after delete: %v", err)
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ours := write("set.img", "")
	write("image.json", `{"layout":"image-rpios","firstboot":"cloudinit","artifacts":[{"file":"set.img"}]}`)
	other := write("custom.img", "")
	rpios := write("2024-11-19-raspios-bookworm-arm64-lite.img.xz", "")
	trixie := write("2025-12-04-raspios-trixie-arm64.img.xz", "")
	listed := write("listed.img.xz", "")
	if err := imager.Write(filepath.Join(dir, "mine"+imager.Ext), &imager.Manifest{OSList: []imager.OS{
		{Name: "x", URL: imager.FileURL(listed), InitFormat: "rpi-preseed"}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want Format
	}{{ours, CloudInit}, {other, None}, {rpios, Systemd}, {trixie, CloudInitRPi}, {listed, RPiPreseed}}
	for _, tt := range tests {
		r := Detect(tt.path)
		if r.Format != tt.want {
			t.Errorf("Detect(%s) = %+v, want %s", filepath.Base(tt.path), r, tt.want)
		}
		if r.Format == None && r.Reason == "" {
			t.Errorf("Detect(%s): no reason", tt.path)
		}
	}
	write("image.json", `{"layout":"image-rpios","artifacts":[{"file":"set.img"}]}`)
	if r := Detect(ours); r.Format != None || r.Reason != ReasonNoLayer {
		t.Errorf("set without firstboot: %+v", r)
	}
}
