//go:build linux

package helper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/source"
)

const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// openDir returns a new directory every user may search.
func openDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func write(t *testing.T, p string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAsUser: the kernel decides with the user's credentials: a
// world-readable file in a directory the user may not search is refused,
// a readable one is opened, and the credentials of the rest of the
// process are untouched.
func TestOpenAsUser(t *testing.T) {
	needRoot(t)
	pub := openDir(t)
	priv := filepath.Join(pub, "private")
	os.Mkdir(priv, 0o700)
	write(t, filepath.Join(priv, "in.img"), []byte("x"), 0o644)
	write(t, filepath.Join(pub, "ok.img"), []byte("ok"), 0o644)
	write(t, filepath.Join(pub, "root.img"), []byte("root"), 0o600)
	os.Symlink(filepath.Join(pub, "root.img"), filepath.Join(pub, "link.img"))
	os.Symlink(filepath.Join(pub, "ok.img"), filepath.Join(pub, "goodlink.img"))
	c := creds{uid: nobody, gid: nobody}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"private/in.img", false},
		{"root.img", false},
		{"link.img", false},
		{"ok.img", true},
		{"goodlink.img", true},
	} {
		f, err := openAsUser(filepath.Join(pub, tc.name), c)
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err == nil {
			f.Close()
		} else if !tc.ok && !strings.Contains(err.Error(), "may not read") {
			t.Errorf("%s: %v, want a permission refusal", tc.name, err)
		}
	}
	if uid, _ := unix.SetfsuidRetUid(-1); uid != 0 {
		t.Fatalf("fsuid of this thread is %d", uid)
	}
	// Root can still read what the user could not.
	if _, err := os.ReadFile(filepath.Join(priv, "in.img")); err != nil {
		t.Fatalf("the process lost its credentials: %v", err)
	}
}

// TestHelperOpensImageAsUser: through the helper, the image, a .bmap
// and the image beside it are all opened as the calling user.
func TestHelperOpensImageAsUser(t *testing.T) {
	needRoot(t)
	pub := openDir(t)
	priv := filepath.Join(pub, "private")
	os.Mkdir(priv, 0o700)
	data := bytes.Repeat([]byte("pistudio"), 8192)
	write(t, filepath.Join(priv, "hidden.img"), data, 0o644)
	write(t, filepath.Join(pub, "ok.img"), data, 0o644)
	// A readable map beside an image only root may read.
	write(t, filepath.Join(pub, "secret.img"), data, 0o600)
	write(t, filepath.Join(pub, "other.img"), data, 0o644)
	if out, err := exec.Command("bmaptool", "create", "-o", filepath.Join(pub, "secret.img.bmap"), filepath.Join(pub, "other.img")).CombinedOutput(); err != nil {
		t.Fatalf("bmaptool: %v %s", err, out)
	}
	os.Chmod(filepath.Join(pub, "secret.img.bmap"), 0o644)
	out := filepath.Join(t.TempDir(), "out.img")
	c := pair(t, ServeOptions{UID: nobody, AllowFiles: true})
	for _, img := range []string{filepath.Join(priv, "hidden.img"), filepath.Join(pub, "secret.img.bmap")} {
		os.WriteFile(out, nil, 0o644)
		_, err := c.Flash(context.Background(), img, flash.Target{Path: out}, flash.Options{})
		if !errors.Is(err, ErrRequest) {
			t.Errorf("%s: %v, want a refused request", img, err)
		}
		if b, _ := os.ReadFile(out); len(b) != 0 {
			t.Errorf("%s: the image was written", img)
		}
	}
	res, err := c.Flash(context.Background(), filepath.Join(pub, "ok.img"), flash.Target{Path: out}, flash.Options{})
	if err != nil || !res.Verified {
		t.Fatalf("readable image: %v", err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
		t.Fatal("output differs")
	}
}

// TestCheckDeviceResolves: the helper writes the resolved node under /dev
// and tells the writer it must be a device; a link outside /dev, or one in
// /dev that leads out of it, is refused.
func TestCheckDeviceResolves(t *testing.T) {
	needRoot(t)
	backing := filepath.Join(t.TempDir(), "disk")
	os.WriteFile(backing, make([]byte, 4<<20), 0o644)
	dev := disktest.Attach(t, backing).Dev
	dir := devShmDir(t)
	link := filepath.Join(dir, "disk-link")
	os.Symlink(dev, link)
	fileLink := filepath.Join(dir, "file-link")
	os.Symlink(backing, fileLink)
	outside := filepath.Join(t.TempDir(), "disk-link")
	os.Symlink(dev, outside)
	img, _ := image(t, 4096)

	var got []flash.Target
	c := pair(t, ServeOptions{UID: -1, write: func(_ context.Context, _ source.Source, tgt flash.Target, _ flash.Options) (*flash.Result, error) {
		got = append(got, tgt)
		return &flash.Result{}, nil
	}})
	d, err := disk.CheckPath(dev)
	if err != nil {
		t.Fatalf("CheckPath(%s): %v", dev, err)
	}
	id := d.Identity()
	if _, err := c.Flash(context.Background(), img, flash.Target{Path: link, Identity: id}, flash.Options{}); err != nil {
		t.Fatalf("Flash through a link to %s: %v", dev, err)
	}
	if len(got) != 1 || got[0].Path != dev || !got[0].RequireDevice {
		t.Fatalf("the writer got %+v, want %s as a required device", got, dev)
	}
	for _, tc := range []struct {
		target flash.Target
		msg    string
	}{
		{flash.Target{Path: fileLink, Identity: id}, "not a block device in /dev"},
		{flash.Target{Path: outside, Identity: id}, "not a block device in /dev"},
		{flash.Target{Path: dev}, "no identity"},
	} {
		_, err := c.Flash(context.Background(), img, tc.target, flash.Options{})
		if !errors.Is(err, ErrRequest) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want a refusal mentioning %q", tc.target.Path, err, tc.msg)
		}
	}
	if len(got) != 1 {
		t.Errorf("refused requests reached the writer: %+v", got)
	}
}

// TestHelperDecodesAsUser: the xz and zstd programs that decode a user's
// image run with the user's ids, not root's, and still decode it.
func TestHelperDecodesAsUser(t *testing.T) {
	needRoot(t)
	pub := openDir(t)
	data := bytes.Repeat([]byte("decode as the user "), 40000)
	raw := filepath.Join(pub, "d.img")
	write(t, raw, data, 0o644)
	for _, tool := range [][]string{{"xz", "-k", raw}, {"zstd", "-q", "-k", raw}} {
		if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", tool[0], err, out)
		}
	}
	s := &server{opts: ServeOptions{UID: nobody}}
	files, err := s.openImage(raw + ".xz")
	if err != nil {
		t.Fatal(err)
	}
	files.Close()
	cmd := exec.Command("true")
	if files.Decoder == nil {
		t.Fatal("no decoder adjustment for a user's image")
	}
	files.Decoder(cmd)
	if cr := cmd.SysProcAttr.Credential; cr == nil || cr.Uid != nobody {
		t.Fatalf("decoder credential %+v, want uid %d", cr, nobody)
	}
	c := pair(t, ServeOptions{UID: nobody, AllowFiles: true})
	for _, img := range []string{raw + ".xz", raw + ".zst"} {
		out := filepath.Join(t.TempDir(), "out.img")
		os.WriteFile(out, nil, 0o644)
		res, err := c.Flash(context.Background(), img, flash.Target{Path: out}, flash.Options{})
		if err != nil || !res.Verified {
			t.Fatalf("%s: %v", img, err)
		}
		if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
			t.Errorf("%s: output differs", img)
		}
	}
}

// devShmDir makes a directory in /dev/shm (removed at cleanup), where
// tests may put links that lie under /dev.
func devShmDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "pistudio-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestDevicePathLeaksNothing: every device path outside /dev, or leading
// out of it through a link, gets the same answer, whether what it names
// exists or not, so the helper tells nothing about root-only paths.
func TestDevicePathLeaksNothing(t *testing.T) {
	img, _ := image(t, 4096)
	secret := filepath.Join(t.TempDir(), "secret")
	os.Mkdir(secret, 0o700)
	os.Symlink("/dev/null", filepath.Join(secret, "to-null"))
	shm := devShmDir(t)
	for name, target := range map[string]string{"existing": filepath.Join(secret, "to-null"), "missing": filepath.Join(secret, "nothing")} {
		os.Symlink(target, filepath.Join(shm, name))
	}
	c := pair(t, ServeOptions{UID: -1})
	id := disk.Identity{Major: 1, Minor: 3}
	for _, p := range []string{
		filepath.Join(secret, "to-null"), filepath.Join(secret, "nothing"),
		filepath.Join(shm, "existing"), filepath.Join(shm, "missing"),
		"/dev/../" + secret[1:] + "/to-null", "relative/path", "/dev/fd/0",
	} {
		_, err := c.Flash(context.Background(), img, flash.Target{Path: p, Identity: id}, flash.Options{})
		want := fmt.Sprintf("bad helper request: device %q is not a block device in /dev", p)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", p, err, want)
		}
	}
}

// TestLoopOfAnotherUser: through the helper, a loop device is listed as
// eligible and written only when its backing file belongs to the user the
// helper acts for, or when the user allows it (AllowLoop).
func TestLoopOfAnotherUser(t *testing.T) {
	needRoot(t)
	pub := openDir(t)
	img := filepath.Join(pub, "img")
	write(t, img, bytes.Repeat([]byte{7}, 4096), 0o644)
	backing := filepath.Join(pub, "root.disk")
	write(t, backing, make([]byte, 4<<20), 0o644) // root's
	dev := disktest.Attach(t, backing).Dev
	d, err := disk.CheckPath(dev)
	if err != nil {
		t.Fatal(err)
	}
	listed := func(c *Client) disk.Disk {
		t.Helper()
		disks, err := c.Disks(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range disks {
			if x.Path == dev {
				return x
			}
		}
		t.Fatalf("%s not listed", dev)
		return disk.Disk{}
	}
	wrote := 0
	fake := func(context.Context, source.Source, flash.Target, flash.Options) (*flash.Result, error) {
		wrote++
		return &flash.Result{}, nil
	}
	for _, tc := range []struct {
		name      string
		uid       int
		owner     int
		allowLoop bool
		eligible  bool
	}{
		{"root's file, for a user", nobody, 0, false, false},
		{"root's file, --allow-loop", nobody, 0, true, true},
		{"the user's own file", nobody, nobody, false, true},
		{"root's file, for root", 0, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chown(backing, tc.owner, tc.owner); err != nil {
				t.Fatal(err)
			}
			c := pair(t, ServeOptions{UID: tc.uid, write: fake})
			c.AllowLoop = tc.allowLoop
			got := listed(c)
			if got.Eligible != tc.eligible || (!tc.eligible && !strings.Contains(got.Reason, "another user (uid 0)")) {
				t.Errorf("listed eligible=%v reason=%q, want %v", got.Eligible, got.Reason, tc.eligible)
			}
			before := wrote
			_, err := c.Flash(context.Background(), img, flash.Target{Path: dev, Identity: d.Identity()}, flash.Options{})
			if tc.eligible && (err != nil || wrote != before+1) {
				t.Errorf("Flash = %v, want written", err)
			}
			if !tc.eligible && (!errors.Is(err, disk.ErrProtected) || wrote != before) {
				t.Errorf("Flash = %v, want ErrProtected and nothing written", err)
			}
		})
	}
}

// TestHelperOneMediumAtOnce: while a loop device is being written, a
// write to another loop device on the same file is refused.
func TestHelperOneMediumAtOnce(t *testing.T) {
	needRoot(t)
	img, _ := image(t, 4096)
	backing := filepath.Join(t.TempDir(), "one.disk")
	write(t, backing, make([]byte, 4<<20), 0o644)
	link := filepath.Join(t.TempDir(), "link.disk")
	if err := os.Link(backing, link); err != nil {
		t.Fatal(err)
	}
	a, b := disktest.Attach(t, backing).Dev, disktest.Attach(t, link).Dev
	release, started := make(chan struct{}), make(chan struct{}, 2)
	c := pair(t, ServeOptions{UID: -1, write: func(_ context.Context, _ source.Source, tgt flash.Target, _ flash.Options) (*flash.Result, error) {
		if tgt.Path == a {
			started <- struct{}{}
			<-release // the first write runs until the second is answered
		}
		return &flash.Result{}, nil
	}})
	ids := map[string]disk.Identity{}
	for _, dev := range []string{a, b} {
		d, err := disk.CheckPath(dev)
		if err != nil {
			t.Fatal(err)
		}
		ids[dev] = d.Identity()
	}
	first := make(chan error, 1)
	go func() {
		_, err := c.Flash(context.Background(), img, flash.Target{Path: a, Identity: ids[a]}, flash.Options{})
		first <- err
	}()
	<-started
	_, err := c.Flash(context.Background(), img, flash.Target{Path: b, Identity: ids[b]}, flash.Options{})
	close(release)
	var sm *disk.SameMediumError
	if !errors.As(err, &sm) || sm.A != a || sm.B != b {
		t.Errorf("second write: %v, want a refusal naming %s and %s as one medium", err, a, b)
	}
	if err := <-first; err != nil {
		t.Errorf("first write: %v", err)
	}
}
