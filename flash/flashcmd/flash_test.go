package flashcmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
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

var updateInspectGolden = flag.Bool("update-inspect", false, "rewrite testdata/inspect and testdata/flash golden files")

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

func TestInspectGolden(t *testing.T) {
	img, _ := testImage(t)
	sh(t, "", "xz", "-k", img)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"raw.txt", []string{img}},
		{"raw.json", []string{img, "--json"}},
		{"xz.txt", []string{"--json=false", img + ".xz"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, _, err := runCmd(t, runInspect, "", tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			out = strings.ReplaceAll(out, filepath.Dir(img), "DIR")
			p := filepath.Join("testdata", "inspect", tc.golden)
			if *updateInspectGolden {
				os.WriteFile(p, []byte(out), 0o644)
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (-update-inspect rewrites it):\n%s", p, out)
			}
		})
	}
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

// TestFlashResultGolden pins the words of the final lines.
func TestFlashResultGolden(t *testing.T) {
	base := flash.Result{Target: "/dev/sdx", Written: 3 << 30, WriteTime: 95 * time.Second, VerifyTime: 41 * time.Second,
		XXH3: "0123456789abcdef0123456789abcdef"}
	for _, tc := range []struct {
		golden string
		edit   func(*flash.Result)
	}{
		{"verified.txt", func(r *flash.Result) { r.Verified = true }},
		{"verified-sha256.txt", func(r *flash.Result) {
			r.Verified, r.SHA256, r.Unmounted = true, strings.Repeat("ab", 32), []string{"/media/u/boot"}
		}},
		{"not-verified.txt", func(r *flash.Result) {}},
		{"sparse-skipped.txt", func(r *flash.Result) {
			r.Verified, r.Data, r.Zeroed, r.Skipped, r.Cleared = true, 1<<30, 2<<30, 4<<30, 3<<20
		}},
		{"bmap.txt", func(r *flash.Result) {
			r.Verified, r.Data, r.Skipped, r.Cleared, r.BlockMap = true, 3<<30, 1<<30, 0, "/img/x.img.bmap"
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := base
			tc.edit(&r)
			var b strings.Builder
			printResult(&b, &r)
			p := filepath.Join("testdata", "flash", tc.golden)
			if *updateInspectGolden {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (run with -update-inspect to create)", err)
			}
			if b.String() != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
			}
		})
	}
}

func TestFlashJSON(t *testing.T) {
	img, _ := testImage(t)
	out := filepath.Join(t.TempDir(), "out.img")
	stdout, _, err := runCmd(t, defaultSystem().runFlash, "", "--json", img, out, "--no-verify")
	if err != nil {
		t.Fatalf("flash: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var last helper.Event
	for _, l := range lines {
		var ev helper.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		last = ev
	}
	if last.Type != helper.EventResult || last.Result == nil || last.Result.Verified || len(last.Result.XXH3) != 32 || last.Result.SHA256 != "" {
		t.Fatalf("last event %+v, want an unverified result with an xxh3 and no sha256", last)
	}
	if len(lines) < 3 {
		t.Errorf("%d lines, want progress lines and a result", len(lines))
	}
	stdout, _, err = runCmd(t, defaultSystem().runFlash, "", "--json", "--sha256", img, out)
	if err != nil {
		t.Fatalf("flash --sha256: %v", err)
	}
	lines = strings.Split(strings.TrimSpace(stdout), "\n")
	var ev struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &ev); err != nil {
		t.Fatal(err)
	}
	if x, _ := ev.Result["xxh3"].(string); len(x) != 32 {
		t.Errorf("result %v has no xxh3", ev.Result)
	}
	if s, _ := ev.Result["sha256"].(string); len(s) != 64 || ev.Result["verified"] != true {
		t.Errorf("result %v has no sha256 or is not verified", ev.Result)
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
