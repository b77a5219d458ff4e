package firstboot

// seedScrub is the runcmd entry that overwrites the secrets of the seed
// on the boot partition once cloud-init has applied them: user-data and
// network-config are overwritten in place with zeros (shred) and replaced
// by stubs that keep the same instance from running again. The instance-id
// in meta-data is kept, so later boots do not start a new instance.
const seedScrub = `  - |
    for d in /boot/firmware /boot; do
      [ -f "$d/meta-data" ] || continue
      for f in user-data network-config; do
        [ -f "$d/$f" ] || continue
        shred -n 1 -z "$d/$f" 2>/dev/null || true
        if [ "$f" = user-data ]; then
          printf '#cloud-config\n# applied at first boot; the settings were removed\n' > "$d/$f"
        else
          printf 'network:\n  config: disabled\n' > "$d/$f"
        fi
      done
      sync "$d"
      break
    done`

// localeGen is the bootcmd script that lists the wanted locale ($1) in
// /etc/locale.gen, with its charset from the system's list of supported
// locales. Debian's locale-gen builds only the locales listed there and
// ignores its arguments, so cloud-init's locale module (which runs after
// bootcmd) would otherwise fail with "invalid locale settings".
const localeGen = `l=$(awk -v n="$1" '$1 == n { print; exit }' /usr/share/i18n/SUPPORTED 2>/dev/null); ` +
	`if [ -n "$l" ] && [ -f /etc/locale.gen ] && ! grep -qxF "$l" /etc/locale.gen; then echo "$l" >> /etc/locale.gen; fi; true`

// cloudInit returns the NoCloud seed: user-data, meta-data and, with
// Wi-Fi, network-config. Every string is a YAML double-quoted scalar.
func cloudInit(s Settings, instanceID string) []File {
	var u lines
	u.add("#cloud-config")
	u.add("# written by pistudio; applied once at first boot")
	u.add("manage_resolv_conf: false")
	if s.Hostname != "" {
		u.add("hostname: %s", yamlQuote(s.Hostname))
		u.add("manage_etc_hosts: true")
	}
	if s.Timezone != "" {
		u.add("timezone: %s", yamlQuote(s.Timezone))
	}
	if s.Locale != "" {
		u.add("locale: %s", yamlQuote(s.Locale))
		if s.Locale != "C.UTF-8" {
			u.add("bootcmd:")
			u.add("  - [ sh, -c, %s, sh, %s ]", yamlQuote(localeGen), yamlQuote(s.Locale))
		}
	}
	if s.Keyboard != "" {
		u.add("keyboard:")
		u.add("  model: pc105")
		u.add("  layout: %s", yamlQuote(s.Keyboard))
	}
	cloudUser(&u, s)
	if s.SSH || len(s.SSHKeys) > 0 {
		u.add("ssh_pwauth: %t", s.SSHPasswordAuth)
	}
	u.add("runcmd:")
	if s.SSH {
		u.add("  - [ systemctl, enable, --now, ssh ]")
	}
	if s.WifiCountry != "" {
		u.add("  - [ sh, -c, \"rfkill unblock wifi || true\" ]")
	}
	u.add("%s", seedScrub)

	var m lines
	m.add("instance-id: %s", yamlQuote(instanceID))
	if s.Hostname != "" {
		m.add("local-hostname: %s", yamlQuote(s.Hostname))
	}
	files := []File{{Name: "user-data", Data: u.Bytes()}, {Name: "meta-data", Data: m.Bytes()}}
	if s.WifiSSID != "" {
		files = append(files, File{Name: "network-config", Data: networkConfig(s)})
	}
	return files
}

func cloudUser(u *lines, s Settings) {
	if s.User == "" {
		return
	}
	u.add("user:")
	u.add("  name: %s", yamlQuote(s.User))
	u.add("  shell: /bin/bash")
	if s.PasswordHash != "" {
		u.add("  lock_passwd: false")
		u.add("  passwd: %s", yamlQuote(s.PasswordHash))
	} else {
		u.add("  lock_passwd: true")
	}
	if len(s.SSHKeys) > 0 {
		u.add("  ssh_authorized_keys:")
		for _, k := range s.SSHKeys {
			u.add("    - %s", yamlQuote(k))
		}
	}
	u.add("  sudo: null")
}

// networkConfig is a netplan version 2 config: wired DHCP kept, the
// Wi-Fi network with its derived key (never the passphrase).
func networkConfig(s Settings) []byte {
	var n lines
	n.add("network:")
	n.add("  version: 2")
	n.add("  ethernets:")
	n.add("    eth0:")
	n.add("      dhcp4: true")
	n.add("      dhcp6: true")
	n.add("      optional: true")
	n.add("  wifis:")
	n.add("    wlan0:")
	n.add("      dhcp4: true")
	if s.WifiCountry != "" {
		n.add("      regulatory-domain: %s", yamlQuote(s.WifiCountry))
	}
	n.add("      access-points:")
	n.add("        %s:", yamlQuote(s.WifiSSID))
	if s.WifiHidden {
		n.add("          hidden: true")
	}
	if s.WifiPSKHash != "" {
		n.add("          password: %s", yamlQuote(s.WifiPSKHash))
	} else {
		n.add("          auth:")
		n.add("            key-management: none")
	}
	n.add("      optional: true")
	return n.Bytes()
}
