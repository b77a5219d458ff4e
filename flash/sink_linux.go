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
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pistudio/pistudio/flash/disk"
)

// pather is implemented by sources that know their file.
type pather interface{ Path() string }

// openTarget guards and opens the target of w.
func openTarget(w *writer, ctx context.Context) (sink, error) {
	path := w.target.Path
	st, err := os.Stat(path)
	switch {
	case err == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0:
		return openDevice(w, ctx)
	case err == nil && !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is neither a block device nor a regular file", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("target: %w", err)
	}
	return openFile(w, err == nil)
}

// fileSink expands the image into a regular file.
type fileSink struct {
	f       *os.File
	rd      *os.File // O_DIRECT reader for verify, when the filesystem allows
	path    string
	created bool
	size    int64
}

func openFile(w *writer, existed bool) (sink, error) {
	path := w.target.Path
	if p, ok := w.src.(pather); ok && existed {
		a, err1 := os.Stat(p.Path())
		b, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(a, b) {
			return nil, fmt.Errorf("refusing to write the image %s onto itself", path)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	return &fileSink{f: f, path: path, created: !existed}, nil
}

func (s *fileSink) blockSize() int64 { return 4096 }

func (s *fileSink) zero(size int64) error {
	s.size = size
	if err := s.f.Truncate(size); err != nil {
		return fmt.Errorf("sizing %s: %w", s.path, err)
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
			return fmt.Errorf("writing %s: %w", s.path, err)
		}
		i = j
	}
	return nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if *(*uint64)(unsafe.Pointer(&b[0])) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
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
	if rd, err := os.OpenFile(s.path, os.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0); err == nil {
		s.rd = rd
	}
	return nil
}

func (s *fileSink) finish() []string { return nil }

func (s *fileSink) close() error {
	if s.rd != nil {
		s.rd.Close()
	}
	return s.f.Close()
}

func (s *fileSink) remove() {
	if s.created {
		os.Remove(s.path)
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
}

func openDevice(w *writer, ctx context.Context) (sink, error) {
	path := w.target.Path
	id := w.target.Identity
	if id == (disk.Identity{}) {
		return nil, fmt.Errorf("%s: no disk identity given: choose the disk from the disk list", path)
	}
	var images []string
	if p, ok := w.src.(pather); ok {
		images = append(images, p.Path())
	}
	d, err := disk.Guard(w.opts.Root, path, id, images)
	if err != nil {
		return nil, err
	}
	if w.src.Size() > d.SizeBytes {
		return nil, &TooSmallError{Path: path, ImageSize: w.src.Size(), DeviceSize: d.SizeBytes}
	}
	type mnt struct{ dev, mp string }
	var mounts []mnt
	for _, p := range d.Partitions {
		for _, mp := range p.MountPoints {
			mounts = append(mounts, mnt{p.Path, mp})
		}
	}
	for _, mp := range wholeDiskMounts(w.opts.Root, d.Major, d.Minor) {
		mounts = append(mounts, mnt{d.Path, mp})
	}
	if len(mounts) > 0 && !w.opts.AllowUnmount {
		return nil, &MountedError{Device: mounts[0].dev, MountPoint: mounts[0].mp}
	}
	// Deepest mount points first.
	sort.Slice(mounts, func(i, j int) bool {
		return strings.Count(filepath.Clean(mounts[i].mp), "/") > strings.Count(filepath.Clean(mounts[j].mp), "/")
	})
	for _, m := range mounts {
		if err := unix.Unmount(m.mp, 0); err != nil {
			if err2 := unix.Unmount(m.mp, unix.MNT_DETACH); err2 != nil {
				return nil, fmt.Errorf("unmounting %s from %s: %w", m.dev, m.mp, err2)
			}
		}
		w.res.Unmounted = append(w.res.Unmounted, m.mp)
	}
	s := &devSink{path: d.Path, rfd: -1, direct: true}
	flags := unix.O_RDWR | unix.O_EXCL | unix.O_CLOEXEC
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.fd, err = unix.Open(path, flags|unix.O_DIRECT, 0)
		if errors.Is(err, unix.EINVAL) {
			s.direct = false
			s.fd, err = unix.Open(path, flags, 0)
		}
		if !errors.Is(err, unix.EBUSY) || len(mounts) == 0 || time.Now().After(deadline) {
			break
		}
		// A lazily unmounted filesystem lets go of the disk shortly.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if errors.Is(err, unix.EBUSY) {
		return nil, fmt.Errorf("opening %s exclusively: %w (a partition is mounted or the disk is in use)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(s.fd)
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != id.Major || unix.Minor(st.Rdev) != id.Minor {
		return nil, fmt.Errorf("%s: %w (the opened node is not %d:%d)", path, disk.ErrChanged, id.Major, id.Minor)
	}
	var size uint64
	if err := ioctlPtr(s.fd, unix.BLKGETSIZE64, unsafe.Pointer(&size)); err != nil {
		return nil, fmt.Errorf("size of %s: %w", path, err)
	}
	s.size = int64(size)
	if int64(size) != id.SizeBytes {
		return nil, fmt.Errorf("%s: %w (size is now %d bytes)", path, disk.ErrChanged, size)
	}
	if w.src.Size() > s.size {
		return nil, &TooSmallError{Path: path, ImageSize: w.src.Size(), DeviceSize: s.size}
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

// zero zeroes the first and the last MiB of the disk.
func (s *devSink) zero(int64) error {
	z := alignedBuf(headSize)
	n := min(int64(headSize), s.size)
	if err := s.writeAt(z[:n], 0); err != nil {
		return err
	}
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
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(s.fd), uintptr(unix.BLKRRPART), 0)
	if e != 0 && e != unix.EINVAL {
		return []string{fmt.Sprintf("the kernel did not re-read the partition table of %s (%v); unplug and re-insert the disk", s.path, e)}
	}
	return nil
}

func (s *devSink) close() error {
	if s.rfd >= 0 {
		unix.Close(s.rfd)
	}
	return unix.Close(s.fd)
}

func (s *devSink) remove() {}

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
