package flashcmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/internal/cli"
)

func sh(t *testing.T, stdin, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// testImage builds a 12 MiB image: MBR, FAT32 "BOOT" at 1 MiB, an ext4
// "rootfs" at 5 MiB.
func testImage(t *testing.T) (string, []byte) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pi.img")
	if err := os.WriteFile(p, make([]byte, 12<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "label: dos\nlabel-id: 0x12345678\nstart=2048, size=8192, type=c\nstart=10240, type=83\n", "sfdisk", "--quiet", p)
	sh(t, "", "mkfs.vfat", "-F", "32", "-s", "1", "-n", "BOOT", "-i", "0BADCAFE", "--offset", "2048", p, "4096")
	sh(t, "", "mke2fs", "-q", "-F", "-t", "ext4", "-L", "rootfs", "-E", "offset=5242880", p, "7168k")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

func runCmd(t *testing.T, run func(context.Context, *cli.Env, []string) error, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	err := run(context.Background(), env, args)
	return out.String(), errb.String(), err
}

func TestInspectErrors(t *testing.T) {
	_, _, err := runCmd(t, runInspect, "", filepath.Join(t.TempDir(), "missing.img"))
	if cli.ExitCode(err) != 2 {
		t.Errorf("missing image: exit %d (%v), want 2", cli.ExitCode(err), err)
	}
	_, _, err = runCmd(t, runInspect, "")
	if cli.ExitCode(err) != 2 {
		t.Errorf("no argument: exit %d, want 2", cli.ExitCode(err))
	}
}

func TestFlashToFile(t *testing.T) {
	img, data := testImage(t)
	sh(t, "", "zstd", "-q", img)
	out := filepath.Join(t.TempDir(), "out.img")
	x := xxh3.Hash128(data).Bytes()
	sum := sha256.Sum256(data)
	for _, tc := range []struct {
		args    []string
		withSHA bool
	}{{nil, false}, {[]string{"--sha256"}, true}} {
		stdout, _, err := runCmd(t, defaultSystem().runFlash, "", append([]string{img + ".zst", out}, tc.args...)...)
		if err != nil {
			t.Fatalf("flash %v: %v", tc.args, err)
		}
		verified := fmt.Sprintf("Verified: every written byte read back matches (xxh3-128 %x)\n", x)
		shaLine := fmt.Sprintf("SHA-256 of the image: %x\n", sum)
		if !strings.Contains(stdout, verified) || strings.Contains(stdout, shaLine) != tc.withSHA || strings.Contains(stdout, "SHA-256") != tc.withSHA {
			t.Errorf("flash %v output:\n%s", tc.args, stdout)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
			t.Fatal("file differs from the image")
		}
	}
}

// TestFlashResultWords pins the words of the final lines.
func TestFlashResultWords(t *testing.T) {
	base := flash.Result{Target: "/dev/sdx", Written: 3 << 30, WriteTime: 95 * time.Second, VerifyTime: 41 * time.Second,
		XXH3: "0123456789abcdef0123456789abcdef"}
	for _, tc := range []struct {
		name string
		edit func(*flash.Result)
		want string
	}{
		{"verified", func(r *flash.Result) { r.Verified = true },
			"Wrote 3.0 GiB to /dev/sdx in 1m35s; verified in 41s.\n" +
				"Verified: every written byte read back matches (xxh3-128 0123456789abcdef0123456789abcdef)\n"},
		{"verified-sha256", func(r *flash.Result) {
			r.Verified, r.SHA256, r.Unmounted = true, strings.Repeat("ab", 32), []string{"/media/u/boot"}
		}, "Unmounted /media/u/boot\n" +
			"Wrote 3.0 GiB to /dev/sdx in 1m35s; verified in 41s.\n" +
			"Verified: every written byte read back matches (xxh3-128 0123456789abcdef0123456789abcdef)\n" +
			"SHA-256 of the image: abababababababababababababababababababababababababababababababab\n"},
		{"not-verified", func(r *flash.Result) {},
			"Wrote 3.0 GiB to /dev/sdx in 1m35s; not verified.\n" +
				"XXH3-128 of the image: 0123456789abcdef0123456789abcdef\n"},
		{"sparse-skipped", func(r *flash.Result) {
			r.Verified, r.Data, r.Zeroed, r.Skipped, r.Cleared = true, 1<<30, 2<<30, 4<<30, 3<<20
		}, "Wrote 3.0 GiB to /dev/sdx in 1m35s (1.0 GiB data, 2.0 GiB zeroed, 4.0 GiB skipped); verified in 41s.\n" +
			"Verified: every written byte read back matches (xxh3-128 0123456789abcdef0123456789abcdef)\n" +
			"Skipped 4.0 GiB that the image leaves unwritten: the disk's old data stays there, except 3.0 MiB cleared where old signatures would be found.\n"},
		{"bmap", func(r *flash.Result) {
			r.Verified, r.Data, r.Skipped, r.Cleared, r.BlockMap = true, 3<<30, 1<<30, 0, "/img/x.img.bmap"
		}, "Used the block map /img/x.img.bmap\n" +
			"Wrote 3.0 GiB to /dev/sdx in 1m35s (3.0 GiB data, 0 B zeroed, 1.0 GiB skipped); verified in 41s.\n" +
			"Verified: every written byte read back matches (xxh3-128 0123456789abcdef0123456789abcdef)\n" +
			"Skipped 1.0 GiB that the image leaves unwritten: the disk's old data stays there.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.edit(&r)
			var b strings.Builder
			printResult(&b, &r)
			if b.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
}

// fakeFlasher records what it was asked to write.
type fakeFlasher struct{ calls int }

func (f *fakeFlasher) Disks(context.Context) ([]disk.Disk, error) { return nil, nil }
func (f *fakeFlasher) Close() error                               { return nil }
func (f *fakeFlasher) Flash(ctx context.Context, image string, t flash.Target, o flash.Options) (*flash.Result, error) {
	f.calls++
	return &flash.Result{Target: t.Path, Verified: true}, nil
}

func TestFlashConfirmation(t *testing.T) {
	t.Parallel()
	img, _ := testImage(t)
	dev := fakeBlockNode(t)
	s := defaultSystem()
	for _, tc := range []struct {
		name   string
		large  bool
		answer string
		args   []string
		write  bool
	}{
		{"yes", false, "y\n", nil, true},
		{"no", false, "n\n", nil, false},
		{"eof", false, "", nil, false},
		{"large needs the name", true, "y\n", nil, false},
		{"large with the name", true, filepath.Base(dev) + "\n", nil, true},
		{"--yes", true, "", []string{"--yes"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ff := &fakeFlasher{}
			s.flash = flashDeps{
				checkPath: func(p string, _ ...string) (disk.Disk, error) {
					return disk.Disk{Name: filepath.Base(p), Path: p, SizeBytes: 200e9, Model: "Card", Bus: "usb",
						Eligible: true, NeedsTypedConfirm: tc.large, Major: 7, Minor: 0}, nil
				},
				newFlasher: func(context.Context, bool) (helper.Flasher, error) { return ff, nil },
			}
			stdout, _, err := runCmd(t, s.runFlash, tc.answer, append([]string{img, dev}, tc.args...)...)
			if tc.write != (ff.calls == 1) {
				t.Fatalf("wrote %d times, want write=%v (err %v)\n%s", ff.calls, tc.write, err, stdout)
			}
			if !tc.write && cli.ExitCode(err) != 1 {
				t.Errorf("exit %d, want 1", cli.ExitCode(err))
			}
			if !strings.Contains(stdout, "Card") || !strings.Contains(stdout, "200.0 GB") {
				t.Errorf("the prompt does not show the disk:\n%s", stdout)
			}
		})
	}
}

func TestFlashRefusesProtected(t *testing.T) {
	t.Parallel()
	img, _ := testImage(t)
	s := defaultSystem()
	ff := &fakeFlasher{}
	s.flash = flashDeps{
		checkPath: func(p string, _ ...string) (disk.Disk, error) {
			return disk.Disk{}, &disk.ProtectedError{Path: p, Reason: "holds / (the running system)"}
		},
		newFlasher: func(context.Context, bool) (helper.Flasher, error) { return ff, nil },
	}
	dev := fakeBlockNode(t)
	_, _, err := runCmd(t, s.runFlash, "y\n", img, dev, "--yes")
	if !errors.Is(err, disk.ErrProtected) || ff.calls != 0 {
		t.Fatalf("error %v, calls %d", err, ff.calls)
	}
}

func TestFlashLoopDevice(t *testing.T) {
	disktest.NeedRoot(t)
	img, data := testImage(t)
	backing := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(backing, make([]byte, 16<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := disktest.Attach(t, backing).Dev
	sh(t, "", "gzip", "-k", img)
	stdout, stderr, err := runCmd(t, defaultSystem().runFlash, "", img+".gz", dev, "--yes")
	if err != nil {
		t.Fatalf("flash: %v\n%s\n%s", err, stdout, stderr)
	}
	got, _ := os.ReadFile(backing)
	if !bytes.Equal(got[:len(data)], data) {
		t.Fatal("device differs from the image")
	}
}

// fakeBlockNode makes a block device node in a temporary directory for a
// device number no disk uses (loop minor 250); the fakes never open it.
func fakeBlockNode(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a device node")
	}
	p := filepath.Join(t.TempDir(), "sdz")
	if err := unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(7, 250))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	return p
}
