// Package flash writes an image source to a disk or a file, guarded and
// verified.
//
// Write re-checks the chosen disk right before opening it (disk.Guard),
// refuses an image larger than the disk before writing a byte, unmounts
// the disk's partitions only when allowed, opens it exclusively with
// O_DIRECT, makes the kernel forget the disk's partitions (BLKPG deletes),
// zeroes its first MiB, has the kernel re-read the now absent table
// (BLKRRPART) and zeroes the last MiB, streams the image through a small
// pipeline (decoder → writer → hasher, with a few MiB-sized buffers in
// flight and none allocated per chunk), zeroes the first and last MiB of
// the image and of each of its partitions where the image leaves them
// unwritten (so that no old filesystem, md superblock or table is found in
// the new layout), writes the first MiB last after a flush — its first
// sector after the rest — and then reads back what it wrote, bypassing
// the page cache, to compare it with what was sent. A cancelled, failed
// or killed write leaves the disk without a partition table, on the
// medium and in the kernel's view, instead of a half-valid one; a disk
// that fails the verify has its first and last MiB zeroed again.
//
// A file target is written to a temporary file beside it, which replaces
// the target only once the write (and verify) succeeded: a failed write
// leaves an existing file as it was and creates nothing.
package flash

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/units"
)

// Target is where an image is written: a block device the user chose
// (Identity taken from the disk list) or a regular file, into which the
// image is expanded (sparse where the image has zeros or holes).
type Target struct {
	// Path is the device node (e.g. "/dev/sdb") or the file path.
	Path string `json:"path"`
	// Identity is the disk the user chose; required for block devices.
	// A non-zero Identity also makes the target a device: a path that is
	// not a block device is then refused.
	Identity disk.Identity `json:"identity"`
	// RequireDevice refuses anything but a block device at Path (a
	// privileged caller sets it so that a path swapped for a file or a
	// symlink is never created or written).
	RequireDevice bool `json:"require_device,omitempty"`
}

// Options tune a write. The zero value verifies and refuses to unmount.
type Options struct {
	// NoVerify skips reading the written data back.
	NoVerify bool
	// SHA256 also computes the SHA-256 of the expanded image
	// (Result.SHA256). It is off by default: the read-back verify is what
	// proves the write, and SHA-256 is slower than most disks.
	SHA256 bool
	// AllowUnmount lets Write unmount the target's mounted partitions.
	AllowUnmount bool
	// Progress, when set, receives at least two updates a second while
	// writing and verifying, and a final one at the end of each phase. It is
	// called from one goroutine at a time and never after Write returns.
	Progress func(Progress)
	// Root is the system root of a fake sysfs/procfs tree. Write ignores
	// it: a block device it opens is real, so it is always guarded
	// against the running system ("/"). It is kept for callers that pass
	// one set of options to disk scans too.
	Root string
	// BufferSize is the size of each pipeline buffer (default 4 MiB).
	BufferSize int
	// Buffers is the number of buffers in flight (default 6).
	Buffers int

	// beforeVerify runs between the write and verify phases with the
	// path being written (a file target's temporary file) (tests).
	beforeVerify func(path string) error
	// afterOpen runs right after a device is opened exclusively, before
	// the checks on the opened node (tests).
	afterOpen func(dev string) error
}

// Phase is the stage of a write.
type Phase string

// Phases of a write.
const (
	Writing   Phase = "writing"
	Verifying Phase = "verifying"
)

// Progress is a progress report.
type Progress struct {
	// Phase is writing or verifying.
	Phase Phase `json:"phase"`
	// Done and Total are bytes of the phase (Total is the image's data size).
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
	// BytesPerSec is the rate over the last few seconds.
	BytesPerSec float64 `json:"bytes_per_sec"`
	// ETA is the expected time left in the phase.
	ETA time.Duration `json:"eta"`
}

// Result describes a finished write.
type Result struct {
	// Target is the device or file written.
	Target string `json:"target"`
	// Format is the image format.
	Format source.Format `json:"format"`
	// Size is the expanded image size in bytes.
	Size int64 `json:"size"`
	// Written is the number of image bytes written (Data plus Zeroed).
	Written int64 `json:"written"`
	// Data is the part of Written that was image data.
	Data int64 `json:"data"`
	// Zeroed is the part of Written that the image gives as zeros (sparse
	// FILL chunks of zeros), written with the device's write-zeroes.
	Zeroed int64 `json:"zeroed"`
	// Skipped is the number of image bytes left unwritten (sparse
	// DONT_CARE chunks, ranges a block map leaves out): what the disk
	// held there stays, except that the first and last MiB of the image
	// and of each of its partitions are cleared where they fall in such a
	// range, so that no old signature is found there.
	Skipped int64 `json:"skipped"`
	// Cleared is the part of Skipped zeroed to remove old signatures.
	Cleared int64 `json:"cleared"`
	// BlockMap is the block map the image was written with ("" when
	// none).
	BlockMap string `json:"block_map,omitempty"`
	// XXH3 is the hex XXH3-128 of the expanded image as written (ranges
	// the image leaves unwritten count as zeros): what xxh128sum prints
	// for the decompressed image. It is always computed.
	XXH3 string `json:"xxh3"`
	// SHA256 is the hex SHA-256 of the expanded image as written (holes
	// as zeros): what sha256sum prints for the decompressed image. It is
	// set only when Options.SHA256 asked for it.
	SHA256 string `json:"sha256"`
	// Verified is true when the data was read back and matched.
	Verified bool `json:"verified"`
	// Unmounted lists the mount points Write unmounted.
	Unmounted []string `json:"unmounted,omitempty"`
	// WriteTime and VerifyTime are the durations of the phases.
	WriteTime  time.Duration `json:"write_time"`
	VerifyTime time.Duration `json:"verify_time"`
	// Warnings are things worth telling the user that did not fail the write.
	Warnings []string `json:"warnings,omitempty"`
}

// VerifyError reports written data that did not read back as written.
type VerifyError struct {
	// Offset is the first byte that differs.
	Offset int64
	// Path is the device or file that was written ("" when unknown).
	Path string
	// Wiped is set when the disk's first and last MiB were zeroed again
	// and the kernel dropped its partitions, so that the failed copy is
	// not taken for a good one.
	Wiped bool
}

func (e *VerifyError) Error() string {
	where := ""
	if e.Path != "" {
		where = " from " + e.Path
	}
	msg := fmt.Sprintf("verify failed: the data read back%s differs at byte %d (0x%x); the disk may be faulty or counterfeit", where, e.Offset, e.Offset)
	if e.Wiped {
		msg += "; its partition table was erased (first and last MiB zeroed) so that the bad copy is not used"
	}
	return msg
}

// ErrEmpty is matched (errors.Is) by the error for an image with no bytes.
var ErrEmpty = source.ErrEmpty

// TooSmallError refuses an image larger than the target disk.
type TooSmallError struct {
	// Path is the target.
	Path string
	// ImageSize and DeviceSize are in bytes.
	ImageSize, DeviceSize int64
}

func (e *TooSmallError) Error() string {
	return fmt.Sprintf("the image needs %d bytes (%s) but %s holds only %d bytes (%s)",
		e.ImageSize, HumanBytes(e.ImageSize), e.Path, e.DeviceSize, HumanBytes(e.DeviceSize))
}

// ErrMounted is matched (errors.Is) by *MountedError.
var ErrMounted = errors.New("target has mounted partitions")

// MountedError refuses a target with a mounted partition when unmounting
// was not allowed.
type MountedError struct {
	// Device is the partition and MountPoint where it is mounted.
	Device, MountPoint string
}

func (e *MountedError) Error() string {
	return fmt.Sprintf("%s is mounted at %s: unmount it or allow unmounting", e.Device, e.MountPoint)
}

// Is makes errors.Is(err, ErrMounted) true.
func (e *MountedError) Is(t error) bool { return t == ErrMounted }

// HumanBytes formats n bytes with a binary unit, e.g. "3.7 GiB".
func HumanBytes(n int64) string { return units.Binary(n) }

// headSize is the region written last (and zeroed first), as is the tail
// region zeroed first.
const headSize = 1 << 20

// Write writes src to target. See the package documentation for the
// order of operations. On success the Result says whether the data was
// verified; a verify mismatch is a *VerifyError.
func Write(ctx context.Context, src source.Source, target Target, opts Options) (*Result, error) {
	if opts.BufferSize <= 0 {
		opts.BufferSize = 4 << 20
	}
	opts.BufferSize = (opts.BufferSize + 4095) &^ 4095
	if opts.Buffers < 2 {
		opts.Buffers = 6
	}
	w := &writer{src: src, target: target, opts: opts,
		res: &Result{Target: target.Path, Format: src.Format(), Size: src.Size()}}
	if wr, ok := src.(source.Warner); ok {
		w.res.Warnings = append(w.res.Warnings, wr.Warnings()...)
	}
	if p := sourcePaths(src); len(p) > 1 {
		w.res.BlockMap = p[1]
	}
	if err := w.run(ctx); err != nil {
		return nil, err
	}
	return w.res, nil
}
