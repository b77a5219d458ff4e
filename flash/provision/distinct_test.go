package provision

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
)

// TestOneMediumTwoRoles: two loop devices on one file (other paths, one
// inode) are never proposed together, cannot both be chosen, and a plan
// holding both is not ready and writes nothing.
func TestOneMediumTwoRoles(t *testing.T) {
	back := &disk.LoopBacking{DevMajor: 8, DevMinor: 2, Inode: 77}
	loopA := disk.Disk{Name: "loop1", Path: "/dev/loop1", Major: 7, Minor: 1, SizeBytes: 2 * gib, Bus: "loop", Serial: "/srv/a.img", Eligible: true, Loop: back}
	loopB := disk.Disk{Name: "loop5", Path: "/dev/loop5", Major: 7, Minor: 5, SizeBytes: 2 * gib, Bus: "loop", Serial: "/srv/link.img", Eligible: true, Loop: back}
	dir, m := sparseSet(t, 64*mib, 64*mib, 2)
	p, err := Propose(m, dir, []disk.Disk{mmcSlot, loopA, loopB})
	if err != nil {
		t.Fatal(err)
	}
	e1, e2 := p.Role("external1"), p.Role("external2")
	if e1.Disk != nil && e2.Disk != nil {
		t.Errorf("proposed %s and %s, one medium", e1.Disk.Path, e2.Disk.Path)
	}
	if err := p.Assign("external1", loopA.Path); err != nil {
		t.Fatal(err)
	}
	err = p.Assign("external2", loopB.Path)
	var sm *disk.SameMediumError
	if !errors.As(err, &sm) || sm.A != loopA.Path || sm.B != loopB.Path {
		t.Errorf("Assign(external2, %s) = %v, want a SameMediumError naming %s and %s", loopB.Path, err, loopA.Path, loopB.Path)
	}
	// A plan that holds both anyway (made elsewhere): not ready.
	cp := loopB
	e2.Disk, e2.Chosen, e2.Problem = &cp, true, ""
	if err := p.Ready(); !errors.Is(err, ErrNotReady) || !errors.Is(err, disk.ErrSameMedium) {
		t.Errorf("Ready = %v, want ErrNotReady and ErrSameMedium", err)
	}
	var calls atomic.Int32
	_, err = Run(context.Background(), p, Options{Flash: func(context.Context, string, flash.Target, flash.Options) (*flash.Result, error) {
		calls.Add(1)
		return nil, errors.New("must not write")
	}})
	if !errors.Is(err, disk.ErrSameMedium) || calls.Load() != 0 {
		t.Errorf("Run = %v after %d writes, want ErrSameMedium and none", err, calls.Load())
	}
}

// TestOneFileTwoRoles: file targets that are one file (hard links) are
// one medium.
func TestOneFileTwoRoles(t *testing.T) {
	dir, m := sparseSet(t, 64*mib, 64*mib, 2)
	p, err := Propose(m, dir, []disk.Disk{mmcSlot})
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(t.TempDir(), "a.img")
	b := filepath.Join(t.TempDir(), "b.img")
	if err := os.WriteFile(a, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	for role, f := range map[string]string{"external1": a, "external2": b} {
		if err := p.AssignFile(role, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Ready(); !errors.Is(err, disk.ErrSameMedium) || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), b) {
		t.Errorf("Ready = %v, want ErrSameMedium naming %s and %s", err, a, b)
	}
}

// TestRunRefusesOneMedium: Run re-reads the targets as they are now: two
// loop devices on one file are refused even when the plan's disks (from
// an earlier or unprivileged scan) did not tell, and nothing is written.
func TestRunRefusesOneMedium(t *testing.T) {
	disktest.NeedRoot(t)
	dir, m := sparseSet(t, 1*mib, 1*mib, 2)
	img := filepath.Join(t.TempDir(), "one.img")
	if err := os.WriteFile(img, make([]byte, 8*mib), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link.img")
	if err := os.Link(img, link); err != nil {
		t.Fatal(err)
	}
	la, lb := disktest.Attach(t, img), disktest.Attach(t, link)
	sd := filepath.Join(t.TempDir(), "sd.img")
	var disks []disk.Disk
	for _, dev := range []string{la.Dev, lb.Dev} {
		d, err := disk.CheckPath(dev)
		if err != nil {
			t.Fatal(err)
		}
		d.Loop = nil // as an unprivileged scan sees it
		disks = append(disks, d)
	}
	p, err := Propose(m, dir, disks)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AssignFile(RoleSD, sd); err != nil {
		t.Fatal(err)
	}
	if err := p.Assign("external1", la.Dev); err != nil {
		t.Fatal(err)
	}
	if err := p.Assign("external2", lb.Dev); err != nil {
		t.Fatal(err)
	}
	if err := p.Ready(); err != nil {
		t.Fatalf("Ready = %v (the plan's disks do not tell)", err)
	}
	var calls atomic.Int32
	_, err = Run(context.Background(), p, Options{Flash: func(context.Context, string, flash.Target, flash.Options) (*flash.Result, error) {
		calls.Add(1)
		return nil, errors.New("must not write")
	}})
	if !errors.Is(err, disk.ErrSameMedium) || !strings.Contains(err.Error(), la.Dev) || !strings.Contains(err.Error(), lb.Dev) || calls.Load() != 0 {
		t.Errorf("Run = %v after %d writes, want ErrSameMedium naming %s and %s, nothing written", err, calls.Load(), la.Dev, lb.Dev)
	}
	if _, err := os.Stat(sd); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s was written: %v", sd, err)
	}
}
