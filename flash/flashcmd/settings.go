package flashcmd

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/internal/cli"
)

// settingsFlags are the first-boot settings a command takes.
type settingsFlags struct {
	hostname, user, passwordFile                  string
	wifiSSID, wifiPSKFile, wifiCountry            string
	locale, keyboard, timezone, profile, table, f string
	sshKeys                                       cli.StringList
	ssh, sshPasswordAuth, wifiHidden              bool
	first                                         int
}

// settingsUsage lists the settings flags for usage lines.
const settingsUsage = "[--hostname NAME] [--user NAME] [--password-file FILE] [--ssh] [--ssh-key FILE]... [--ssh-password-auth] [--wifi-ssid SSID] [--wifi-psk-file FILE] [--wifi-country CC] [--wifi-hidden] [--locale L] [--keyboard K] [--timezone TZ] [--profile NAME] [--first N] [--table CSV] [--format F]"

func addSettingsFlags(fs *flag.FlagSet) *settingsFlags {
	s := &settingsFlags{}
	fs.StringVar(&s.hostname, "hostname", "", "first-boot host name; {n} numbers targets (pi-{n} → pi-1, pi-2, …)")
	fs.StringVar(&s.user, "user", "", "first-boot login user")
	fs.StringVar(&s.passwordFile, "password-file", "", "file holding the user's password (hashed here; - reads stdin)")
	fs.BoolVar(&s.ssh, "ssh", false, "turn the SSH server on")
	fs.Var(&s.sshKeys, "ssh-key", "OpenSSH public key file for the user (repeatable; turns SSH on)")
	fs.BoolVar(&s.sshPasswordAuth, "ssh-password-auth", false, "allow password logins over SSH")
	fs.StringVar(&s.wifiSSID, "wifi-ssid", "", "Wi-Fi network name")
	fs.StringVar(&s.wifiPSKFile, "wifi-psk-file", "", "file holding the Wi-Fi passphrase (stored as its derived key)")
	fs.StringVar(&s.wifiCountry, "wifi-country", "", "Wi-Fi country code (GB, US, DE, …)")
	fs.BoolVar(&s.wifiHidden, "wifi-hidden", false, "the Wi-Fi network does not broadcast its name")
	fs.StringVar(&s.locale, "locale", "", "locale (en_GB.UTF-8)")
	fs.StringVar(&s.keyboard, "keyboard", "", "keyboard layout (gb, us, de)")
	fs.StringVar(&s.timezone, "timezone", "", "time zone (Europe/London)")
	fs.StringVar(&s.profile, "profile", "", "start from the saved settings profile NAME (see pistudio profile)")
	fs.IntVar(&s.first, "first", 1, "the number {n} stands for on the first target")
	fs.StringVar(&s.table, "table", "", "CSV of per-target values, one row per target (header: "+strings.Join(firstboot.Columns, ",")+")")
	fs.StringVar(&s.f, "format", "", "write settings in this format instead of the one the image says (cloudinit, cloudinit-rpi, rpi-preseed, systemd)")
	return s
}

// requested reports whether any setting was asked for.
func (s *settingsFlags) requested() bool {
	return s.hostname != "" || s.user != "" || s.passwordFile != "" || s.ssh || len(s.sshKeys) > 0 ||
		s.sshPasswordAuth || s.wifiSSID != "" || s.wifiPSKFile != "" || s.wifiCountry != "" || s.wifiHidden ||
		s.locale != "" || s.keyboard != "" || s.timezone != "" || s.profile != "" || s.table != ""
}

// readSecret reads a secret from a file ("-" is stdin), line breaks
// stripped.
func readSecret(env *cli.Env, path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		buf := make([]byte, 4096)
		n, rerr := env.Stdin.Read(buf)
		b, err = buf[:n], rerr
		if n > 0 {
			err = nil
		}
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return firstboot.StripLineBreaks(string(b)), nil
}

// settings builds the base Settings: the profile first, the flags on top.
func (s *settingsFlags) settings(env *cli.Env) (firstboot.Settings, error) {
	var out firstboot.Settings
	if s.profile != "" {
		ps, err := profileDir()
		if err != nil {
			return out, err
		}
		if out, err = ps.Load(s.profile); err != nil {
			return out, cli.Exit(2, err)
		}
	}
	ssid := out.WifiSSID
	s.overlay(&out)
	if err := s.secrets(env, &out); err != nil {
		return out, cli.Exit(2, err)
	}
	if out.WifiPSKHash != "" && out.WifiSSID != ssid {
		return out, cli.Exit(2, fmt.Errorf("the profile's Wi-Fi key was derived for the network %q, not %q: give --wifi-psk-file too", ssid, out.WifiSSID))
	}
	return out, nil
}

// overlay sets the plain values given as flags.
func (s *settingsFlags) overlay(out *firstboot.Settings) {
	for dst, v := range map[*string]string{
		&out.Hostname: s.hostname, &out.User: s.user, &out.WifiSSID: s.wifiSSID,
		&out.WifiCountry: strings.ToUpper(s.wifiCountry), &out.Locale: s.locale,
		&out.Keyboard: s.keyboard, &out.Timezone: s.timezone,
	} {
		if v != "" {
			*dst = v
		}
	}
	out.SSH = out.SSH || s.ssh || len(s.sshKeys) > 0
	out.SSHPasswordAuth = out.SSHPasswordAuth || s.sshPasswordAuth
	out.WifiHidden = out.WifiHidden || s.wifiHidden
}

// secrets reads the password, passphrase and keys from their files.
func (s *settingsFlags) secrets(env *cli.Env, out *firstboot.Settings) error {
	if s.passwordFile != "" {
		pw, err := readSecret(env, s.passwordFile)
		if err != nil {
			return err
		}
		out.Password, out.PasswordHash = pw, ""
	}
	if s.wifiPSKFile != "" {
		psk, err := readSecret(env, s.wifiPSKFile)
		if err != nil {
			return err
		}
		out.WifiPSK, out.WifiPSKHash = psk, ""
	}
	if len(s.sshKeys) == 0 {
		return nil
	}
	out.SSHKeys = nil
	for _, k := range s.sshKeys {
		b, err := os.ReadFile(k)
		if err != nil {
			return fmt.Errorf("reading the SSH key: %w", err)
		}
		keys, err := firstboot.ParseSSHKeys(string(b))
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		out.SSHKeys = append(out.SSHKeys, keys...)
	}
	return nil
}

// perTarget expands the settings for n targets (pattern and table) and
// hashes their secrets once for all.
func (s *settingsFlags) perTarget(env *cli.Env, n int) ([]firstboot.Settings, error) {
	base, err := s.settings(env)
	if err != nil {
		return nil, err
	}
	var table []firstboot.Row
	if s.table != "" {
		f, err := os.Open(s.table)
		if err != nil {
			return nil, cli.Exit(2, err)
		}
		table, err = firstboot.ReadTable(f)
		f.Close()
		if err != nil {
			return nil, cli.Exit(2, fmt.Errorf("%s: %w", s.table, err))
		}
	}
	out, err := firstboot.Expand(base, n, s.first, table)
	if err != nil {
		return nil, cli.Exit(2, err)
	}
	// Hashed per target: each Wi-Fi key is derived for that target's SSID.
	for i := range out {
		if out[i], err = out[i].Hash(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reader decides the format to write: --format, else what the image says.
func (s *settingsFlags) reader(image string) (firstboot.Reader, error) {
	if s.f != "" {
		f, err := firstboot.ParseFormat(s.f)
		if err != nil {
			return firstboot.Reader{}, cli.Exit(2, err)
		}
		return firstboot.Reader{Format: f, From: "--format"}, nil
	}
	r := firstboot.Detect(image)
	if !r.CanApply() {
		return r, cli.Exit(2, fmt.Errorf("%w: settings cannot be applied to %s: %s (or name the reader with --format)", errNoReader, image, r.Reason))
	}
	return r, nil
}

var errNoReader = errors.New("no first-boot reader")
