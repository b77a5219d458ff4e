package disk

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/disk/disktest"
)

// sparseFile makes a file of size bytes in a test directory.
func sparseFile(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// mountT mounts and unmounts at cleanup.
func mountT(t *testing.T, source, target, fstype, data string) {
	t.Helper()
	if err := unix.Mount(source, target, fstype, 0, data); err != nil {
		t.Fatalf("mount %s on %s: %v", source, target, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("umount %s: %v", target, err)
		}
	})
}

// scanFor scans the running system and returns the disk named like the
// loop device dev.
func scanFor(t *testing.T, dev string) Disk {
	t.Helper()
	disks, err := Scan(ScanOptions{NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range disks {
		if d.Path == dev {
			return d
		}
	}
	t.Fatalf("%s not in the scan", dev)
	return Disk{}
}

// TestStackedLoopThroughDeletedNode: loop U attached to a node for loop L
// that was deleted afterwards, with U's partition mounted: L is stacked
// under a mounted filesystem and must be protected. Its loop/backing_file
// names a path that no longer exists; only the kernel's numbers tell.
func TestStackedLoopThroughDeletedNode(t *testing.T) {
	disktest.NeedRoot(t, "sfdisk", "mke2fs", "partx")
	img := sparseFile(t, 64<<20)
	cmd := exec.Command("sfdisk", "-q", img)
	cmd.Stdin = strings.NewReader("label: dos\nstart=2048, size=16384\nstart=20480, type=83\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	run(t, "mke2fs", "-q", "-F", "-t", "ext4", "-E", fmt.Sprintf("offset=%d", 20480*512), img, fmt.Sprint((64<<20-20480*512)/1024))
	l := disktest.Attach(t, img)
	var st unix.Stat_t
	if err := unix.Stat(l.Dev, &st); err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(t.TempDir(), "node")
	if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(st.Rdev)); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	u := disktest.Attach(t, node)
	if err := os.Remove(node); err != nil {
		t.Fatal(err)
	}
	run(t, "partx", "-a", u.Dev)
	// Partitions added by partx stay after a detach: remove them.
	t.Cleanup(func() { exec.Command("partx", "-d", u.Dev).Run() })
	mnt := t.TempDir()
	mountT(t, u.Dev+"p2", mnt, "ext4", "")

	d := scanFor(t, l.Dev)
	un := strings.TrimPrefix(u.Dev, "/dev/")
	if d.Eligible || !strings.Contains(d.Reason, "in use by "+un) {
		t.Errorf("%s under mounted %sp2: eligible=%v reason=%q, want protected, in use by %s", l.Dev, u.Dev, d.Eligible, d.Reason, un)
	}
	if _, err := CheckPath(l.Dev); !errors.Is(err, ErrProtected) {
		t.Errorf("CheckPath(%s) = %v, want ErrProtected", l.Dev, err)
	}
	if _, err := Guard("/", l.Dev, d.Identity(), nil); !errors.Is(err, ErrProtected) {
		t.Errorf("Guard(%s) = %v, want ErrProtected", l.Dev, err)
	}
	ud := scanFor(t, u.Dev)
	if ud.Loop == nil || !ud.Loop.IsBlock() || ud.Loop.RdevMajor != unix.Major(st.Rdev) || ud.Loop.RdevMinor != unix.Minor(st.Rdev) {
		t.Errorf("%s: Loop = %+v, want backed by %d:%d", u.Dev, ud.Loop, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if ud.Eligible || !strings.Contains(ud.Reason, "backed by block device "+l.Dev) {
		t.Errorf("%s: eligible=%v reason=%q, want backed by block device %s", u.Dev, ud.Eligible, ud.Reason, l.Dev)
	}
}

// TestUnresolvedLoopProtects: a loop device whose backing cannot be read
// protects every disk it could sit on (not smaller than it), with a
// reason, and itself.
func TestUnresolvedLoopProtects(t *testing.T) {
	tr := disktest.New(t)
	tr.AddDisk(disktest.USBStick("sdb", 16, disktest.USBParent))
	tr.AddDisk(disktest.Disk{Name: "loop0", Major: 7, Minor: 0, Sectors: 20e9 / 512, Files: map[string]string{"loop/backing_file": "/x (deleted)"}})
	tr.AddDisk(disktest.Disk{Name: "loop1", Major: 7, Minor: 1, Sectors: 1e9 / 512, Files: map[string]string{"loop/backing_file": "/y (deleted)"}})
	s, err := newScanner(ScanOptions{Root: tr.Root, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	s.unresolved["loop0"] = "permission denied"
	disks, err := s.scan()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		eligible bool
		reason   string
	}{
		{"sdb", false, "loop device loop0 may be stacked on it"},
		{"loop0", false, "what it is attached to cannot be read (permission denied)"},
		{"loop1", true, ""}, // 1 GB: a 20 GB loop device cannot sit on it
	} {
		var d *Disk
		for i := range disks {
			if disks[i].Name == tc.name {
				d = &disks[i]
			}
		}
		if d == nil {
			t.Errorf("%s not found", tc.name)
			continue
		}
		if d.Eligible != tc.eligible || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s: eligible=%v reason=%q, want %v %q", tc.name, d.Eligible, d.Reason, tc.eligible, tc.reason)
		}
	}
}

// ext4Loop attaches a loop device to a fresh ext4 image.
func ext4Loop(t *testing.T) *disktest.Loop {
	t.Helper()
	img := sparseFile(t, 32<<20)
	run(t, "mke2fs", "-q", "-F", "-t", "ext4", img)
	return disktest.Attach(t, img)
}

// TestBusyElsewhere: disks the kernel holds busy with nothing in this
// mount namespace to show for it are protected, as the writer's exclusive
// open would find them.
func TestBusyElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tools []string
		setup func(t *testing.T) string // returns the device that must be protected
	}{
		{"other mount namespace", []string{"mke2fs", "unshare", "mount"}, func(t *testing.T) string {
			l := ext4Loop(t)
			mountInNamespace(t, l.Dev, t.TempDir())
			return l.Dev
		}},
		{"overlay lower layer", []string{"mke2fs"}, func(t *testing.T) string {
			needFS(t, "overlay")
			l := ext4Loop(t)
			dir := t.TempDir()
			lower, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
			for _, d := range []string{lower, upper, work, merged} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			mountT(t, l.Dev, lower, "ext4", "")
			mountT(t, "overlay", merged, "overlay", "lowerdir="+lower+",upperdir="+upper+",workdir="+work)
			// Lazily unmounted: the overlay keeps the filesystem alive.
			if err := unix.Unmount(lower, unix.MNT_DETACH); err != nil {
				t.Fatal(err)
			}
			return l.Dev
		}},
		{"second btrfs RAID1 member", []string{"mkfs.btrfs"}, func(t *testing.T) string {
			needFS(t, "btrfs")
			a := disktest.Attach(t, sparseFile(t, 256<<20))
			b := disktest.Attach(t, sparseFile(t, 256<<20))
			run(t, "mkfs.btrfs", "-q", "-f", "-d", "raid1", "-m", "raid1", a.Dev, b.Dev)
			mountT(t, a.Dev, t.TempDir(), "btrfs", "device="+b.Dev)
			return b.Dev
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			disktest.NeedRoot(t, tc.tools...)
			dev := tc.setup(t)
			d := scanFor(t, dev)
			if d.Eligible || !strings.Contains(d.Reason, "in use by the system") {
				t.Errorf("%s: eligible=%v reason=%q, want in use by the system", dev, d.Eligible, d.Reason)
			}
			if _, err := CheckPath(dev); !errors.Is(err, ErrProtected) {
				t.Errorf("CheckPath(%s) = %v, want ErrProtected", dev, err)
			}
		})
	}
	t.Run("mounted here stays eligible", func(t *testing.T) {
		// Busy for a reason the user sees: the writer may unmount it
		// (--allow-unmount), so the probe leaves it alone.
		disktest.NeedRoot(t, "mke2fs")
		l := ext4Loop(t)
		mountT(t, l.Dev, t.TempDir(), "ext4", "")
		if d := scanFor(t, l.Dev); !d.Eligible {
			t.Errorf("%s: protected (%s), want eligible", l.Dev, d.Reason)
		}
	})
	t.Run("idle loop stays eligible", func(t *testing.T) {
		disktest.NeedRoot(t, "mke2fs")
		l := ext4Loop(t)
		if d := scanFor(t, l.Dev); !d.Eligible {
			t.Errorf("%s: protected (%s), want eligible", l.Dev, d.Reason)
		}
	})
}

// mountInNamespace mounts dev at dir in a new mount namespace held by a
// sleeping process, which is ended at cleanup.
func mountInNamespace(t *testing.T, dev, dir string) {
	t.Helper()
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount "$1" "$2" && echo mounted && exec sleep 600`, "sh", dev, dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "mounted" {
		t.Fatalf("mounting %s in another namespace failed", dev)
	}
}

// needFS skips the test when the kernel does not offer filesystem fs.
func needFS(t *testing.T, fs string) {
	t.Helper()
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		t.Skipf("reading /proc/filesystems: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == fs {
			return
		}
	}
	t.Skipf("the kernel has no %s", fs)
}
