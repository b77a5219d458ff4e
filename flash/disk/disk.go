// Package disk finds the disks a Raspberry Pi image may be written to and
// guards the ones it must never touch.
//
// Scan lists every block device from sysfs (through ghw plus a few sysfs
// reads of its own) and classifies each one: eligible, or protected with a
// human reason (it holds the running system, it is internal, read-only,
// a RAM disk, it holds the image being written, ...). Guard re-checks one
// device right before a writer opens it, so a disk that was swapped,
// mounted or re-plugged since the user chose it is refused. Watch reports
// disks as they come and go.
//
// Every function reads sysfs, procfs and the udev database under a root
// directory, so tests run on fake trees. On the running system the only
// device nodes ever opened, each checked by its numbers first and closed
// at once, are: loop devices, read-only, to ask the kernel what backs
// them (LOOP_GET_STATUS64); eligible disks and their partitions not
// mounted here, O_RDONLY|O_EXCL|O_NONBLOCK, to find those the kernel holds
// busy (Scan and CheckPath, not Guard); and partitions of eligible disks,
// read-only, to identify their filesystems when udev has no record of
// them (see ScanOptions.Open).
package disk

import (
	"errors"
	"fmt"
	"strings"
)

// Disk is one whole block device and its classification.
type Disk struct {
	// Name is the kernel name, e.g. "sdb" or "mmcblk0".
	Name string `json:"name"`
	// Path is the device node, e.g. "/dev/sdb".
	Path string `json:"path"`
	// Major and Minor are the device numbers.
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	// SizeBytes is the capacity in bytes (0 when there is no medium).
	SizeBytes int64 `json:"size_bytes"`
	// Model is the product name (udev, sysfs model, or an SD card's own name).
	Model string `json:"model"`
	// Vendor is the manufacturer as the device reports it, if known.
	Vendor string `json:"vendor"`
	// Serial is the serial number if known; for a loop device it is the
	// backing file, so re-attaching another file reads as a different disk.
	Serial string `json:"serial"`
	// WWN is the World Wide Name the disk reports, if any.
	WWN string `json:"wwn,omitempty"`
	// Loop is what the kernel says backs a loop device (nil for other
	// disks, and when it could not be read).
	Loop *LoopBacking `json:"loop,omitempty"`
	// DiskSeq is the kernel's media sequence number (0 when unknown); it
	// changes whenever a new medium or device appears under the name.
	DiskSeq uint64 `json:"diskseq"`
	// Bus is how the disk is attached: usb, mmc, sata, nvme, virtio, scsi,
	// loop, ide, xen, virtual, or "" when unknown.
	Bus string `json:"bus"`
	// Removable is the kernel's removable flag (card readers often say 0).
	Removable bool `json:"removable"`
	// ReadOnly is set when the kernel refuses writes (e.g. a write-protected card).
	ReadOnly bool `json:"read_only"`
	// Partitions are the disk's partitions in table order.
	Partitions []Partition `json:"partitions"`
	// Holders are the devices stacked on the disk or its partitions
	// (device-mapper, LVM, md), transitively, e.g. ["dm-0"].
	Holders []string `json:"holders"`
	// Eligible is true when the disk may be offered as a target.
	Eligible bool `json:"eligible"`
	// Reason says why a disk is protected; empty when Eligible.
	Reason string `json:"reason"`
	// NeedsTypedConfirm is set for eligible disks over TypedConfirmBytes:
	// the user must type the disk's name before it is written.
	NeedsTypedConfirm bool `json:"needs_typed_confirm"`
}

// LoopBacking is what backs a loop device, as the kernel reports it
// (LOOP_GET_STATUS64), not as a path: the backing inode's device and
// number, and for a block device node the device it is.
type LoopBacking struct {
	// DevMajor and DevMinor are the device holding the backing inode
	// (its st_dev; an anonymous 0:N for tmpfs, btrfs, overlayfs).
	DevMajor uint32 `json:"dev_major"`
	DevMinor uint32 `json:"dev_minor"`
	// Inode is the backing inode's number on that device.
	Inode uint64 `json:"inode"`
	// RdevMajor and RdevMinor are the block device the backing node
	// stands for; both 0 when the backing is a regular file.
	RdevMajor uint32 `json:"rdev_major,omitempty"`
	RdevMinor uint32 `json:"rdev_minor,omitempty"`
	// Offset is where the loop device starts in its backing.
	Offset uint64 `json:"offset,omitempty"`
}

// IsBlock reports whether the loop device is backed by a block device.
func (b LoopBacking) IsBlock() bool { return b.RdevMajor != 0 || b.RdevMinor != 0 }

// Partition is one partition of a Disk.
type Partition struct {
	// Name is the kernel name, e.g. "sdb1".
	Name string `json:"name"`
	// Path is the device node, e.g. "/dev/sdb1".
	Path string `json:"path"`
	// SizeBytes is the partition's size in bytes.
	SizeBytes int64 `json:"size_bytes"`
	// FSType is the filesystem or content type ("ext4", "vfat", "swap",
	// "LVM2_member", "linux_raid_member", ...), empty when unknown.
	FSType string `json:"fstype"`
	// Label is the filesystem label, if any.
	Label string `json:"label"`
	// UUID is the filesystem UUID (or FAT serial), if known.
	UUID string `json:"uuid"`
	// MountPoints lists where the partition is mounted (may be empty).
	MountPoints []string `json:"mountpoints"`
}

// Identity is what makes a disk the disk the user chose: a writer compares
// it again right before opening the device.
type Identity struct {
	// Major and Minor are the device numbers.
	Major, Minor uint32
	// SizeBytes is the capacity in bytes.
	SizeBytes int64
	// Serial is the serial number (a loop device's backing file).
	Serial string
	// DiskSeq is compared only when both sides know it (non-zero).
	DiskSeq uint64
}

// Identity returns the identity of d.
func (d Disk) Identity() Identity {
	return Identity{Major: d.Major, Minor: d.Minor, SizeBytes: d.SizeBytes, Serial: d.Serial, DiskSeq: d.DiskSeq}
}

// Matches reports whether got is the same disk as id.
func (id Identity) Matches(got Identity) bool {
	if id.Major != got.Major || id.Minor != got.Minor || id.SizeBytes != got.SizeBytes || id.Serial != got.Serial {
		return false
	}
	return id.DiskSeq == 0 || got.DiskSeq == 0 || id.DiskSeq == got.DiskSeq
}

func (id Identity) String() string {
	return fmt.Sprintf("%d:%d, %d bytes, serial %q, diskseq %d", id.Major, id.Minor, id.SizeBytes, id.Serial, id.DiskSeq)
}

// TypedConfirmBytes is the size (decimal 128 GB) above which an eligible
// disk needs the user to type its name: few SD cards or sticks are larger,
// many backup disks are.
const TypedConfirmBytes = 128e9

// ErrProtected is matched (errors.Is) by every *ProtectedError.
var ErrProtected = errors.New("disk is protected")

// ErrChanged means the device at the path is no longer the disk the user
// chose: different device numbers, size, serial or medium.
var ErrChanged = errors.New("disk changed since it was chosen")

// ErrNotFound means no block device of that name exists (any more).
var ErrNotFound = errors.New("disk not found")

// ProtectedError refuses a write to a protected disk.
type ProtectedError struct {
	// Path is the device node, e.g. "/dev/sda".
	Path string
	// Reason is the human reason from the classification.
	Reason string
}

func (e *ProtectedError) Error() string {
	return fmt.Sprintf("%s is protected: %s", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrProtected) true.
func (e *ProtectedError) Is(target error) bool { return target == ErrProtected }

// ConfirmedBy reports whether typed, with surrounding spaces removed,
// names this disk: its kernel name ("sdc") or its device path ("/dev/sdc").
// It is how a typed confirmation of a large disk is checked.
func (d Disk) ConfirmedBy(typed string) bool {
	t := strings.TrimSpace(typed)
	return t != "" && (t == d.Name || t == d.Path)
}
