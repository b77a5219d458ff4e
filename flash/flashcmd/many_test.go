package flashcmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/internal/manifest"
)

// setImage makes the test image part of an image set whose image.json
// says it reads cloud-init.
func setImage(t *testing.T) (string, []byte) {
	t.Helper()
	img, _ := testImage(t)
	// mtools refuses a FAT32 this small: go-diskfs writes cmdline.txt.
	p := &firstboot.Payload{Files: []firstboot.File{{Name: "cmdline.txt", Data: []byte("console=serial0,115200 root=PARTUUID=12345678-02 rootwait\n")}}}
	if _, err := firstboot.ApplyPath(context.Background(), img, p); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	js := `{"layout":"image-rpios","firstboot":"cloudinit","artifacts":[{"file":"pi.img"}]}`
	if err := os.WriteFile(filepath.Join(filepath.Dir(img), "image.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return img, data
}

func secretFile(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// bootFiles reads files of the FAT boot partition of a disk image file.
func bootFiles(t *testing.T, path string, names ...string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := firstboot.ReadFiles(f, names...)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return got
}

// TestFlashManyLoopSettings flashes one image to two loop devices with
// --hostname 'pi-{n}' and reads each card's boot files back, with
// go-diskfs and with mtools.
func TestFlashManyLoopSettings(t *testing.T) {
	disktest.NeedRoot(t, "sfdisk", "mkfs.vfat", "mke2fs")
	img, data := setImage(t)
	var backs, devs []string
	for range 2 {
		b := filepath.Join(t.TempDir(), "card")
		if err := os.WriteFile(b, make([]byte, 16<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		backs = append(backs, b)
		devs = append(devs, disktest.Attach(t, b).Dev)
	}
	pw := secretFile(t, "Plain-Password-1\n")
	psk := secretFile(t, "wifi-passphrase\n")
	args := append([]string{img}, devs...)
	args = append(args, "--yes", "--hostname", "pi-{n}", "--first", "1", "--user", "alice", "--password-file", pw,
		"--wifi-ssid", `Home "net"`, "--wifi-psk-file", psk, "--wifi-country", "gb", "--timezone", "Europe/London")
	stdout, stderr, err := runCmd(t, defaultSystem().runFlash, "", args...)
	if err != nil {
		t.Fatalf("flash: %v\n%s\n%s", err, stdout, stderr)
	}
	for i, b := range backs {
		card, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		// Outside the boot partition the card is the image.
		if !bytes.Equal(card[5<<20:len(data)], data[5<<20:]) {
			t.Errorf("card %d: the root partition differs from the image", i+1)
		}
		got := bootFiles(t, b, "user-data", "meta-data", "network-config", "cmdline.txt")
		host := "pi-" + string(rune('1'+i))
		if !bytes.Contains(got["user-data"], []byte(`hostname: "`+host+`"`)) {
			t.Errorf("card %d user-data:\n%s", i+1, got["user-data"])
		}
		for name, content := range got {
			if bytes.Contains(content, []byte("Plain-Password-1")) || bytes.Contains(content, []byte("wifi-passphrase")) {
				t.Errorf("card %d %s holds a plain-text secret", i+1, name)
			}
		}
		if !bytes.HasPrefix(got["cmdline.txt"], []byte("console=serial0,115200 root=PARTUUID=12345678-02 rootwait ds=nocloud;i=pistudio-")) ||
			!bytes.HasSuffix(got["cmdline.txt"], []byte(" cfg80211.ieee80211_regdom=GB\n")) {
			t.Errorf("card %d cmdline.txt: %q", i+1, got["cmdline.txt"])
		}
		if !bytes.Contains(got["network-config"], []byte(`"Home \"net\"":`)) {
			t.Errorf("card %d network-config:\n%s", i+1, got["network-config"])
		}
		fsck(t, card[1<<20:5<<20])
	}
	if !strings.Contains(stdout, "Settings (cloudinit) written to "+devs[1]) {
		t.Errorf("output:\n%s", stdout)
	}
}

// TestFlashManySameMedium refuses a loop device together with its
// backing file, and two loop devices over one file, before writing.
func TestFlashManySameMedium(t *testing.T) {
	disktest.NeedRoot(t, "sfdisk", "mkfs.vfat", "mke2fs")
	img, _ := testImage(t)
	b := filepath.Join(t.TempDir(), "card")
	if err := os.WriteFile(b, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	d1 := disktest.Attach(t, b).Dev
	d2 := disktest.Attach(t, b).Dev
	for _, pair := range [][]string{{d1, b}, {d1, d2}, {b, b}} {
		_, _, err := runCmd(t, defaultSystem().runFlash, "", img, pair[0], pair[1], "--yes")
		if !errors.Is(err, flash.ErrSameMedium) {
			t.Errorf("%v: %v, want ErrSameMedium", pair, err)
		}
	}
	if card, _ := os.ReadFile(b); !bytes.Equal(card, make([]byte, 16<<20)) {
		t.Error("a refused flash wrote to the card")
	}
}

// TestFlashSettingsToFiles writes settings into two file targets from a
// table, and refuses an image without a reader.
func TestFlashSettingsToFiles(t *testing.T) {
	img, _ := setImage(t)
	dir := t.TempDir()
	table := filepath.Join(dir, "cards.csv")
	if err := os.WriteFile(table, []byte("hostname,timezone\nkitchen,Europe/Paris\nhall,UTC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	if _, _, err := runCmd(t, defaultSystem().runFlash, "", img, a, b, "--table", table, "--format", "rpi-preseed"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{a: `hostname = "kitchen"`, b: `timezone = "UTC"`} {
		got := bootFiles(t, path, "rpi-preseed.toml")["rpi-preseed.toml"]
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("%s: rpi-preseed.toml lacks %s:\n%s", path, want, got)
		}
	}
	plain, _ := testImage(t)
	_, _, err := runCmd(t, defaultSystem().runFlash, "", plain, filepath.Join(dir, "c.img"), "--hostname", "x")
	if !errors.Is(err, errNoReader) {
		t.Errorf("an image without a reader: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.img")); !os.IsNotExist(err) {
		t.Error("a refused flash created its target")
	}
}

// fsck checks a FAT file system image with fsck.vfat -n.
func fsck(t *testing.T, part []byte) {
	t.Helper()
	if _, err := exec.LookPath("fsck.vfat"); err != nil {
		return
	}
	p := filepath.Join(t.TempDir(), "boot.vfat")
	if err := os.WriteFile(p, part, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("fsck.vfat", "-n", p).CombinedOutput(); err != nil {
		t.Errorf("fsck.vfat: %v\n%s", err, out)
	}
}

func TestInspectShowsReader(t *testing.T) {
	img, _ := setImage(t)
	out, _, err := runCmd(t, runInspect, "", img)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Settings: cloudinit, read at first boot (cloud-init (NoCloud); from "+filepath.Join(filepath.Dir(img), "image.json")+")") {
		t.Errorf("inspect:\n%s", out)
	}
}

// settingsSet is provisionSet whose SD card image has a FAT boot
// partition and whose image.json names the cloud-init reader.
func settingsSet(t *testing.T, n int) string {
	t.Helper()
	set := provisionSet(t, n)
	_, data := testImage(t)
	if err := os.WriteFile(filepath.Join(set, "sdcard.img"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Read(set)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	for i := range m.Artifacts {
		if m.Artifacts[i].File == "sdcard.img" {
			m.Artifacts[i].Size, m.Artifacts[i].SHA256 = int64(len(data)), hex.EncodeToString(h[:])
		}
	}
	m.Firstboot = "cloudinit"
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(set, manifest.File), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return set
}

// TestProvisionSettings writes a RAID set to files with --hostname and
// finds the settings on the SD card's boot partition only.
func TestProvisionSettings(t *testing.T) {
	s := fakeProvisionDeps(t, nil)
	set := settingsSet(t, 2)
	out := t.TempDir()
	sd, e1, e2 := filepath.Join(out, "sd.bin"), filepath.Join(out, "e1.bin"), filepath.Join(out, "e2.bin")
	if _, stderr, err := runCmd(t, s.runProvision, "", set, "--allow-files", "--sd", sd, "--external", e1+","+e2, "--yes", "--hostname", "raid-pi", "--timezone", "UTC"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	got := bootFiles(t, sd, "user-data")["user-data"]
	if !bytes.Contains(got, []byte(`hostname: "raid-pi"`)) {
		t.Errorf("sd user-data:\n%s", got)
	}
	if e, _ := os.ReadFile(e1); len(e) == 0 || bytes.Contains(e, []byte("raid-pi")) {
		t.Error("external1 got the settings")
	}
}
