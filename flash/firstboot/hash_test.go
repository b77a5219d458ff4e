package firstboot

import (
	"os/exec"
	"strings"
	"testing"
)

func TestHashPasswordKnown(t *testing.T) {
	// The SHA-512 crypt specification's first test vector.
	got, err := hashWithSalt("Hello world!", "saltstring")
	if err != nil {
		t.Fatal(err)
	}
	const want = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	crlf, _ := hashWithSalt("Hello world!\r\n", "saltstring")
	if crlf != want {
		t.Errorf("CR/LF not stripped: %s", crlf)
	}
}

func TestHashPasswordOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	for _, pw := range []string{"a", "pässwörd with spaces", `q"uote'\`} {
		out, err := exec.Command("openssl", "passwd", "-6", "-salt", "abcdefgh12345678", pw).Output()
		if err != nil {
			t.Fatal(err)
		}
		got, err := hashWithSalt(pw, "abcdefgh12345678")
		if err != nil {
			t.Fatal(err)
		}
		if got != strings.TrimSpace(string(out)) {
			t.Errorf("%q: got %s, openssl %s", pw, got, out)
		}
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, err := HashPassword("x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := HashPassword("x")
	if a == b || !strings.HasPrefix(a, "$6$") || !reCrypt.MatchString(a) {
		t.Errorf("hashes %s and %s", a, b)
	}
}

func TestDerivePSK(t *testing.T) {
	tests := []struct{ pass, ssid, want string }{
		// IEEE 802.11i-2004 annex H.4 test vectors.
		{"password", "IEEE", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"},
		{"ThisIsAPassword", "ThisIsASSID", "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"},
		{"password\n", "IEEE", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"},
		{"F42C6FC52DF0EBEF9EBB4B90B38A5F902E83FE1B135A70E23AED762E9710A12E", "x", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"},
	}
	for _, tt := range tests {
		got, err := DerivePSK(tt.pass, tt.ssid)
		if err != nil || got != tt.want {
			t.Errorf("DerivePSK(%q, %q) = %s, %v; want %s", tt.pass, tt.ssid, got, err, tt.want)
		}
	}
}
