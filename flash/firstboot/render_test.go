package firstboot

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/pistudio/pistudio/internal/golden"

	"gopkg.in/yaml.v3"
)

// fullSettings sets every field, with hashed secrets fixed so that the
// output is stable.
func fullSettings() Settings {
	return Settings{
		Hostname:     "pi-1",
		User:         "alice",
		PasswordHash: "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
		SSHKeys:      []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmh0bN2c4m5JxJq alice@desk", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== bob"},
		SSH:          true,
		WifiSSID:     `Café "5G" \ net`,
		WifiPSKHash:  "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e",
		WifiCountry:  "GB",
		Locale:       "en_GB.UTF-8",
		Keyboard:     "gb",
		Timezone:     "Europe/London",
	}
}

func TestRenderGolden(t *testing.T) {
	cases := map[string]Settings{
		"full":     fullSettings(),
		"hostname": {Hostname: "kiosk"},
		"keyonly":  {User: "pi", SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmh0bN2c4m5JxJq me"}, SSH: true},
		"openwifi": {WifiSSID: "guest", WifiCountry: "DE", WifiHidden: true},
	}
	for name, s := range cases {
		for _, f := range []Format{CloudInit, RPiPreseed, Systemd} {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				p, err := Render(s, f, RenderOptions{InstanceID: "pistudio-test"})
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				for _, fl := range p.Files {
					got.WriteString("==> " + fl.Name + " <==\n")
					got.Write(fl.Data)
				}
				got.WriteString("==> cmdline <==\n" + strings.Join(p.Cmdline, " ") + "\n")
				golden(t, filepath.Join("testdata", "golden", name, string(f)+".txt"), got.Bytes())
			})
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	goldenfile.Check(t, path, got)
}

// TestCloudInitParses reads the rendered seed back as YAML and checks the
// values Imager's format carries, including an SSID with quotes,
// backslash and non-ASCII.
func TestCloudInitParses(t *testing.T) {
	s := fullSettings()
	p, err := Render(s, CloudInit, RenderOptions{InstanceID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range p.Files {
		files[f.Name] = f.Data
	}
	if !bytes.HasPrefix(files["user-data"], []byte("#cloud-config\n")) {
		t.Fatalf("user-data must start with #cloud-config:\n%s", files["user-data"])
	}
	var ud struct {
		Hostname string `yaml:"hostname"`
		Timezone string `yaml:"timezone"`
		Locale   string `yaml:"locale"`
		User     struct {
			Name   string   `yaml:"name"`
			Passwd string   `yaml:"passwd"`
			Keys   []string `yaml:"ssh_authorized_keys"`
		} `yaml:"user"`
		Runcmd []any `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal(files["user-data"], &ud); err != nil {
		t.Fatal(err)
	}
	if ud.Hostname != s.Hostname || ud.User.Name != s.User || ud.User.Passwd != s.PasswordHash ||
		len(ud.User.Keys) != 2 || ud.User.Keys[1] != s.SSHKeys[1] || ud.Timezone != s.Timezone || ud.Locale != s.Locale {
		t.Errorf("user-data read back as %+v", ud)
	}
	last, _ := ud.Runcmd[len(ud.Runcmd)-1].(string)
	if !strings.Contains(last, "shred") || !strings.Contains(last, "user-data") {
		t.Errorf("the last runcmd must overwrite the seed's secrets, got %q", last)
	}
	var nc struct {
		Network struct {
			Version int `yaml:"version"`
			Wifis   map[string]struct {
				APs map[string]struct {
					Password string `yaml:"password"`
				} `yaml:"access-points"`
			} `yaml:"wifis"`
		} `yaml:"network"`
	}
	if err := yaml.Unmarshal(files["network-config"], &nc); err != nil {
		t.Fatal(err)
	}
	ap, ok := nc.Network.Wifis["wlan0"].APs[s.WifiSSID]
	if nc.Network.Version != 2 || !ok || ap.Password != s.WifiPSKHash {
		t.Errorf("network-config read back as %+v", nc)
	}
	var md map[string]string
	if err := yaml.Unmarshal(files["meta-data"], &md); err != nil || md["instance-id"] != "x" {
		t.Errorf("meta-data %v %v", md, err)
	}
}

// TestNoPlainSecrets renders typed secrets and finds neither in any file.
func TestNoPlainSecrets(t *testing.T) {
	s := fullSettings()
	s.PasswordHash, s.WifiPSKHash = "", ""
	s.Password, s.WifiPSK = "Sekrit-pass\r\n", "wifi-passphrase-1"
	for _, f := range []Format{CloudInit, CloudInitRPi, RPiPreseed, Systemd} {
		p, err := Render(s, f, RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range p.Files {
			for _, secret := range []string{"Sekrit-pass", "wifi-passphrase-1"} {
				if bytes.Contains(fl.Data, []byte(secret)) {
					t.Errorf("%s %s holds the plain-text secret %q", f, fl.Name, secret)
				}
			}
		}
	}
}

func TestFirstrunIsShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p, err := Render(fullSettings(), Systemd, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sh, "-n")
	cmd.Stdin = bytes.NewReader(p.Files[0].Data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}
}

func TestRenderRefuses(t *testing.T) {
	if _, err := Render(Settings{}, CloudInit, RenderOptions{}); err != ErrNothing {
		t.Errorf("empty settings: %v", err)
	}
	if _, err := Render(Settings{Hostname: "a"}, None, RenderOptions{}); err == nil {
		t.Error("format none rendered")
	}
	if _, err := Render(Settings{Hostname: "bad name"}, CloudInit, RenderOptions{}); err == nil {
		t.Error("bad hostname rendered")
	}
}

func TestSkipped(t *testing.T) {
	p, err := Render(Settings{Hostname: "a", Locale: "de_DE.UTF-8"}, RPiPreseed, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Skipped) != 1 || p.Skipped[0] != FieldLocale {
		t.Errorf("skipped = %v, want [locale]", p.Skipped)
	}
}

func TestEditCmdline(t *testing.T) {
	tests := []struct{ in, want string }{
		{"console=serial0 root=PARTUUID=1-02 rootwait", "console=serial0 root=PARTUUID=1-02 rootwait ds=nocloud;i=b\n"},
		{"root=/dev/x ds=nocloud;i=a quiet", "root=/dev/x quiet ds=nocloud;i=b\n"},
	}
	for _, tt := range tests {
		if got := EditCmdline(tt.in, []string{"ds=nocloud;i=b"}); got != tt.want {
			t.Errorf("EditCmdline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPayloadCheck(t *testing.T) {
	for _, f := range []Format{CloudInit, RPiPreseed, Systemd} {
		p, err := Render(fullSettings(), f, RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Check(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, bad := range []*Payload{
		{Files: []File{{Name: "config.txt"}}},
		{Files: []File{{Name: "../etc/passwd"}}},
		{Cmdline: []string{"init=/bin/sh"}},
		{Cmdline: []string{"ds=nocloud x=y"}},
		{Files: []File{{Name: "user-data", Data: make([]byte, 2<<20)}}},
	} {
		if err := bad.Check(); err == nil {
			t.Errorf("accepted %+v", bad.Cmdline)
		}
	}
}
