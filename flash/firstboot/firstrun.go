package firstboot

import "strings"

// firstrun returns firstrun.sh for Raspberry Pi OS images that run it
// through systemd.run=: it uses the image's own helpers
// (raspberrypi-sys-mods imager_custom, userconf-pi) where present, plain
// commands otherwise, then removes itself and its kernel arguments.
// Every value is one single-quoted shell word.
func firstrun(s Settings) []byte {
	var l lines
	l.add("#!/bin/sh")
	l.add("# written by pistudio; runs once at first boot, then removes itself")
	l.add("set +e")
	l.add("IC=/usr/lib/raspberrypi-sys-mods/imager_custom")
	l.add("FIRSTUSER=$(getent passwd 1000 | cut -d: -f1)")
	l.add("FIRSTUSERHOME=$(getent passwd 1000 | cut -d: -f6)")
	if s.Hostname != "" {
		h := shellQuote(s.Hostname)
		l.add("CURRENT_HOSTNAME=$(tr -d ' \\t\\n\\r' </etc/hostname)")
		l.add("if [ -f \"$IC\" ]; then")
		l.add("   \"$IC\" set_hostname %s", h)
		l.add("else")
		l.add("   echo %s >/etc/hostname", h)
		l.add("   sed -i \"s/127.0.1.1.*$CURRENT_HOSTNAME/127.0.1.1\\t\"%s\"/g\" /etc/hosts", h)
		l.add("fi")
	}
	firstrunSSH(&l, s)
	firstrunUser(&l, s)
	firstrunWifi(&l, s)
	firstrunLocale(&l, s)
	l.add("rm -f /boot/firstrun.sh /boot/firmware/firstrun.sh")
	l.add("for c in /boot/firmware/cmdline.txt /boot/cmdline.txt; do [ -f \"$c\" ] && sed -i 's| systemd.run.*||g' \"$c\"; done")
	l.add("exit 0")
	return l.Bytes()
}

func firstrunSSH(l *lines, s Settings) {
	if len(s.SSHKeys) > 0 {
		keys := make([]string, len(s.SSHKeys))
		for i, k := range s.SSHKeys {
			keys[i] = shellQuote(k)
		}
		l.add("if [ -f \"$IC\" ]; then")
		l.add("   \"$IC\" enable_ssh -k %s", strings.Join(keys, " "))
		l.add("else")
		l.add("   install -o \"$FIRSTUSER\" -m 700 -d \"$FIRSTUSERHOME/.ssh\"")
		l.add("   printf '%%s\\n' %s >\"$FIRSTUSERHOME/.ssh/authorized_keys\"", strings.Join(keys, " "))
		l.add("   chown \"$FIRSTUSER:$FIRSTUSER\" \"$FIRSTUSERHOME/.ssh/authorized_keys\"")
		l.add("   chmod 600 \"$FIRSTUSERHOME/.ssh/authorized_keys\"")
		if !s.SSHPasswordAuth {
			l.add("   echo 'PasswordAuthentication no' >>/etc/ssh/sshd_config")
		}
		l.add("   systemctl enable ssh")
		l.add("fi")
		return
	}
	if s.SSH {
		l.add("if [ -f \"$IC\" ]; then")
		l.add("   \"$IC\" enable_ssh")
		l.add("else")
		l.add("   systemctl enable ssh")
		l.add("fi")
	}
}

func firstrunUser(l *lines, s Settings) {
	if s.User == "" {
		return
	}
	u := shellQuote(s.User)
	l.add("if [ -f /usr/lib/userconf-pi/userconf ]; then")
	l.add("   /usr/lib/userconf-pi/userconf %s %s", u, shellQuote(s.PasswordHash))
	l.add("else")
	if s.PasswordHash != "" {
		l.add("   printf '%%s:%%s\\n' \"$FIRSTUSER\" %s | chpasswd -e", shellQuote(s.PasswordHash))
	}
	l.add("   if [ \"$FIRSTUSER\" != %s ]; then", u)
	l.add("      usermod -l %s \"$FIRSTUSER\"", u)
	l.add("      usermod -m -d /home/%s %s", u, u)
	l.add("      groupmod -n %s \"$FIRSTUSER\"", u)
	l.add("   fi")
	l.add("fi")
}

func firstrunWifi(l *lines, s Settings) {
	if s.WifiSSID == "" {
		if s.WifiCountry != "" {
			l.add("rfkill unblock wifi")
			l.add("for f in /var/lib/systemd/rfkill/*:wlan; do echo 0 >\"$f\"; done")
		}
		return
	}
	hidden := ""
	if s.WifiHidden {
		hidden = "-h "
	}
	l.add("if [ -f \"$IC\" ]; then")
	l.add("   \"$IC\" set_wlan %s%s %s %s", hidden, shellQuote(s.WifiSSID), shellQuote(s.WifiPSKHash), shellQuote(s.WifiCountry))
	l.add("else")
	l.add("   cat >/etc/wpa_supplicant/wpa_supplicant.conf <<'WPAEOF'")
	if s.WifiCountry != "" {
		l.add("country=%s", s.WifiCountry)
	}
	l.add("ctrl_interface=DIR=/var/run/wpa_supplicant GROUP=netdev")
	l.add("ap_scan=1")
	l.add("update_config=1")
	l.add("network={")
	if s.WifiHidden {
		l.add("\tscan_ssid=1")
	}
	l.add("\tssid=%s", wpaSSID(s.WifiSSID))
	if s.WifiPSKHash != "" {
		l.add("\tkey_mgmt=WPA-PSK SAE")
		l.add("\tpsk=%s", s.WifiPSKHash)
		l.add("\tieee80211w=1")
	} else {
		l.add("\tkey_mgmt=NONE")
	}
	l.add("}")
	l.add("WPAEOF")
	l.add("   chmod 600 /etc/wpa_supplicant/wpa_supplicant.conf")
	l.add("   rfkill unblock wifi")
	l.add("   for f in /var/lib/systemd/rfkill/*:wlan; do echo 0 >\"$f\"; done")
	l.add("fi")
}

// wpaSSID is an ssid= value for wpa_supplicant.conf: quoted text when
// that is safe, else hex octets (quotes, backslashes, non-ASCII).
func wpaSSID(ssid string) string {
	for _, r := range ssid {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			const hexd = "0123456789abcdef"
			b := make([]byte, 0, 2*len(ssid))
			for i := 0; i < len(ssid); i++ {
				b = append(b, hexd[ssid[i]>>4], hexd[ssid[i]&15])
			}
			return string(b)
		}
	}
	return `"` + ssid + `"`
}

func firstrunLocale(l *lines, s Settings) {
	if s.Keyboard == "" && s.Timezone == "" {
		return
	}
	l.add("if [ -f \"$IC\" ]; then")
	if s.Keyboard != "" {
		l.add("   \"$IC\" set_keymap %s", shellQuote(s.Keyboard))
	}
	if s.Timezone != "" {
		l.add("   \"$IC\" set_timezone %s", shellQuote(s.Timezone))
	}
	l.add("else")
	if s.Timezone != "" {
		l.add("   rm -f /etc/localtime")
		l.add("   echo %s >/etc/timezone", shellQuote(s.Timezone))
		l.add("   dpkg-reconfigure -f noninteractive tzdata")
	}
	if s.Keyboard != "" {
		l.add("   printf 'XKBMODEL=\"pc105\"\\nXKBLAYOUT=\"%%s\"\\nXKBVARIANT=\"\"\\nXKBOPTIONS=\"\"\\n' %s >/etc/default/keyboard", shellQuote(s.Keyboard))
		l.add("   dpkg-reconfigure -f noninteractive keyboard-configuration")
	}
	l.add("fi")
}
