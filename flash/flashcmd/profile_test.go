package flashcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/firstboot"
)

// TestProfileCommand saves a profile from flags, lists, exports, imports
// under another name and uses it in a flash to a file.
func TestProfileCommand(t *testing.T) {
	dir := t.TempDir()
	ps := &firstboot.Profiles{Dir: filepath.Join(dir, "profiles")}
	old := profileDir
	profileDir = func() (*firstboot.Profiles, error) { return ps, nil }
	t.Cleanup(func() { profileDir = old })
	t.Setenv("XDG_CONFIG_HOME", dir)
	pw := secretFile(t, "pw-1234\n")
	if _, _, err := runCmd(t, runProfile, "", "save", "lab", "--user", "bob", "--password-file", pw, "--timezone", "UTC"); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCmd(t, runProfile, "", "list")
	if err != nil || out != "lab\n" {
		t.Fatalf("list: %q %v", out, err)
	}
	out, _, _ = runCmd(t, runProfile, "", "show", "lab")
	if strings.Contains(out, "pw-1234") || !strings.Contains(out, `"password_hash": "$6$`) {
		t.Errorf("show:\n%s", out)
	}
	exp := filepath.Join(dir, "lab.json")
	if _, _, err := runCmd(t, runProfile, "", "export", "lab", exp); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, runProfile, "", "import", exp, "lab2"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ps.Dir, "lab2.json")); err != nil {
		t.Error(err)
	}
	if _, _, err := runCmd(t, runProfile, "", "frobnicate"); err == nil {
		t.Error("unknown operation accepted")
	}
}
