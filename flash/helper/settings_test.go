package helper

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/firstboot"
)

// fatImage is an image file with an MBR and a FAT16 first partition.
func fatImage(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"sfdisk", "mkfs.vfat"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	p := filepath.Join(t.TempDir(), "card.img")
	if err := os.WriteFile(p, make([]byte, 40<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"sfdisk", "-q", p}, {"mkfs.vfat", "-F", "16", "--offset", "8192", p, "18432"}} {
		cmd := exec.Command(c[0], c[1:]...)
		if c[0] == "sfdisk" {
			cmd.Stdin = bytes.NewReader([]byte("label: dos\nstart=8192, type=e\n"))
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	return p
}

// TestSettingsThroughHelper writes first-boot files through the helper
// protocol and reads them back; a payload naming another file is refused.
func TestSettingsThroughHelper(t *testing.T) {
	img := fatImage(t)
	c := pair(t, ServeOptions{UID: -1, AllowFiles: true})
	p, err := firstboot.Render(firstboot.Settings{Hostname: "pi-7"}, firstboot.CloudInit, firstboot.RenderOptions{InstanceID: "i"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ApplySettings(context.Background(), flash.Target{Path: img}, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Partition != 1 || len(res.Files) != 2 {
		t.Errorf("applied %+v", res)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := firstboot.ReadFiles(f, "user-data")
	if err != nil || !bytes.Equal(got["user-data"], p.Files[0].Data) {
		t.Errorf("user-data read back: %v", err)
	}
	bad := &firstboot.Payload{Files: []firstboot.File{{Name: "config.txt", Data: []byte("x")}}}
	if _, err := c.ApplySettings(context.Background(), flash.Target{Path: img}, bad); !errors.Is(err, ErrRequest) {
		t.Errorf("a payload writing config.txt: %v, want ErrRequest", err)
	}
	if _, err := c.ApplySettings(context.Background(), flash.Target{Path: "/etc/passwd"}, p); err == nil {
		t.Error("wrote settings to a path outside /dev")
	}
}
