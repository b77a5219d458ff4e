package firstboot

// preseed returns rpi-preseed.toml: the TOML subset rpi-preseed reads
// (basic strings escaping only backslash and quote, booleans, arrays of
// strings), sections in Imager's order.
func preseed(s Settings) []byte {
	var t lines
	t.add(`config_version = "1.0"`)
	if s.Hostname != "" {
		t.add("")
		t.add("[system]")
		t.add("hostname = %s", tomlQuote(s.Hostname))
	}
	if s.User != "" {
		t.add("")
		t.add("[user]")
		t.add("name = %s", tomlQuote(s.User))
		if s.PasswordHash != "" {
			t.add("password = %s", tomlQuote(s.PasswordHash))
			t.add("password_encrypted = true")
		}
		t.add(`groups = ["sudo"]`)
	}
	if s.SSH || len(s.SSHKeys) > 0 {
		t.add("")
		t.add("[ssh]")
		t.add("enabled = true")
		t.add("password_authentication = %t", s.SSHPasswordAuth)
		if len(s.SSHKeys) > 0 {
			t.add("authorized_keys = [")
			for _, k := range s.SSHKeys {
				t.add("  %s,", tomlQuote(k))
			}
			t.add("]")
		}
	}
	if s.WifiSSID != "" {
		t.add("")
		t.add("[wlan]")
		t.add("ssid = %s", tomlQuote(s.WifiSSID))
		if s.WifiPSKHash != "" {
			t.add("password = %s", tomlQuote(s.WifiPSKHash))
			t.add("password_encrypted = true")
		}
		t.add("hidden = %t", s.WifiHidden)
		if s.WifiCountry != "" {
			t.add("country = %s", tomlQuote(s.WifiCountry))
		}
	}
	if s.Keyboard != "" || s.Timezone != "" {
		t.add("")
		t.add("[locale]")
		if s.Keyboard != "" {
			t.add("keymap = %s", tomlQuote(s.Keyboard))
		}
		if s.Timezone != "" {
			t.add("timezone = %s", tomlQuote(s.Timezone))
		}
	}
	return t.Bytes()
}
