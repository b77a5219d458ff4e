package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/flash/source/sourcetest"
)

func open(t testing.TB, p string) source.Source {
	t.Helper()
	src, err := source.Open(p)
	if err != nil {
		t.Fatalf("Open(%s): %v", p, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func TestWriteFileTarget(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir, 6<<20+1000)
	for name, p := range sourcetest.Variants(t, dir, img, data) {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.img")
			var updates int
			res, err := Write(context.Background(), open(t, p), Target{Path: out}, Options{
				Progress: func(Progress) { updates++ }, BufferSize: 1 << 20,
			})
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(name, "sparse") {
				// The last partial block is padded to the sparse block size.
				got = got[:len(data)]
			}
			if !bytes.Equal(got, data) {
				t.Fatal("file differs from the image")
			}
			wantX := xxh3.Hash128(data).Bytes()
			if !res.Verified || res.SHA256 != "" || res.XXH3 != hex.EncodeToString(wantX[:]) && !strings.Contains(name, "sparse") {
				t.Errorf("result %+v, want verified with xxh3 %x and no sha256", res, wantX)
			}
			if updates < 2 {
				t.Errorf("%d progress updates", updates)
			}
		})
	}
}

// TestWriteHashes checks the image hashes against the expanded image as
// written (holes as zeros), for every format, with and without SHA-256.
func TestWriteHashes(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir, 5<<20+3000)
	for name, p := range sourcetest.Variants(t, dir, img, data) {
		for _, withSHA := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sha256=%v", name, withSHA), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out.img")
				res, err := Write(context.Background(), open(t, p), Target{Path: out}, Options{SHA256: withSHA, NoVerify: name == "xz"})
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				got, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				x := xxh3.Hash128(got).Bytes()
				if res.XXH3 != hex.EncodeToString(x[:]) {
					t.Errorf("XXH3 %s, want %x", res.XXH3, x)
				}
				wantSHA := ""
				if withSHA {
					h := sha256.Sum256(got)
					wantSHA = hex.EncodeToString(h[:])
				}
				if res.SHA256 != wantSHA {
					t.Errorf("SHA256 %q, want %q", res.SHA256, wantSHA)
				}
			})
		}
	}
}

// TestHashesOverHoles checks the hashes of an image with holes between
// its extents and at its end, without any file in between.
func TestHashesOverHoles(t *testing.T) {
	ext := holeyData()
	src := newHoleySource(ext)
	src.size = 30<<20 + 12345 // extents at 0, 12 and 24 MiB; a hole at the end
	w := &writer{src: src, sink: discardSink{}, res: &Result{},
		opts: Options{BufferSize: 1 << 20, Buffers: 4, SHA256: true}}
	s, err := w.pipeline(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	full := make([]byte, src.size)
	for off := int64(0); off < src.size; off += holeyStride {
		copy(full[off:], ext[:min(holeyExtent, src.size-off)])
	}
	x := xxh3.Hash128(full).Bytes()
	h := sha256.Sum256(full)
	if s.xxh3 != hex.EncodeToString(x[:]) || s.sha256 != hex.EncodeToString(h[:]) {
		t.Errorf("hashes %+v, want xxh3 %x sha256 %x", s, x, h)
	}
}

func TestWriteFileSparse(t *testing.T) {
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 64<<20)
	out := filepath.Join(dir, "out.img")
	if _, err := Write(context.Background(), open(t, img), Target{Path: out}, Options{}); err != nil {
		t.Fatal(err)
	}
	du := sourcetest.Run(t, "", "du", "-k", out)
	var kb int
	if _, err := io.WriteString(io.Discard, du); err != nil {
		t.Fatal(err)
	}
	for _, c := range du {
		if c < '0' || c > '9' {
			break
		}
		kb = kb*10 + int(c-'0')
	}
	if kb > 8<<10 {
		t.Errorf("the 64 MiB image with ~300 KiB of data takes %d KiB: holes were written", kb)
	}
}

func TestWriteRefusesItself(t *testing.T) {
	dir := t.TempDir()
	img, data := makeImage(t, dir, 2<<20)
	if _, err := Write(context.Background(), open(t, img), Target{Path: img}, Options{}); err == nil {
		t.Fatal("writing an image onto itself succeeded")
	}
	if got, _ := os.ReadFile(img); !bytes.Equal(got, data) {
		t.Fatal("the image was changed")
	}
}

func TestVerifyMismatchFile(t *testing.T) {
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 4<<20)
	out := filepath.Join(dir, "out.img")
	const bad = 2<<20 + 4096*3 + 17
	opts := Options{beforeVerify: func(written string) error {
		return flipByte(written, bad)
	}}
	_, err := Write(context.Background(), open(t, img), Target{Path: out}, opts)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Offset != bad || ve.Path != out || !strings.Contains(err.Error(), out) {
		t.Fatalf("error %v, want a *VerifyError naming %s at %d", err, out, bad)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed write left %s behind (%v)", out, err)
	}
	assertNoTemp(t, dir)
}

func flipByte(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	return f.Sync()
}

func TestWriteLoopFormats(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	img, data := makeImage(t, dir, 6<<20+1000) // an unaligned tail
	for name, p := range sourcetest.Variants(t, dir, img, data) {
		t.Run(name, func(t *testing.T) {
			dev, backing := newLoop(t, 12<<20, 0, false)
			if name == "raw" {
				// Old content must not survive where the image writes or
				// in the last MiB.
				f, _ := os.OpenFile(backing, os.O_RDWR, 0)
				f.WriteAt(bytes.Repeat([]byte{0xEE}, 12<<20), 0)
				f.Close()
			}
			res, err := Write(context.Background(), open(t, p), Target{Path: dev, Identity: identity(t, dev)}, Options{})
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, err := os.ReadFile(backing)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:len(data)], data) {
				t.Fatal("device differs from the image")
			}
			if name == "raw" {
				if !bytes.Equal(got[len(data):11<<20], bytes.Repeat([]byte{0xEE}, 11<<20-len(data))) {
					t.Error("bytes past the image changed")
				}
				if !bytes.Equal(got[11<<20:], make([]byte, 1<<20)) {
					t.Error("the last MiB was not zeroed")
				}
			}
			if !res.Verified {
				t.Error("not verified")
			}
		})
	}
}

// slowSource hands out its data slowly so that a cancel lands mid-write.
type slowSource struct {
	source.Source
	delay time.Duration
}

type slowReader struct {
	r     io.Reader
	delay time.Duration
}

func (s *slowSource) Next() (source.Extent, io.Reader, error) {
	e, r, err := s.Source.Next()
	if r != nil {
		r = &slowReader{r, s.delay}
	}
	return e, r, err
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	if len(p) > 256<<10 {
		p = p[:256<<10]
	}
	return s.r.Read(p)
}

func TestCancelLeavesNoPartitionTable(t *testing.T) {
	dev, backing := newLoop(t, 40<<20, 0, false)
	dir := t.TempDir()
	img, data := makeImage(t, dir, 32<<20)
	if data[510] != 0x55 || data[511] != 0xAA {
		t.Fatal("test image has no MBR signature")
	}
	// An old partition table on the device.
	f, _ := os.OpenFile(backing, os.O_RDWR, 0)
	f.WriteAt(data[:512], 0)
	f.Close()
	src := &slowSource{Source: open(t, img), delay: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var cancelled time.Time
	var updates int
	opts := Options{Progress: func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		updates++
		if p.Done > 4<<20 && cancelled.IsZero() {
			cancelled = time.Now()
			cancel()
		}
	}}
	_, err := Write(ctx, src, Target{Path: dev, Identity: identity(t, dev)}, opts)
	mu.Lock()
	took := time.Since(cancelled)
	mu.Unlock()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if took > time.Second {
		t.Errorf("cancel took %v", took)
	}
	got, _ := os.ReadFile(backing)
	if got[510] == 0x55 && got[511] == 0xAA {
		t.Fatal("a cancelled write left an MBR signature")
	}
	if !bytes.Equal(got[1<<20:4<<20], data[1<<20:4<<20]) {
		t.Error("the write had not progressed before the cancel")
	}
	if updates < 2 {
		t.Errorf("%d progress updates", updates)
	}
}

func TestVerifyMismatchLoop(t *testing.T) {
	dev, _ := newLoop(t, 8<<20, 0, false)
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 6<<20)
	const bad = 3<<20 + 777
	opts := Options{beforeVerify: func(string) error { return flipByte(dev, bad) }}
	_, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, opts)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Offset != bad || ve.Path != dev || !strings.Contains(err.Error(), dev) {
		t.Fatalf("error %v, want a *VerifyError naming %s at %d", err, dev, bad)
	}
}

func TestImageTooBig(t *testing.T) {
	dev, backing := newLoop(t, 4<<20, 0xCC, false)
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 6<<20)
	_, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, Options{})
	var tse *TooSmallError
	if !errors.As(err, &tse) || tse.ImageSize != 6<<20 || tse.DeviceSize != 4<<20 {
		t.Fatalf("error %v, want a *TooSmallError naming both sizes", err)
	}
	if !strings.Contains(err.Error(), "6291456") || !strings.Contains(err.Error(), "4194304") {
		t.Errorf("message %q does not name both sizes", err)
	}
	got, _ := os.ReadFile(backing)
	if !bytes.Equal(got, bytes.Repeat([]byte{0xCC}, 4<<20)) {
		t.Fatal("a refused write changed the device")
	}
}

func TestIdentityChanged(t *testing.T) {
	dev, _ := newLoop(t, 8<<20, 0, false)
	img, _ := makeImage(t, t.TempDir(), 2<<20)
	id := identity(t, dev)
	id.SizeBytes += 512
	_, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: id}, Options{})
	if !errors.Is(err, disk.ErrChanged) {
		t.Fatalf("error %v, want disk.ErrChanged", err)
	}
}

func TestMountedPartition(t *testing.T) {
	dev, _ := newLoop(t, 16<<20, 0, true)
	sourcetest.Run(t, "label: dos\nstart=2048, type=83\n", "sfdisk", "--quiet", dev)
	// Kernels without partition table support on loop devices show no
	// partition: the filesystem then goes on the whole device.
	part := dev + "p1"
	if _, err := os.Stat("/sys/class/block/" + filepath.Base(part)); err != nil {
		t.Logf("no %s on this kernel: mounting a filesystem on the whole device", part)
		part = dev
	}
	sourcetest.Run(t, "", "mke2fs", "-q", "-F", "-t", "ext4", part)
	mp := t.TempDir()
	sourcetest.Run(t, "", "mount", part, mp)
	t.Cleanup(func() { exec.Command("umount", mp).Run() })
	img, data := makeImage(t, t.TempDir(), 4<<20)
	id := identity(t, dev)

	_, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: id}, Options{})
	var me *MountedError
	if !errors.As(err, &me) || me.MountPoint != mp {
		t.Fatalf("error %v, want a *MountedError naming %s", err, mp)
	}
	if !isMounted(t, mp) {
		t.Fatal("refused write unmounted the partition")
	}

	res, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: id}, Options{AllowUnmount: true})
	if err != nil {
		t.Fatalf("Write with AllowUnmount: %v", err)
	}
	if isMounted(t, mp) {
		t.Fatal("still mounted")
	}
	if len(res.Unmounted) != 1 || res.Unmounted[0] != mp {
		t.Errorf("Unmounted = %v", res.Unmounted)
	}
	got := make([]byte, len(data))
	f, _ := os.Open(dev)
	io.ReadFull(f, got)
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("device differs from the image")
	}
}

func isMounted(t *testing.T, mp string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), " "+mp+" ")
}

// stuckSource yields 2 MiB and then blocks until released.
type stuckSource struct {
	memSource
	release chan struct{}
}

type stuckReader struct {
	r       io.Reader
	release chan struct{}
}

func (s *stuckReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n == 0 {
		<-s.release
	}
	return n, err
}

func (s *stuckSource) Next() (source.Extent, io.Reader, error) {
	if s.done {
		return source.Extent{}, nil, io.EOF
	}
	s.done = true
	return source.Extent{Length: 8 << 20}, &stuckReader{bytes.NewReader(s.data), s.release}, nil
}

func (s *stuckSource) Size() int64     { return 8 << 20 }
func (s *stuckSource) DataSize() int64 { return 8 << 20 }

func TestCancelWithStalledSource(t *testing.T) {
	src := &stuckSource{memSource: memSource{data: make([]byte, 2<<20)}, release: make(chan struct{})}
	defer close(src.release)
	out := filepath.Join(t.TempDir(), "out.img")
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled time.Time
	var mu sync.Mutex
	go func() {
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		cancelled = time.Now()
		mu.Unlock()
		cancel()
	}()
	_, err := Write(ctx, src, Target{Path: out}, Options{BufferSize: 1 << 20})
	mu.Lock()
	took := time.Since(cancelled)
	mu.Unlock()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), "partition table") {
		t.Errorf("a file target's message speaks of a partition table: %v", err)
	}
	if took > time.Second {
		t.Errorf("cancel took %v with a stalled source", took)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a cancelled write left its new file behind (%v)", err)
	}
}

// TestVerifyCancelAndLateMismatch cancels a write while it reads back,
// and finds a changed byte in a later read batch than the first (the
// verify reads one batch ahead of the comparison).
func TestVerifyCancelAndLateMismatch(t *testing.T) {
	dir := t.TempDir()
	img, _ := makeImage(t, dir, 12<<20)
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		out := filepath.Join(t.TempDir(), "out.img")
		opts := Options{BufferSize: 1 << 20, Progress: func(p Progress) {
			if p.Phase == Verifying {
				cancel()
			}
		}}
		_, err := Write(ctx, open(t, img), Target{Path: out}, opts)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want a cancelled verify", err)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a cancelled write left %s behind (%v)", out, err)
		}
	})
	t.Run("late mismatch", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.img")
		const bad = 9<<20 + 4099
		opts := Options{BufferSize: 1 << 20, beforeVerify: func(written string) error {
			return flipByte(written, bad)
		}}
		_, err := Write(context.Background(), open(t, img), Target{Path: out}, opts)
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Offset != bad {
			t.Fatalf("error %v, want a *VerifyError at %d", err, bad)
		}
	})
}
