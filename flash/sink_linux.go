//go:build linux

package flash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/disk"
)

// openTarget guards and opens the target of w. A target with an
// Identity or RequireDevice must be a block device; anything else at the
// path (a file, a symlink, nothing) is refused before it is touched.
func openTarget(w *writer, ctx context.Context) (sink, error) {
	path := w.target.Path
	st, err := os.Lstat(path)
	wantDev := w.target.RequireDevice || w.target.Identity != (disk.Identity{})
	isBlock := err == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
	if err == nil && st.Mode()&os.ModeSymlink != 0 {
		// A symlink to a disk (/dev/disk/by-id/...) is resolved by the
		// guard; one to anything else is refused.
		if t, err2 := os.Stat(path); err2 == nil && t.Mode()&os.ModeDevice != 0 && t.Mode()&os.ModeCharDevice == 0 {
			isBlock = true
		} else {
			return nil, fmt.Errorf("%s is a symbolic link: name the file itself", path)
		}
	}
	switch {
	case isBlock:
		return openDevice(w, ctx)
	case wantDev && err == nil:
		return nil, fmt.Errorf("%s is not a block device", path)
	case wantDev:
		return nil, fmt.Errorf("%s: %w", path, disk.ErrNotFound)
	case err == nil && !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is neither a block device nor a regular file", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("target: %w", err)
	}
	var old os.FileInfo
	if err == nil {
		old = st
	}
	return openFile(w, old)
}

// fileSink expands the image into a temporary file beside the target,
// which replaces the target on commit.
type fileSink struct {
	f       *os.File
	rd      *os.File // O_DIRECT reader for verify, when the filesystem allows
	path    string   // the target
	tmp     string   // the file written
	existed bool     // the target existed: replace it, keeping its mode
	size    int64
	done    bool // committed
}

// openFile creates the temporary file for the target path. old is the
// target's Lstat when it exists (a regular file).
func openFile(w *writer, old os.FileInfo) (sink, error) {
	path := w.target.Path
	if old != nil {
		// Check the file that is there now, without following a link
		// or truncating anything, against what was found before.
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", path, err)
		}
		sys, _ := old.Sys().(*syscall.Stat_t)
		if st.Mode&unix.S_IFMT != unix.S_IFREG || sys == nil || uint64(sys.Dev) != uint64(st.Dev) || sys.Ino != st.Ino {
			return nil, fmt.Errorf("%s changed while it was being opened", path)
		}
		for _, p := range sourcePaths(w.src) {
			if a, err := os.Stat(p); err == nil && os.SameFile(a, old) {
				return nil, fmt.Errorf("refusing to write the image %s onto itself (%s)", path, p)
			}
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".pistudio-*")
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	s := &fileSink{f: f, path: path, tmp: f.Name(), existed: old != nil}
	if old != nil {
		_ = f.Chmod(old.Mode().Perm())
		if sys, ok := old.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			_ = f.Chown(int(sys.Uid), int(sys.Gid))
		}
	} else {
		_ = f.Chmod(0o644 &^ umask())
	}
	return s, nil
}

// umask returns the process umask.
func umask() os.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return os.FileMode(m)
}

func (s *fileSink) name() string   { return s.tmp }
func (s *fileSink) isDevice() bool { return false }

// commit flushes the temporary file, renames it over the target (or to
// the new name, never replacing a file that appeared meanwhile) and
// flushes the directory.
func (s *fileSink) commit() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("flushing %s: %w", s.tmp, err)
	}
	var err error
	if s.existed {
		err = os.Rename(s.tmp, s.path)
	} else {
		err = unix.Renameat2(unix.AT_FDCWD, s.tmp, unix.AT_FDCWD, s.path, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			// A filesystem without RENAME_NOREPLACE: a link fails
			// likewise if the name is taken.
			if err = os.Link(s.tmp, s.path); err == nil {
				err = os.Remove(s.tmp)
			}
		}
		if errors.Is(err, unix.EEXIST) || errors.Is(err, os.ErrExist) {
			err = fmt.Errorf("%s appeared while the image was being written: %w", s.path, os.ErrExist)
		}
	}
	if err != nil {
		return fmt.Errorf("replacing %s: %w", s.path, err)
	}
	s.done = true
	if d, err := os.Open(filepath.Dir(s.path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("flushing the directory of %s: %w", s.path, err)
		}
	}
	return nil
}

func (s *fileSink) blockSize() int64 { return 4096 }

func (s *fileSink) zero(size int64) error {
	s.size = size
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("sizing %s: %w", s.tmp, err)
	}
	return nil
}

// writeAt writes p, leaving whole zero blocks as holes (the file was
// truncated empty, so they read as zeros).
func (s *fileSink) writeAt(p []byte, off int64) error {
	const bs = 4096
	i := 0
	for i < len(p) {
		// Piece up to the next block boundary.
		n := int(min(int64(len(p)-i), bs-(off+int64(i))%bs))
		if isZero(p[i : i+n]) {
			i += n
			continue
		}
		j := i + n
		for j < len(p) {
			m := min(len(p)-j, bs)
			if isZero(p[j : j+m]) {
				break
			}
			j += m
		}
		if _, err := s.f.WriteAt(p[i:j], off+int64(i)); err != nil {
			return fmt.Errorf("writing %s: %w", s.tmp, err)
		}
		i = j
	}
	return nil
}

func (s *fileSink) readAt(p []byte, off int64) error {
	f := s.f
	if s.rd != nil {
		f = s.rd
	}
	n, err := f.ReadAt(p, off)
	if err != nil && off+int64(n) < s.size {
		return err
	}
	clear(p[n:])
	return nil
}

func (s *fileSink) sync() error {
	if err := unix.Fdatasync(int(s.f.Fd())); err != nil {
		return fmt.Errorf("flushing %s: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) prepareVerify() error {
	if err := s.sync(); err != nil {
		return err
	}
	_ = unix.Fadvise(int(s.f.Fd()), 0, 0, unix.FADV_DONTNEED)
	// Reopen the very file written (not its name) to bypass the cache.
	if rd, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", s.f.Fd()), os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0); err == nil {
		s.rd = rd
	}
	return nil
}

func (s *fileSink) finish() []string { return nil }

// zeroRange does nothing: the temporary file was created empty and sized
// with holes, which read as zeros.
func (s *fileSink) zeroRange(off, n int64) error { return nil }

func (s *fileSink) dropPartitions() []string { return nil }

// wipe does nothing: a failed file target is removed.
func (s *fileSink) wipe() error { return nil }

func (s *fileSink) close() error {
	if s.rd != nil {
		s.rd.Close()
	}
	return s.f.Close()
}

func (s *fileSink) remove() {
	if !s.done {
		os.Remove(s.tmp)
	}
}

// devSink writes a block device.
type devSink struct {
	fd     int
	rfd    int // O_DIRECT reader when fd is buffered; -1 otherwise
	path   string
	direct bool
	bs     int64
	size   int64
	bounce []byte
	zeros  []byte // a MiB of zeros, once needed
	// noZeroOut is set once the device refused BLKZEROOUT.
	noZeroOut bool
}

// blkGetDiskSeq is BLKGETDISKSEQ, _IOR(0x12, 128, __u64).
const blkGetDiskSeq = 0x80081280

// openDevice guards the disk at the target path against the running
// system, unmounts what it may, opens the disk's own node exclusively and
// checks that the opened node is still the chosen disk.
func openDevice(w *writer, ctx context.Context) (sink, error) {
	path := w.target.Path
	id := w.target.Identity
	if id == (disk.Identity{}) {
		return nil, fmt.Errorf("%s: no disk identity given: choose the disk from the disk list", path)
	}
	images := sourcePaths(w.src)
	// The node opened below is real: the guard reads the real system.
	d, err := disk.Guard("/", path, id, images)
	if err != nil {
		return nil, err
	}
	if w.src.Size() > d.SizeBytes {
		return nil, &TooSmallError{Path: d.Path, ImageSize: w.src.Size(), DeviceSize: d.SizeBytes}
	}
	unmounted, err := unmountDisk(w, d)
	if err != nil {
		return nil, err
	}
	// Open the guarded disk's own node, never a link to it.
	s := &devSink{path: d.Path, rfd: -1}
	if err := s.open(ctx, unmounted); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(s.fd)
		}
	}()
	if w.opts.afterOpen != nil {
		if err := w.opts.afterOpen(d.Path); err != nil {
			return nil, err
		}
	}
	want := id
	if want.DiskSeq == 0 {
		want.DiskSeq = d.DiskSeq // as the guard found it
	}
	if err := checkOpened(s.fd, d.Path, want); err != nil {
		return nil, err
	}
	var size uint64
	if err := ioctlPtr(s.fd, unix.BLKGETSIZE64, unsafe.Pointer(&size)); err != nil {
		return nil, fmt.Errorf("size of %s: %w", d.Path, err)
	}
	s.size = int64(size)
	// Held exclusively, the disk can gain no mount any more: guard it
	// once more (mounted, read-only, in use, holding the image, ...).
	if _, err := disk.Guard("/", d.Path, id, images); err != nil {
		return nil, err
	}
	if w.src.Size() > s.size {
		return nil, &TooSmallError{Path: d.Path, ImageSize: w.src.Size(), DeviceSize: s.size}
	}
	bs, err := unix.IoctlGetInt(s.fd, unix.BLKSSZGET)
	if err != nil || bs < 512 || bs&(bs-1) != 0 {
		bs = 512
	}
	s.bs = int64(bs)
	s.bounce = alignedBuf(1 << 20)
	ok = true
	return s, nil
}

// unmountDisk unmounts the partitions of d (and d itself) where they are
// mounted, deepest mount points first, when the options allow it; it
// reports whether anything was unmounted.
func unmountDisk(w *writer, d disk.Disk) (bool, error) {
	type mnt struct{ dev, mp string }
	var mounts []mnt
	for _, p := range d.Partitions {
		for _, mp := range p.MountPoints {
			mounts = append(mounts, mnt{p.Path, mp})
		}
	}
	for _, mp := range wholeDiskMounts("/", d.Major, d.Minor) {
		mounts = append(mounts, mnt{d.Path, mp})
	}
	if len(mounts) > 0 && !w.opts.AllowUnmount {
		return false, &MountedError{Device: mounts[0].dev, MountPoint: mounts[0].mp}
	}
	sort.SliceStable(mounts, func(i, j int) bool {
		return strings.Count(filepath.Clean(mounts[i].mp), "/") > strings.Count(filepath.Clean(mounts[j].mp), "/")
	})
	for _, m := range mounts {
		if err := unix.Unmount(m.mp, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return false, fmt.Errorf("unmounting %s from %s: %w (files are open there: close them and try again)", m.dev, m.mp, err)
			}
			return false, fmt.Errorf("unmounting %s from %s: %w", m.dev, m.mp, err)
		}
		w.res.Unmounted = append(w.res.Unmounted, m.mp)
	}
	return len(mounts) > 0, nil
}

// open opens s.path exclusively, with O_DIRECT when the device allows
// it. After an unmount it retries EBUSY for a moment: something that
// watched the unmount (udev) may hold the disk briefly.
func (s *devSink) open(ctx context.Context, retry bool) error {
	flags := unix.O_RDWR | unix.O_EXCL | unix.O_CLOEXEC | unix.O_NOFOLLOW
	deadline := time.Now().Add(2 * time.Second)
	var err error
	for {
		s.direct = true
		s.fd, err = unix.Open(s.path, flags|unix.O_DIRECT, 0)
		if errors.Is(err, unix.EINVAL) {
			s.direct = false
			s.fd, err = unix.Open(s.path, flags, 0)
		}
		if !errors.Is(err, unix.EBUSY) || !retry || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("opening %s exclusively: %w (a partition is mounted or the disk is in use)", s.path, err)
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.path, err)
	}
	return nil
}

// checkOpened checks that fd is the block device id: its numbers, its
// size and, when both the kernel (BLKGETDISKSEQ, Linux 5.15) and id know
// it, its media sequence number.
func checkOpened(fd int, path string, id disk.Identity) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != id.Major || unix.Minor(st.Rdev) != id.Minor {
		return fmt.Errorf("%s: %w (the opened node is not %d:%d)", path, disk.ErrChanged, id.Major, id.Minor)
	}
	var size uint64
	if err := ioctlPtr(fd, unix.BLKGETSIZE64, unsafe.Pointer(&size)); err != nil {
		return fmt.Errorf("size of %s: %w", path, err)
	}
	if int64(size) != id.SizeBytes {
		return fmt.Errorf("%s: %w (size is now %d bytes)", path, disk.ErrChanged, size)
	}
	seq, ok, err := diskSeq(fd)
	if err != nil {
		return fmt.Errorf("media sequence number of %s: %w", path, err)
	}
	if ok && id.DiskSeq != 0 && seq != id.DiskSeq {
		return fmt.Errorf("%s: %w (media sequence number is now %d, was %d)", path, disk.ErrChanged, seq, id.DiskSeq)
	}
	return nil
}

// diskSeq returns the media sequence number of the open block device fd;
// ok is false on kernels without BLKGETDISKSEQ.
func diskSeq(fd int) (seq uint64, ok bool, err error) {
	err = ioctlPtr(fd, blkGetDiskSeq, unsafe.Pointer(&seq))
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return seq, true, nil
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
	if e != 0 {
		return e
	}
	return nil
}

func (s *devSink) blockSize() int64 { return s.bs }

func (s *devSink) pwrite(p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(s.fd, p, off)
		if err != nil {
			return fmt.Errorf("writing %s at byte %d: %w", s.path, off, err)
		}
		if n == 0 {
			return fmt.Errorf("writing %s at byte %d: no progress", s.path, off)
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func (s *devSink) pread(fd int, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pread(fd, p, off)
		if err != nil {
			return fmt.Errorf("reading %s at byte %d: %w", s.path, off, err)
		}
		if n == 0 {
			return fmt.Errorf("reading %s at byte %d: unexpected end of device", s.path, off)
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

func aligned(p []byte, bs int64) bool {
	return len(p) > 0 && int64(uintptr(unsafe.Pointer(&p[0])))%bs == 0
}

// writeAt writes p at off. With O_DIRECT, unaligned parts go through an
// aligned bounce buffer, reading the device first where p covers only
// part of a sector.
func (s *devSink) writeAt(p []byte, off int64) error {
	bs := s.bs
	if !s.direct || (off%bs == 0 && int64(len(p))%bs == 0 && aligned(p, bs)) {
		return s.pwrite(p, off)
	}
	end := off + int64(len(p))
	for wlo := off &^ (bs - 1); wlo < end; {
		whi := min(wlo+int64(len(s.bounce)), (end+bs-1)&^(bs-1))
		b := s.bounce[:whi-wlo]
		if off > wlo || end < whi {
			if err := s.pread(s.fd, b, wlo); err != nil {
				return err
			}
		}
		from := max(off, wlo)
		to := min(end, whi)
		copy(b[from-wlo:], p[from-off:to-off])
		if err := s.pwrite(b, wlo); err != nil {
			return err
		}
		wlo = whi
	}
	return nil
}

func (s *devSink) readAt(p []byte, off int64) error {
	fd := s.fd
	if s.rfd >= 0 {
		fd = s.rfd
	}
	return s.pread(fd, p, off)
}

// zero zeroes the first and the last MiB of the disk. Once the first
// MiB is on the medium the kernel re-reads the (now absent) partition
// table, so that no partition node of the old layout stays.
func (s *devSink) zero(int64) error {
	z := alignedBuf(headSize)
	n := min(int64(headSize), s.size)
	if err := s.writeAt(z[:n], 0); err != nil {
		return err
	}
	if err := s.sync(); err != nil {
		return err
	}
	testPause("zero-head", 0)
	s.rereadPartitions()
	if tail := max(s.size-headSize, n) &^ (s.bs - 1); tail < s.size {
		if err := s.writeAt(z[:s.size-tail], tail); err != nil {
			return err
		}
	}
	return nil
}

func (s *devSink) sync() error {
	if err := unix.Fdatasync(s.fd); err != nil {
		return fmt.Errorf("flushing %s: %w", s.path, err)
	}
	return nil
}

func (s *devSink) prepareVerify() error {
	if err := s.sync(); err != nil {
		return err
	}
	_ = unix.IoctlSetInt(s.fd, unix.BLKFLSBUF, 0)
	_ = unix.Fadvise(s.fd, 0, 0, unix.FADV_DONTNEED)
	if !s.direct {
		if fd, err := unix.Open(s.path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0); err == nil {
			s.rfd = fd
		}
	}
	return nil
}

// finish asks the kernel to re-read the partition table.
func (s *devSink) finish() []string {
	if e := s.rereadPartitions(); e != nil {
		return []string{fmt.Sprintf("the kernel did not re-read the partition table of %s (%v); unplug and re-insert the disk", s.path, e)}
	}
	return nil
}

// rereadPartitions asks the kernel to re-read the partition table
// (BLKRRPART); a disk that cannot have partitions (EINVAL) is no error.
func (s *devSink) rereadPartitions() error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(s.fd), uintptr(unix.BLKRRPART), 0)
	if e != 0 && e != unix.EINVAL {
		return e
	}
	return nil
}

// zeroRange zeroes n bytes at off with the kernel's write-zeroes
// (BLKZEROOUT: nearly free on devices reporting write_zeroes_max_bytes,
// zeroed by the kernel without a copy from here elsewhere); unaligned
// edges, and devices that refuse it, get written zeros.
func (s *devSink) zeroRange(off, n int64) error {
	bs := s.bs
	lo := (off + bs - 1) &^ (bs - 1)
	hi := (off + n) &^ (bs - 1)
	if lo >= hi || s.noZeroOut {
		return s.writeZeros(off, n)
	}
	if lo > off {
		if err := s.writeZeros(off, lo-off); err != nil {
			return err
		}
	}
	r := [2]uint64{uint64(lo), uint64(hi - lo)}
	if err := ioctlPtr(s.fd, unix.BLKZEROOUT, unsafe.Pointer(&r)); err != nil {
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOTTY) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("zeroing %s at byte %d: %w", s.path, lo, err)
		}
		s.noZeroOut = true
		if err := s.writeZeros(lo, hi-lo); err != nil {
			return err
		}
	}
	if end := off + n; end > hi {
		return s.writeZeros(hi, end-hi)
	}
	return nil
}

// writeZeros writes n zero bytes at off.
func (s *devSink) writeZeros(off, n int64) error {
	if s.zeros == nil {
		s.zeros = alignedBuf(1 << 20)
	}
	for end := off + n; off < end; {
		k := min(end-off, int64(len(s.zeros)))
		if err := s.writeAt(s.zeros[:k], off); err != nil {
			return err
		}
		off += k
	}
	return nil
}

// blkpg is BLKPG, _IO(0x12, 105).
const blkpg = 0x1269

// dropPartitions deletes every partition of the disk from the kernel's
// view (BLKPG_DEL_PARTITION) before anything is written, so that no
// partition node of the old layout is seen while the disk is rewritten;
// the medium is untouched until then.
func (s *devSink) dropPartitions() []string {
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return []string{fmt.Sprintf("stat %s: %v", s.path, err)}
	}
	dir := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	parts, _ := filepath.Glob(filepath.Join(dir, "*", "partition"))
	var warn []string
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var pno int32
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &pno); err != nil || pno <= 0 {
			continue
		}
		part := unix.BlkpgPartition{Pno: pno}
		arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_DEL_PARTITION, Datalen: int32(unsafe.Sizeof(part)), Data: (*byte)(unsafe.Pointer(&part))}
		if err := ioctlPtr(s.fd, blkpg, unsafe.Pointer(&arg)); err != nil && !errors.Is(err, unix.ENXIO) {
			warn = append(warn, fmt.Sprintf("the kernel kept partition %d of %s while it was rewritten (%v)", pno, s.path, err))
		}
	}
	return warn
}

// wipe zeroes the first and last MiB again and makes the kernel drop
// the partitions, after a failed verify.
func (s *devSink) wipe() error {
	if err := s.zero(s.size); err != nil {
		return err
	}
	if err := s.sync(); err != nil {
		return err
	}
	if e := s.rereadPartitions(); e != nil {
		if w := s.dropPartitions(); len(w) > 0 {
			return fmt.Errorf("%s: the kernel kept the partitions: %w", s.path, e)
		}
	}
	return nil
}

func (s *devSink) close() error {
	if s.rfd >= 0 {
		unix.Close(s.rfd)
	}
	return unix.Close(s.fd)
}

func (s *devSink) remove()        {}
func (s *devSink) commit() error  { return nil }
func (s *devSink) name() string   { return s.path }
func (s *devSink) isDevice() bool { return true }

// wholeDiskMounts lists where a filesystem on the whole disk maj:min (no
// partition table) is mounted, from mountinfo under root.
func wholeDiskMounts(root string, maj, min uint32) []string {
	if root == "" {
		root = "/"
	}
	b, err := os.ReadFile(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil {
		return nil
	}
	want := fmt.Sprintf("%d:%d", maj, min)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[2] == want {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out
}

// unescapeMount undoes the octal escapes (\040) of mountinfo paths.
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOct(s[i+1]) && isOct(s[i+2]) && isOct(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }
