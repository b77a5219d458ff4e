package fynelocale

import (
	"os"
	"testing"
)

func TestRestorePutsTheLocaleBack(t *testing.T) {
	// The test binary's own init already ran with the CI's environment;
	// exercise init again with a known C locale.
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "C.UTF-8")
	os.Unsetenv("LC_ALL")
	os.Unsetenv("LC_MESSAGES")
	quiet()
	if got := os.Getenv("LANG"); got != "en_US.UTF-8" {
		t.Fatalf("during start-up LANG = %q, want a locale Fyne parses", got)
	}
	Restore()
	Restore()
	if got := os.Getenv("LANG"); got != "C.UTF-8" {
		t.Fatalf("after Restore LANG = %q, want C.UTF-8", got)
	}
}

func TestNonCLocaleUntouched(t *testing.T) {
	t.Setenv("LC_ALL", "de_DE.UTF-8")
	quiet()
	if changed || os.Getenv("LC_ALL") != "de_DE.UTF-8" {
		t.Fatalf("a real locale was changed")
	}
}
