package disk_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
)

func stick(t *testing.T) (*disktest.Tree, disk.Disk) {
	t.Helper()
	tr := disktest.New(t)
	tr.AddDisk(disktest.USBStick("sdb", 16, disktest.USBParent))
	ds, err := disk.Scan(disk.ScanOptions{Root: tr.Root, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Name == "sdb" {
			return tr, d
		}
	}
	t.Fatal("sdb not found")
	return nil, disk.Disk{}
}

func noUdisks(string) (string, error) { return "", errors.New("not found") }

func TestEjectWithUdisksctl(t *testing.T) {
	tr, d := stick(t)
	var got []string
	err := disk.Eject(context.Background(), d.Path, d.Identity(), disk.EjectOptions{Root: tr.Root,
		LookPath: func(string) (string, error) { return "/usr/bin/udisksctl", nil },
		Run: func(_ context.Context, name string, args ...string) error {
			got = append([]string{name}, args...)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "/usr/bin/udisksctl power-off --no-user-interaction -b /dev/sdb" {
		t.Errorf("ran %q", got)
	}
}

func TestEjectSysfsAsRoot(t *testing.T) {
	tr, d := stick(t)
	del := filepath.Join(tr.Root, "sys/block/sdb/device/delete")
	if err := os.WriteFile(del, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := disk.Eject(context.Background(), d.Path, d.Identity(), disk.EjectOptions{Root: tr.Root, LookPath: noUdisks,
		IsRoot: func() bool { return false }}); !errors.Is(err, disk.ErrNoEject) {
		t.Errorf("as a user without udisksctl: %v", err)
	}
	if err := disk.Eject(context.Background(), d.Path, d.Identity(), disk.EjectOptions{Root: tr.Root, LookPath: noUdisks,
		IsRoot: func() bool { return true }}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(del); string(b) != "1" {
		t.Errorf("device/delete holds %q", b)
	}
}

func TestEjectRefusesAnotherOrMountedDisk(t *testing.T) {
	tr, d := stick(t)
	run := func(context.Context, string, ...string) error {
		t.Fatal("a refused disk was powered off")
		return nil
	}
	opts := disk.EjectOptions{Root: tr.Root, Run: run, LookPath: func(string) (string, error) { return "udisksctl", nil }}
	other := d.Identity()
	other.Serial = "another"
	if err := disk.Eject(context.Background(), d.Path, other, opts); !errors.Is(err, disk.ErrChanged) {
		t.Errorf("another disk: %v", err)
	}
	tr.Mount("/dev/sdb1", "/media/pi/bootfs", "vfat")
	if err := disk.Eject(context.Background(), d.Path, d.Identity(), opts); err == nil || !strings.Contains(err.Error(), "mounted") {
		t.Errorf("mounted disk: %v", err)
	}
	if err := disk.Eject(context.Background(), "/dev/sdz", d.Identity(), opts); !errors.Is(err, disk.ErrNotFound) {
		t.Errorf("missing disk: %v", err)
	}
}
