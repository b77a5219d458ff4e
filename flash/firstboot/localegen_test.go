package firstboot

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The bootcmd script lists the wanted locale in locale.gen once, with the
// charset the system's list gives it, and leaves the file alone for a
// locale the system does not know.
func TestLocaleGenScript(t *testing.T) {
	dir := t.TempDir()
	supported := filepath.Join(dir, "SUPPORTED")
	gen := filepath.Join(dir, "locale.gen")
	if err := os.WriteFile(supported, []byte("de_DE.UTF-8 UTF-8\nde_DE ISO-8859-1\nde_DE@euro ISO-8859-15\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const before = "# de_DE.UTF-8 UTF-8\n# en_GB.UTF-8 UTF-8\n"
	if err := os.WriteFile(gen, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	script := strings.NewReplacer("/usr/share/i18n/SUPPORTED", supported, "/etc/locale.gen", gen).Replace(localeGen)
	run := func(locale string) string {
		t.Helper()
		if out, err := exec.Command("sh", "-c", script, "sh", locale).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", locale, err, out)
		}
		b, err := os.ReadFile(gen)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := before + "de_DE.UTF-8 UTF-8\n"
	if got := run("de_DE.UTF-8"); got != want {
		t.Errorf("locale.gen after de_DE.UTF-8:\n%s", got)
	}
	if got := run("de_DE.UTF-8"); got != want {
		t.Errorf("a second boot changed locale.gen:\n%s", got)
	}
	if got := run("xx_XX.UTF-8"); got != want {
		t.Errorf("an unknown locale changed locale.gen:\n%s", got)
	}
	if got := run("de_DE"); got != want+"de_DE ISO-8859-1\n" {
		t.Errorf("locale.gen after de_DE:\n%s", got)
	}
}
