//go:build linux

package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/image"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/manifest"
)

func needRoot(t *testing.T) {
	t.Helper()
	disktest.NeedRoot(t, "mdadm", "mke2fs", "debugfs", "mkfs.vfat", "mcopy")
}

// buildSet builds a real RAID set from a tiny generated root filesystem.
func buildSet(t *testing.T, level string, n int) (string, *manifest.Manifest) {
	t.Helper()
	fsDir := filepath.Join(t.TempDir(), "filesystem")
	rng := rand.New(rand.NewPCG(uint64(n), 9))
	blob := func(size int) []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	files := map[string][]byte{
		"boot/firmware/cmdline.txt":     []byte("console=tty1 root=PARTUUID=deadbeef-02 rootfstype=ext4 quiet\n"),
		"boot/firmware/config.txt":      []byte("auto_initramfs=1\n"),
		"boot/firmware/kernel_2712.img": blob(1 << 20),
		"etc/fstab":                     []byte("proc /proc proc defaults 0 0\n"),
		"etc/hostname":                  []byte("raid-device\n"),
		"usr/bin/hello":                 blob(3<<20 + 17),
	}
	for p, b := range files {
		full := filepath.Join(fsDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "set")
	m, err := image.Build(context.Background(), image.Spec{Layout: manifest.LayoutRAID, Name: "prov-" + strings.ToLower(level),
		Hostname: "raid-device", Level: level, Devices: n, SDCardSize: 72 * mib, ExternalSize: 72 * mib}, fsDir, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

// loopTarget is a loop device this test attached to a file it made.
type loopTarget struct {
	file, dev string
}

// attachLoops makes one backing file per size, plants stale signatures in
// each (old md superblocks and a GPT backup header where provisioning
// must wipe them), and attaches each with losetup; Cleanup detaches them.
func attachLoops(t *testing.T, sizes ...int64) []loopTarget {
	t.Helper()
	dir := t.TempDir()
	var out []loopTarget
	for i, size := range sizes {
		file := filepath.Join(dir, fmt.Sprintf("disk%d.bin", i))
		f, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		for _, r := range SignatureRegions(size) {
			m := r.Magic
			if m == nil {
				m = []byte("old data")
			}
			if _, err := f.WriteAt(m, r.Offset); err != nil {
				t.Fatal(err)
			}
		}
		if err := CheckClean(f, size, 0); err == nil {
			t.Fatal("planted signatures not found")
		}
		f.Close()
		dev := disktest.Attach(t, file).Dev
		out = append(out, loopTarget{file: file, dev: dev})
	}
	return out
}

// scanLoops scans the running system without reading any device and
// keeps only the loop devices of this test.
func scanLoops(t *testing.T, loops []loopTarget) []disk.Disk {
	t.Helper()
	all, err := disk.Scan(disk.ScanOptions{NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, l := range loops {
		mine[l.dev] = true
	}
	var out []disk.Disk
	for _, d := range all {
		if mine[d.Path] {
			if !d.Eligible || d.Bus != "loop" {
				t.Fatalf("%s is not an eligible loop disk: %+v", d.Path, d)
			}
			out = append(out, d)
		}
	}
	if len(out) != len(loops) {
		t.Fatalf("scan found %d of %d loop devices", len(out), len(loops))
	}
	return out
}

func fileOf(loops []loopTarget, dev string) string {
	for _, l := range loops {
		if l.dev == dev {
			return l.file
		}
	}
	return ""
}

// checkTargetFile compares the image with the start of the backing file
// and checks that nothing but zeros follows in the last MiB.
func checkTargetFile(t *testing.T, img, file string) {
	t.Helper()
	a, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, len(a))
	if _, err := io.ReadFull(f, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		i := 0
		for a[i] == b[i] {
			i++
		}
		t.Errorf("%s: differs from %s at byte %d", file, filepath.Base(img), i)
	}
	st, _ := f.Stat()
	if err := CheckClean(f, st.Size(), int64(len(a))); err != nil {
		t.Errorf("%s: %v", file, err)
	}
}

var arrayUUIDRe = regexp.MustCompile(`Array UUID : (\S+)`)

// examineMember runs mdadm --examine on a copy of the member partition.
func examineMember(t *testing.T, file string, a *manifest.Artifact) string {
	t.Helper()
	if len(a.Partitions) != 1 {
		t.Fatalf("%s: partitions %+v", a.File, a.Partitions)
	}
	pt := a.Partitions[0]
	src, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	part := filepath.Join(t.TempDir(), "member.bin")
	dst, err := os.Create(part)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, io.NewSectionReader(src, pt.Start, pt.Size)); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	out, err := exec.Command("mdadm", "--examine", part).CombinedOutput()
	if err != nil {
		t.Fatalf("mdadm --examine: %v\n%s", err, out)
	}
	m := arrayUUIDRe.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no array UUID in\n%s", out)
	}
	return string(m[1])
}

func TestProvisionLoop(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		level string
		n     int
	}{{"RAID1", 2}, {"RAID0", 3}} {
		t.Run(tc.level, func(t *testing.T) {
			dir, m := buildSet(t, tc.level, tc.n)
			sizes := []int64{80 * mib}
			for i := 0; i < tc.n; i++ {
				sizes = append(sizes, 100*mib-int64(i)*mib)
			}
			loops := attachLoops(t, sizes...)
			p, err := Propose(m, dir, scanLoops(t, loops))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Ready(); err != nil {
				t.Fatalf("%v\n%s", err, p)
			}
			// Smallest that fits first: the 80 MiB disk takes the card,
			// external1 the next smallest.
			if p.Role("sd").Disk.Path != loops[0].dev || p.Role("external1").Disk.Path != loops[tc.n].dev {
				t.Errorf("plan:\n%s", p)
			}
			// RAID0 writes the sparse twins: holes are skipped.
			skip := tc.level == "RAID0"
			opts := Options{SkipHoles: skip}
			var viaFlash atomic.Int32
			if !skip {
				// RAID1 goes through a Flasher, as the app does.
				opts.Flash = func(ctx context.Context, img string, tgt flash.Target, o flash.Options) (*flash.Result, error) {
					viaFlash.Add(1)
					return helper.Local{}.Flash(ctx, img, tgt, o)
				}
			}
			sum, err := Run(context.Background(), p, opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := int32(tc.n + 1); !skip && viaFlash.Load() != want {
				t.Errorf("%d writes through Flash, want %d", viaFlash.Load(), want)
			}
			t.Log("\n" + sum.String())
			for _, r := range sum.Targets {
				if full := m.Artifact(r.Artifact).Size; skip != (r.Written < full) {
					t.Errorf("%s: wrote %d of %d bytes (skip holes %v)", r.Role, r.Written, full, skip)
				}
			}
			for _, r := range sum.Targets {
				a := m.Artifact(m.Roles[r.Role])
				file := fileOf(loops, r.Device)
				if r.State != Done || !r.Verified || r.SHA256 != a.SHA256 || r.Serial != file {
					t.Errorf("%s: %+v", r.Role, r)
				}
				checkTargetFile(t, filepath.Join(dir, a.File), file)
				if r.Role == RoleSD {
					continue
				}
				if got := examineMember(t, file, a); got != m.ArrayUUID {
					t.Errorf("%s: array UUID %s, want %s", r.Role, got, m.ArrayUUID)
				}
			}
			if !strings.Contains(sum.Labels(), m.ArrayUUID) {
				t.Errorf("labels:\n%s", sum.Labels())
			}
		})
	}
}

func fileSums(t *testing.T, loops []loopTarget) []string {
	var out []string
	for _, l := range loops {
		b, err := os.ReadFile(l.file)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// TestProvisionLoopRefusals covers, on one RAID1 set: a disk too small,
// one target failing mid-way (a read error, a real write error), and a
// cancel.
func TestProvisionLoopRefusals(t *testing.T) {
	needRoot(t)
	dir, m := buildSet(t, "RAID1", 2)
	t.Run("too small", func(t *testing.T) { provisionTooSmall(t, dir, m) })
	for _, mode := range []string{"read error", "device turned read-only"} {
		t.Run(mode, func(t *testing.T) { provisionOneFails(t, dir, m, mode) })
	}
	t.Run("cancel", func(t *testing.T) { provisionCancel(t, dir, m) })
}

func provisionTooSmall(t *testing.T, dir string, m *manifest.Manifest) {
	loops := attachLoops(t, 80*mib, 100*mib, 50*mib)
	before := fileSums(t, loops)
	p, err := Propose(m, dir, scanLoops(t, loops))
	if err != nil {
		t.Fatal(err)
	}
	e2 := p.Role("external2")
	if e2.Disk != nil || !strings.Contains(e2.Problem, "no free disk is big enough") || !strings.Contains(e2.Problem, loops[2].dev) {
		t.Errorf("external2: %+v", e2)
	}
	if err := p.Assign("external2", loops[2].dev); err == nil {
		t.Error("a too small disk was accepted")
	}
	if _, err := Run(context.Background(), p, Options{}); !errors.Is(err, ErrNotReady) {
		t.Errorf("Run: %v", err)
	}
	for i, s := range fileSums(t, loops) {
		if s != before[i] {
			t.Errorf("%s was written", loops[i].dev)
		}
	}
	// The read-back check finds the planted signatures on the device
	// itself, and refuses a node that is not the disk it was given.
	disks := scanLoops(t, loops)
	var se *StaleError
	if err := checkTarget(disks[0].Path, disks[0].Identity(), false, 0); !errors.As(err, &se) {
		t.Errorf("stale signatures on %s: %v", disks[0].Path, err)
	}
	if err := checkTarget(disks[0].Path, disks[1].Identity(), false, 0); !errors.Is(err, disk.ErrChanged) {
		t.Errorf("wrong identity: %v", err)
	}
}

// triggerSource runs fn once after `after` bytes were read, then goes on.
type triggerSource struct {
	source.Source
	after int64
	once  sync.Once
	fn    func()
}

func (s *triggerSource) Next() (source.Extent, io.Reader, error) {
	e, r, err := s.Source.Next()
	if r != nil {
		r = &triggerReader{r, s}
	}
	return e, r, err
}

type triggerReader struct {
	r io.Reader
	s *triggerSource
}

func (t *triggerReader) Read(p []byte) (int, error) {
	if t.s.after <= 0 {
		t.s.once.Do(t.s.fn)
	}
	n, err := t.r.Read(p)
	t.s.after -= int64(n)
	return n, err
}

func provisionOneFails(t *testing.T, dir string, m *manifest.Manifest, mode string) {
	loops := attachLoops(t, 80*mib, 100*mib, 100*mib)
	p, err := Propose(m, dir, scanLoops(t, loops))
	if err != nil {
		t.Fatal(err)
	}
	bad := p.Role("external2").Disk.Path
	if mode != "read error" {
		// The read-only flag outlives losetup -d: clear it before the
		// device is detached (cleanups run last-in first-out).
		t.Cleanup(func() {
			if out, err := exec.Command("blockdev", "--setrw", bad).CombinedOutput(); err != nil {
				t.Errorf("blockdev --setrw: %v %s", err, out)
			}
		})
	}
	injected := errors.New("injected I/O error")
	sum, err := Run(context.Background(), p, Options{BufferSize: 1 << 20, wrapSource: func(role string, s source.Source) source.Source {
		if role != "external2" {
			return s
		}
		if mode == "read error" {
			return &failingSource{Source: s, failAfter: 20 * mib, err: injected}
		}
		// A real write error: the kernel refuses writes to a read-only
		// block device from then on.
		return &triggerSource{Source: s, after: 20 * mib, fn: func() {
			if out, err := exec.Command("blockdev", "--setro", bad).CombinedOutput(); err != nil {
				t.Errorf("blockdev --setro: %v %s", err, out)
			}
		}}
	}})
	var se *SetError
	if !errors.As(err, &se) || len(se.Failed) != 1 || se.Failed[0].Device != bad {
		t.Fatalf("error %v", err)
	}
	t.Logf("%v", err)
	if mode == "read error" && !errors.Is(err, injected) {
		t.Errorf("error %v does not carry the injected one", err)
	}
	for _, r := range sum.Targets {
		file := fileOf(loops, r.Device)
		if r.Role == "external2" {
			if r.State != Failed || hasMBR(t, file) {
				t.Errorf("failed target: %+v, partition table %v", r, hasMBR(t, file))
			}
			continue
		}
		if r.State != Done || !r.Verified {
			t.Errorf("%s: %+v", r.Role, r)
		}
		checkTargetFile(t, filepath.Join(dir, r.Artifact), file)
	}
}

func provisionCancel(t *testing.T, dir string, m *manifest.Manifest) {
	loops := attachLoops(t, 80*mib, 100*mib, 100*mib)
	p, err := Propose(m, dir, scanLoops(t, loops))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 1)
	var sum *Summary
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sum, err = Run(ctx, p, Options{BufferSize: 256 << 10, Progress: func(e Event) {
			if e.Progress.Done > 0 {
				select {
				case started <- struct{}{}:
				default:
				}
			}
		}, wrapSource: func(role string, s source.Source) source.Source {
			return &slowSource{Source: s, delay: 20 * time.Millisecond}
		}})
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("no progress")
	}
	cancel()
	<-ended
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	for _, r := range sum.Targets {
		if r.State != Cancelled || hasMBR(t, fileOf(loops, r.Device)) {
			t.Errorf("%s: %s, partition table %v", r.Role, r.State, hasMBR(t, fileOf(loops, r.Device)))
		}
	}
}
