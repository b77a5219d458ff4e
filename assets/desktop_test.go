package assets

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	goldenfile "github.com/pistudio/pistudio/internal/golden"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

func TestDesktopEntryGolden(t *testing.T) {
	golden(t, AppID+".desktop", DesktopEntry("/usr/bin/pistudio"))
}

func TestMetainfoGolden(t *testing.T) {
	m := Metainfo("1.2.3", "2026-12-07")
	golden(t, AppID+".metainfo.xml", m)
	if err := xml.Unmarshal(m, new(struct{})); err != nil {
		t.Errorf("metainfo is not XML: %v", err)
	}
	if !bytes.Contains(Metainfo(`1<&"`, "d"), []byte(`version="1&lt;&amp;&quot;"`)) {
		t.Error("version not escaped")
	}
}

// One app ID everywhere: FyneApp.toml, the gui's app.NewWithID constant,
// the .desktop, metainfo, icon and polkit names.
func TestOneAppID(t *testing.T) {
	toml, err := os.ReadFile(filepath.Join("..", "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^ID = "` + regexp.QuoteMeta(AppID) + `"$`).Match(toml) {
		t.Errorf("FyneApp.toml does not use %s", AppID)
	}
	gui, err := os.ReadFile(filepath.Join("..", "gui", "gui.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(gui, []byte(`const AppID = "`+AppID+`"`)) {
		t.Errorf("gui.AppID is not %s", AppID)
	}
	if !bytes.Contains(DesktopEntry("x"), []byte("Icon="+AppID+"\n")) || !bytes.Contains(Metainfo("1", "2026-01-01"), []byte("<launchable type=\"desktop-id\">"+AppID+".desktop<")) {
		t.Error("desktop entry or metainfo use another ID")
	}
	var pol struct {
		Icon    string `xml:"icon_name"`
		Actions []struct {
			ID string `xml:"id,attr"`
		} `xml:"action"`
	}
	if err := xml.Unmarshal(PolkitPolicyFor("/opt/bin/pistudio"), &pol); err != nil {
		t.Fatal(err)
	}
	if pol.Icon != AppID || len(pol.Actions) != 1 || pol.Actions[0].ID != PolkitActionID || !strings.HasPrefix(PolkitActionID, AppID+".") {
		t.Errorf("policy %+v", pol)
	}
	if !bytes.Contains(PolkitPolicyFor("/opt/bin/pistudio"), []byte(">/opt/bin/pistudio<")) {
		t.Error("PolkitPolicyFor kept /usr/bin/pistudio")
	}
}

func TestIconPNGSizes(t *testing.T) {
	for _, s := range IconSizes {
		b, err := IconPNG(s)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != s || img.Bounds().Dy() != s {
			t.Errorf("icon %d is %v", s, img.Bounds())
		}
	}
	if _, err := IconPNG(0); err == nil {
		t.Error("size 0 accepted")
	}
}

// The laid-out tree holds every file the package needs, and the metainfo
// passes appstreamcli when it is installed.
func TestWriteDesktopFiles(t *testing.T) {
	root := t.TempDir()
	if err := WriteDesktopFiles(root, "/usr", "0.1.0", "2026-12-07"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"usr/share/applications/" + AppID + ".desktop",
		"usr/share/metainfo/" + AppID + ".metainfo.xml",
		"usr/share/icons/hicolor/scalable/apps/" + AppID + ".svg",
		"usr/share/icons/hicolor/16x16/apps/" + AppID + ".png",
		"usr/share/icons/hicolor/512x512/apps/" + AppID + ".png",
		"usr/share/polkit-1/actions/" + AppID + ".policy",
	}
	for _, p := range want {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
	validators := [][]string{
		{"appstreamcli", "validate", "--no-net", filepath.Join(root, want[1])},
		{"desktop-file-validate", filepath.Join(root, want[0])},
	}
	for _, v := range validators {
		if _, err := exec.LookPath(v[0]); err != nil {
			t.Logf("%s not installed: not run", v[0])
			continue
		}
		out, err := exec.Command(v[0], v[1:]...).CombinedOutput()
		if err != nil || strings.Contains(string(out), "error:") {
			t.Errorf("%s: %v\n%s", v[0], err, out)
		}
	}
}

// The raid layer leaves the initramfs to the tool's own hook, which runs
// after the layer's customize hooks: one build instead of three.
func TestRaidLayerBuildsInitramfsOnce(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("layers", "image", "raid", "image.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := string(b[bytes.Index(b, []byte("\n---\n")):])
	if strings.Contains(body, "update-initramfs -u") || strings.Contains(body, "chroot $1 update-initramfs") {
		t.Error("the raid layer runs update-initramfs itself")
	}
	if !regexp.MustCompile(`(?m)^env:\n  INITRD: "No"$`).MatchString(body) {
		t.Error("the raid layer does not keep the kernel postinst from building an initramfs (env INITRD: \"No\")")
	}
}
