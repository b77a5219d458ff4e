// Package disktest builds fake sysfs/procfs/udev trees that package disk
// (and ghw's chroot mode) read as if they were a real machine, so disk
// discovery and its guards are tested without touching real devices; and
// it attaches the loop devices the tests that do write a device use
// (Attach), detaching them when the test ends.
package disktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tree is a fake root directory under a test's temporary directory.
type Tree struct {
	// Root is the directory to pass as disk.ScanOptions.Root.
	Root   string
	t      testing.TB
	mounts []string
	swaps  []string
}

// New returns an empty tree (sys/block, proc/self/mounts, run/udev/data).
func New(t testing.TB) *Tree {
	t.Helper()
	tr := &Tree{Root: t.TempDir(), t: t}
	for _, d := range []string{"sys/block", "sys/class/block", "sys/devices/virtual/block", "run/udev/data", "proc/self", "dev"} {
		tr.mkdir(d)
	}
	tr.flushProc()
	return tr
}

// Part describes one partition.
type Part struct {
	// Sectors is the size in 512-byte sectors.
	Sectors int64
	// Udev holds E: properties (ID_FS_TYPE, ID_FS_LABEL, ...).
	Udev map[string]string
	// Holders are devices stacked on this partition (e.g. "dm-0").
	Holders []string
	// Content, if set, is written to dev/<name> as a regular file so a
	// superblock probe finds it.
	Content []byte
}

// Disk describes one whole block device.
type Disk struct {
	// Name is the kernel name ("sdb").
	Name string
	// Major and Minor are the device numbers; partitions take Minor+1, +2, ...
	Major, Minor uint32
	// Sectors is the size in 512-byte sectors.
	Sectors int64
	// Parent is the sysfs device path under sys/devices of the device the
	// disk hangs off, e.g. "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0";
	// empty means a virtual device (sys/devices/virtual/block).
	Parent string
	// Removable and ReadOnly set the removable and ro attributes.
	Removable, ReadOnly bool
	// DeviceFiles are written into the parent device directory
	// (model, vendor, serial, name for SD cards).
	DeviceFiles map[string]string
	// Files are extra attribute files in the disk's own directory
	// (e.g. "dm/name", "loop/backing_file", "serial", "diskseq").
	Files map[string]string
	// Udev holds E: properties for the disk (ID_MODEL, ID_PATH, ...).
	Udev map[string]string
	// Holders are devices stacked directly on the whole disk.
	Holders []string
	// Parts are the partitions, numbered from 1.
	Parts []Part
}

// PartName returns the kernel name of partition n (1-based) of disk name.
func PartName(name string, n int) string {
	last := name[len(name)-1]
	if last >= '0' && last <= '9' {
		return fmt.Sprintf("%sp%d", name, n)
	}
	return fmt.Sprintf("%s%d", name, n)
}

// AddDisk creates d in the tree.
func (tr *Tree) AddDisk(d Disk) {
	tr.t.Helper()
	devDir := "sys/devices/virtual"
	if d.Parent != "" {
		devDir = "sys/devices/" + d.Parent
		tr.mkdir(devDir)
		for k, v := range d.DeviceFiles {
			tr.write(devDir+"/"+k, v+"\n")
		}
	}
	dir := devDir + "/block/" + d.Name
	tr.mkdir(dir + "/holders")
	tr.mkdir(dir + "/slaves")
	tr.write(dir+"/size", fmt.Sprint(d.Sectors))
	tr.write(dir+"/removable", b01(d.Removable))
	tr.write(dir+"/ro", b01(d.ReadOnly))
	tr.write(dir+"/dev", fmt.Sprintf("%d:%d", d.Major, d.Minor))
	tr.write(dir+"/uevent", fmt.Sprintf("MAJOR=%d\nMINOR=%d\nDEVNAME=%s\nDEVTYPE=disk\n", d.Major, d.Minor, d.Name))
	tr.write(dir+"/queue/rotational", "0")
	tr.write(dir+"/queue/logical_block_size", "512")
	tr.write(dir+"/queue/physical_block_size", "512")
	for k, v := range d.Files {
		tr.write(dir+"/"+k, v)
	}
	if d.Parent != "" {
		tr.symlink(dir+"/device", devDir)
	}
	tr.symlink("sys/block/"+d.Name, dir)
	tr.symlink("sys/class/block/"+d.Name, dir)
	tr.udev(d.Major, d.Minor, d.Udev)
	tr.holders(dir, d.Holders)
	for i, p := range d.Parts {
		pn := PartName(d.Name, i+1)
		pdir := dir + "/" + pn
		tr.mkdir(pdir + "/holders")
		tr.write(pdir+"/size", fmt.Sprint(p.Sectors))
		tr.write(pdir+"/partition", fmt.Sprint(i+1))
		tr.write(pdir+"/ro", b01(d.ReadOnly))
		tr.write(pdir+"/dev", fmt.Sprintf("%d:%d", d.Major, d.Minor+uint32(i)+1))
		tr.write(pdir+"/uevent", fmt.Sprintf("MAJOR=%d\nMINOR=%d\nDEVNAME=%s\nDEVTYPE=partition\nPARTN=%d\n", d.Major, d.Minor+uint32(i)+1, pn, i+1))
		tr.symlink("sys/class/block/"+pn, pdir)
		tr.udev(d.Major, d.Minor+uint32(i)+1, p.Udev)
		tr.holders(pdir, p.Holders)
		if p.Content != nil {
			tr.write("dev/"+pn, string(p.Content))
		}
	}
}

// Remove deletes disk name from sys/block (as an unplug would).
func (tr *Tree) Remove(name string) {
	tr.t.Helper()
	if err := os.Remove(filepath.Join(tr.Root, "sys/block", name)); err != nil {
		tr.t.Fatal(err)
	}
}

// Mount adds a line to proc/self/mounts.
func (tr *Tree) Mount(source, target, fstype string) {
	tr.mounts = append(tr.mounts, fmt.Sprintf("%s %s %s rw,relatime 0 0", source, strings.ReplaceAll(target, " ", `\040`), fstype))
	tr.flushProc()
}

// Swap adds a partition to proc/swaps.
func (tr *Tree) Swap(source string) {
	tr.swaps = append(tr.swaps, fmt.Sprintf("%s\tpartition\t1048572\t0\t-2", source))
	tr.flushProc()
}

func (tr *Tree) flushProc() {
	m := "proc /proc proc rw,relatime 0 0\nsysfs /sys sysfs rw,relatime 0 0\n"
	for _, l := range tr.mounts {
		m += l + "\n"
	}
	tr.write("proc/self/mounts", m)
	s := "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	for _, l := range tr.swaps {
		s += l + "\n"
	}
	tr.write("proc/swaps", s)
}

func (tr *Tree) holders(dir string, hs []string) {
	for _, h := range hs {
		tr.symlink(dir+"/holders/"+h, "sys/devices/virtual/block/"+h)
	}
}

func (tr *Tree) udev(maj, min uint32, props map[string]string) {
	if len(props) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("S:disk/by-fake\nI:1\n")
	for k, v := range props {
		fmt.Fprintf(&b, "E:%s=%s\n", k, v)
	}
	tr.write(fmt.Sprintf("run/udev/data/b%d:%d", maj, min), b.String())
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (tr *Tree) mkdir(rel string) {
	tr.t.Helper()
	if err := os.MkdirAll(filepath.Join(tr.Root, rel), 0o755); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *Tree) write(rel, content string) {
	tr.t.Helper()
	p := filepath.Join(tr.Root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// symlink makes rel a relative symlink to target (both relative to Root).
func (tr *Tree) symlink(rel, target string) {
	tr.t.Helper()
	p := filepath.Join(tr.Root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	r, err := filepath.Rel(filepath.Dir(p), filepath.Join(tr.Root, target))
	if err != nil {
		tr.t.Fatal(err)
	}
	_ = os.Remove(p)
	if err := os.Symlink(r, p); err != nil {
		tr.t.Fatal(err)
	}
}

// Common parents for realistic trees.
const (
	// USBParent is a SCSI device behind a USB mass-storage interface.
	USBParent = "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0"
	// USBParent2 is a second USB port.
	USBParent2 = "pci0000:00/0000:00:14.0/usb2/2-2/2-2:1.0/host7/target7:0:0/7:0:0:0"
	// SATAParent is a disk on an AHCI port.
	SATAParent = "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0"
	// NVMeParent is an NVMe controller.
	NVMeParent = "pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0"
	// MMCParent is a card in a PCI SD host's slot.
	MMCParent = "pci0000:00/0000:00:14.5/mmc_host/mmc0/mmc0:aaaa"
)
