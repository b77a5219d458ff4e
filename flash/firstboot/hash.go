package firstboot

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"

	"github.com/GehirnInc/crypt/sha512_crypt"
)

// saltChars are the characters of a crypt(3) salt.
const saltChars = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// HashPassword returns the SHA-512 crypt(3) hash ("$6$salt$…") of
// password with CR and LF removed first, with a random 16-character salt.
// Every Linux image's PAM reads it.
func HashPassword(password string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a salt: %w", err)
	}
	for i := range b {
		b[i] = saltChars[int(b[i])%len(saltChars)]
	}
	return hashWithSalt(password, string(b))
}

// hashWithSalt hashes with a given salt (tests compare with openssl).
func hashWithSalt(password, salt string) (string, error) {
	h, err := sha512_crypt.New().Generate([]byte(StripLineBreaks(password)), []byte("$6$"+salt))
	if err != nil {
		return "", fmt.Errorf("hashing the password: %w", err)
	}
	return h, nil
}

// DerivePSK returns the WPA key derived from a passphrase and an SSID:
// PBKDF2-HMAC-SHA1(passphrase, ssid, 4096, 32) as 64 lower-case hex
// digits, what wpa_passphrase prints as psk=. A passphrase that already
// is 64 hex digits is the key itself and is returned lower-cased.
func DerivePSK(passphrase, ssid string) (string, error) {
	passphrase = StripLineBreaks(passphrase)
	if reHex64.MatchString(passphrase) {
		return hexLower(passphrase), nil
	}
	k, err := pbkdf2.Key(sha1.New, passphrase, []byte(ssid), 4096, 32)
	if err != nil {
		return "", fmt.Errorf("deriving the Wi-Fi key: %w", err)
	}
	return hex.EncodeToString(k), nil
}

func hexLower(s string) string {
	b, _ := hex.DecodeString(s)
	return hex.EncodeToString(b)
}

// Hash returns a copy of s whose typed secrets are replaced by their
// hashes: Password by PasswordHash, WifiPSK by WifiPSKHash (the key
// derived for WifiSSID). The copy holds no plain-text secret.
func (s Settings) Hash() (Settings, error) {
	out := s
	out.SSHKeys = append([]string(nil), s.SSHKeys...)
	if s.Password != "" {
		h, err := HashPassword(s.Password)
		if err != nil {
			return Settings{}, err
		}
		out.PasswordHash, out.Password = h, ""
	}
	if s.WifiPSK != "" {
		k, err := DerivePSK(s.WifiPSK, s.WifiSSID)
		if err != nil {
			return Settings{}, err
		}
		out.WifiPSKHash, out.WifiPSK = k, ""
	}
	return out, nil
}
