package firstboot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BootImage makes an image file of size MiB with an MBR whose first
// partition (from 4 MiB) is FAT (fatBits 16 or 32) holding cmdline.txt.
// It returns the path and the mtools offset spec ("file@@4M").
func bootImage(t *testing.T, sizeMiB, fatBits int) (string, string) {
	t.Helper()
	for _, tool := range []string{"sfdisk", "mkfs.vfat", "mcopy"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, int64(sizeMiB)<<20); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	typ := "e"
	if fatBits == 32 {
		typ = "c"
	}
	run("label: dos\nstart=8192, type="+typ+"\n", "sfdisk", "-q", img)
	sectors := (sizeMiB - 4) << 11
	run("", "mkfs.vfat", "-F", itoa(fatBits), "-n", "BOOT", "--offset", "8192", img, itoa(sectors/2))
	cmdline := filepath.Join(dir, "cmdline.txt")
	if err := os.WriteFile(cmdline, []byte("console=serial0,115200 root=PARTUUID=abcd-02 rootwait quiet init=/sbin/x ds=nocloud;i=old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := img + "@@4M"
	run("", "mcopy", "-i", spec, cmdline, "::cmdline.txt")
	return img, spec
}

func itoa(n int) string { return fmtInt(n) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// mtype reads a file of the boot partition with mtools (an independent
// reader of what Apply wrote).
func mtype(t *testing.T, spec, name string) []byte {
	t.Helper()
	out, err := exec.Command("mtype", "-i", spec, "::"+name).Output()
	if err != nil {
		t.Fatalf("mtype %s: %v", name, err)
	}
	return out
}

func TestApplyImage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sizeMiB int
		bits    int
	}{{"fat16", 40, 16}, {"fat32", 100, 32}} {
		t.Run(tc.name, func(t *testing.T) {
			img, spec := bootImage(t, tc.sizeMiB, tc.bits)
			s := fullSettings()
			for _, fm := range []Format{CloudInit, RPiPreseed, Systemd} {
				p, err := Render(s, fm, RenderOptions{InstanceID: "pistudio-t"})
				if err != nil {
					t.Fatal(err)
				}
				res, err := ApplyPath(context.Background(), img, p)
				if err != nil {
					t.Fatalf("%s: %v", fm, err)
				}
				if res.Partition != 1 {
					t.Errorf("partition %d", res.Partition)
				}
				for _, f := range p.Files {
					if got := mtype(t, spec, f.Name); !bytes.Equal(got, f.Data) {
						t.Errorf("%s: mtools reads %s as\n%s\nwant\n%s", fm, f.Name, got, f.Data)
					}
				}
				cl := string(mtype(t, spec, "cmdline.txt"))
				if strings.Count(cl, "\n") != 1 || !strings.HasPrefix(cl, "console=serial0,115200 root=PARTUUID=abcd-02") {
					t.Errorf("%s: cmdline.txt = %q", fm, cl)
				}
				if fm == CloudInit && (!strings.Contains(cl, "ds=nocloud;i=pistudio-t") || strings.Contains(cl, "i=old")) {
					t.Errorf("cmdline.txt = %q", cl)
				}
			}
			fsck(t, img, 4<<20)
			// The second Apply replaced cmdline.txt with a shorter line
			// than the first would have kept: the file must not keep a tail.
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ReadFiles(f, "user-data", "rpi-preseed.toml", "firstrun.sh")
			if err != nil || len(got) != 3 {
				t.Fatalf("ReadFiles: %v", err)
			}
		})
	}
}

func TestApplyNoFAT(t *testing.T) {
	img := filepath.Join(t.TempDir(), "blank.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Render(Settings{Hostname: "a"}, CloudInit, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ApplyPath(context.Background(), img, p); err == nil {
		t.Fatal("applied to an image without a partition table")
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ReadFiles(f, "x"); err == nil {
		t.Error("read files from a blank image")
	}
	if _, err := ApplyPath(context.Background(), "/dev/null", p); err == nil {
		t.Error("ApplyPath took a device")
	}
	if _, err := ReadFiles(f); errors.Is(err, ErrNoBootPartition) {
		t.Log("no table, no partition")
	}
}

// fsck copies the partition at off out of img and checks it with
// fsck.vfat -n (no changes).
func fsck(t *testing.T, img string, off int64) {
	t.Helper()
	if _, err := exec.LookPath("fsck.vfat"); err != nil {
		t.Log("no fsck.vfat: file system not checked")
		return
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(t.TempDir(), "part.vfat")
	if err := os.WriteFile(part, b[off:], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("fsck.vfat", "-n", part).CombinedOutput(); err != nil {
		t.Errorf("fsck.vfat: %v\n%s", err, out)
	}
}
