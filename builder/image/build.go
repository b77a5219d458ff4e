package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/flash/sparse"
	"github.com/pistudio/pistudio/internal/imager"
	"github.com/pistudio/pistudio/internal/manifest"
)

// Spec says what to build. Sizes are in bytes; a *Pct field is used when
// the matching size is 0 (percent of the content, as rpi-image-gen sizes
// like "200%" are read; never below what the content needs).
type Spec struct {
	// Layout is manifest.LayoutRAID or manifest.LayoutRPiOS.
	Layout string
	// Name is the image name (image.name).
	Name string
	// Hostname is the device's hostname (device.hostname); it makes the
	// md set name "<hostname>:0".
	Hostname string
	// RootfsType must be "ext4" (or empty): the native stage writes ext4 only.
	RootfsType string
	// Level is "RAID1" or "RAID0" (raid).
	Level string
	// Devices is the number of external disks, 2-8 (raid).
	Devices int
	// SDCardSize is the size of sdcard.img (raid).
	SDCardSize int64
	// ExternalSize is the size of each externalN.img (raid).
	ExternalSize int64
	// BootPartSize and RootPartSize size the partitions (image-rpios).
	BootPartSize, RootPartSize int64
	// BootPartPct and RootPartPct are percentages of the content (image-rpios).
	BootPartPct, RootPartPct int
	// Firstboot is the first-boot reader the config's layers install
	// ("cloudinit", "rpi-preseed" or "none"; "" counts as "none").
	Firstboot string
	// Rand supplies UUIDs and disk signatures; nil means crypto/rand.
	Rand io.Reader
	// Now is the clock for the md superblocks; nil means time.Now.
	Now func() time.Time
	// Origins maps config keys (raid.devices) to where their values came
	// from; SpecFromVars fills it so that errors name file, line and key.
	// Optional.
	Origins map[string]Origin
}

// Progress reports a step of Build.
type Progress struct {
	// Stage is a short name: measure, boot, root, raid, disk, sparse, hash, done.
	Stage string
	// Message says what is being done.
	Message string
	// Done and Total count the steps of the whole build.
	Done, Total int
}

// ErrTooSmall is wrapped by errors about sizes that cannot hold the content.
var ErrTooSmall = errors.New("image: too small")

// SizeError says how much space something needs and how much it was
// given, or (Max > 0) that a size exceeds what an MBR disk can hold.
type SizeError struct {
	What       string // e.g. "root filesystem"
	Setting    string // the config key that sets it
	Need, Have int64
	// Max, when set, is the largest allowed size: the error is about a
	// size too large rather than too small.
	Max int64
	// File and Line locate the setting's value when known; Var is its
	// variable (IGconf_raid_external_size).
	File string
	Line int
	Var  string
}

// Error formats the error, prefixed with "file:line: " when known.
func (e *SizeError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	setting := e.Setting
	if e.Var != "" {
		setting += " (" + e.Var + ")"
	}
	if e.Max > 0 {
		fmt.Fprintf(&b, "%s: %s is %s, more than the %s an MBR disk can address", setting, e.What, human(e.Have), human(e.Max))
		return b.String()
	}
	fmt.Fprintf(&b, "%s needs about %s, %s gives %s", e.What, human(e.Need), setting, human(e.Have))
	return b.String()
}

// Unwrap makes errors.Is(err, ErrTooSmall) (or ErrTooLarge when Max is
// set) true.
func (e *SizeError) Unwrap() error {
	if e.Max > 0 {
		return ErrTooLarge
	}
	return ErrTooSmall
}

// sizeErr returns a SizeError for setting carrying the spec's origin of it.
func (s *Spec) sizeErr(what, setting string, need, have int64) *SizeError {
	o := s.where(setting)
	return &SizeError{What: what, Setting: setting, Need: need, Have: have, File: o.File, Line: o.Line, Var: o.Var}
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dM", (n+(1<<20)-1)>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// builder holds the state of one Build.
type builder struct {
	ctx      context.Context
	spec     Spec
	fsDir    string
	tmp      string
	rnd      io.Reader
	now      time.Time
	progress func(Progress)
	step     int
	steps    int
	m        *manifest.Manifest
}

func (b *builder) report(stage, format string, args ...any) {
	b.step++
	if b.progress != nil {
		b.progress(Progress{Stage: stage, Message: fmt.Sprintf(format, args...), Done: b.step, Total: b.steps})
	}
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// Build writes the image set described by spec from the root filesystem
// tree fsDir (left untouched) into outDir. It builds into a temporary
// directory beside outDir and renames it into place only on success. An
// existing outDir is replaced only when it is empty or holds an earlier
// image set (an image.json of ours); any other outDir is refused with an
// error wrapping ErrOutDirInUse before anything is written.
func Build(ctx context.Context, spec Spec, fsDir, outDir string, progress func(Progress)) (*manifest.Manifest, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(fsDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("image: root filesystem %s is not a directory", fsDir)
	}
	if fi, err := os.Stat(filepath.Join(fsDir, "boot", "firmware")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("image: %s has no boot/firmware directory (the boot partition's content)", fsDir)
	}
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	if err := checkOutDir(outDir); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, spec: spec, fsDir: fsDir, rnd: spec.Rand, progress: progress, now: time.Now()}
	if b.rnd == nil {
		b.rnd = rand.Reader
	}
	if spec.Now != nil {
		b.now = spec.Now()
	}
	if err := os.MkdirAll(filepath.Dir(outDir), 0o755); err != nil {
		return nil, err
	}
	b.tmp, err = os.MkdirTemp(filepath.Dir(outDir), "."+filepath.Base(outDir)+".partial-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(b.tmp)
		}
	}()
	if spec.Layout == manifest.LayoutRAID {
		err = b.raid()
	} else {
		err = b.rpios()
	}
	if err != nil {
		return nil, err
	}
	b.report("manifest", "writing %s", manifest.File)
	b.m.Firstboot = spec.Firstboot
	if b.m.Firstboot == "" {
		b.m.Firstboot = imager.InitNone
	}
	if err := manifest.Write(b.tmp, b.m); err != nil {
		return nil, err
	}
	if err := writeImagerManifest(b.tmp, outDir, b.m, b.now); err != nil {
		return nil, err
	}
	if err := replaceDir(b.tmp, outDir); err != nil {
		return nil, err
	}
	ok = true
	b.report("done", "wrote %s", outDir)
	return b.m, nil
}

// ErrOutDirInUse is wrapped by the error Build returns when the output
// directory holds files that are not an earlier image set.
var ErrOutDirInUse = errors.New("output directory in use")

// checkOutDir accepts a missing dir, an empty dir, or a dir holding an
// earlier image set of ours (a readable image.json); anything else (user
// files, a plain file, a symlink) is refused.
func checkOutDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if fi.IsDir() {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("image: %w", err)
		}
		if len(ents) == 0 {
			return nil
		}
		if _, err := manifest.Read(dir); err == nil {
			return nil
		}
	}
	return fmt.Errorf("image: %w: %s is not empty and does not hold an earlier image set; choose another -o", ErrOutDirInUse, dir)
}

// replaceDir renames tmp to dst, moving an existing dst (checked by
// checkOutDir: empty or an earlier image set) out of the way first.
func replaceDir(tmp, dst string) error {
	if err := checkOutDir(dst); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	old := ""
	if _, err := os.Lstat(dst); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dst, old); err != nil {
			return fmt.Errorf("image: replacing %s: %w", dst, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if old != "" {
			os.Rename(old, dst)
		}
		return fmt.Errorf("image: %w", err)
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

func (b *builder) u32() (uint32, error) {
	var v [4]byte
	if _, err := io.ReadFull(b.rnd, v[:]); err != nil {
		return 0, fmt.Errorf("image: random: %w", err)
	}
	return binary.LittleEndian.Uint32(v[:]), nil
}

// measureTree reports the measure step and measures the stage-1 tree: the
// boot partition's content (/boot/firmware, returned with its path) and the
// root filesystem's content without it.
func (b *builder) measureTree() (bootDir string, bootC, rootC content, err error) {
	b.report("measure", "measuring %s", b.fsDir)
	bootDir = filepath.Join(b.fsDir, "boot", "firmware")
	if bootC, err = measure(bootDir); err != nil {
		return
	}
	rootC, err = measure(b.fsDir, "boot/firmware")
	return
}

// diskIDs draws the random identifiers of one disk image, in this order:
// the MBR disk signature, the FAT volume ID and the root ext4 UUID.
func (b *builder) diskIDs() (sig, volID uint32, rootUUID string, err error) {
	if sig, err = b.u32(); err != nil {
		return
	}
	if volID, err = b.u32(); err != nil {
		return
	}
	rootUUID, err = b.fsUUID()
	return
}

// fsUUID returns a random (version 4) filesystem UUID.
func (b *builder) fsUUID() (string, error) {
	var u [16]byte
	if _, err := io.ReadFull(b.rnd, u[:]); err != nil {
		return "", fmt.Errorf("image: random: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

func vfatUUID(id uint32) string { return fmt.Sprintf("%04X-%04X", id>>16, id&0xffff) }

// rewriteCmdline replaces root= in a cmdline.txt (keeping every other
// argument) and makes sure rootwait is present.
func rewriteCmdline(old []byte, root string) []byte {
	fields := strings.Fields(string(old))
	var out []string
	seenRoot, seenWait := false, false
	for _, f := range fields {
		switch {
		case strings.HasPrefix(f, "root="):
			if seenRoot {
				continue
			}
			f, seenRoot = "root="+root, true
		case f == "rootwait":
			seenWait = true
		}
		out = append(out, f)
	}
	if !seenRoot {
		out = append([]string{"root=" + root}, out...)
	}
	if !seenWait {
		out = append(out, "rootwait")
	}
	return []byte(strings.Join(out, " ") + "\n")
}

// rewriteFstab keeps the lines of old that do not mount / or
// /boot/firmware and adds ours for them.
func rewriteFstab(old []byte, rootSpec, bootSpec string) []byte {
	var buf bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") && (f[1] == "/" || f[1] == "/boot/firmware") {
			continue
		}
		buf.WriteString(l + "\n")
	}
	fmt.Fprintf(&buf, "%s  /  ext4  defaults,noatime,errors=remount-ro,commit=30  0  1\n", rootSpec)
	fmt.Fprintf(&buf, "%s  /boot/firmware  vfat  defaults,noatime,errors=remount-ro  0  2\n", bootSpec)
	return buf.Bytes()
}

func (b *builder) readRoot(rel string) []byte {
	data, _ := os.ReadFile(filepath.Join(b.fsDir, rel))
	return data
}

// offsetWriter shifts writes by a fixed offset (a partition inside a disk).
type offsetWriter struct {
	w   io.WriterAt
	off int64
}

// WriteAt writes p at off within the partition.
func (o offsetWriter) WriteAt(p []byte, off int64) (int, error) { return o.w.WriteAt(p, o.off+off) }

// createImage creates a disk image file of size bytes: holes, except the
// first Align bytes (MBR and the gap before the first partition), which are
// written as zeros so that flashing wipes stale partition tables (a GPT
// header at LBA 1) and signatures there.
func createImage(path string, size int64) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, err
	}
	if err := writeZeros(f, 0, min(size, Align)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeZeros writes n explicit zero bytes at off (data, not a hole: the
// sparse twin carries them as a FILL chunk, which flashing writes).
func writeZeros(w io.WriterAt, off, n int64) error {
	zeros := make([]byte, min(n, 1<<20))
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.WriteAt(zeros[:k], off); err != nil {
			return fmt.Errorf("image: writing zeros: %w", err)
		}
		off += k
		n -= k
	}
	return nil
}

// writeSparse writes name+".sparse" (or sparseName) from the file name in b.tmp.
func (b *builder) writeSparse(name, sparseName string) error {
	b.report("sparse", "writing %s", sparseName)
	src, err := os.Open(filepath.Join(b.tmp, name))
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(b.tmp, sparseName))
	if err != nil {
		return err
	}
	if err := sparse.WriteFile(dst, src, sparse.WriteOptions{CRC: true}); err != nil {
		dst.Close()
		return fmt.Errorf("image: writing %s: %w", sparseName, err)
	}
	return dst.Close()
}

// addArtifacts hashes the files (in parallel, one worker per CPU) and
// appends them to the manifest in order.
func (b *builder) addArtifacts(arts ...manifest.Artifact) error {
	errs := make([]error, len(arts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), len(arts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				arts[i].Size, arts[i].SHA256, errs[i] = hashFile(filepath.Join(b.tmp, arts[i].File))
			}
		}()
	}
	for i := range arts {
		b.report("hash", "hashing %s", arts[i].File)
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	b.m.Artifacts = append(b.m.Artifacts, arts...)
	return nil
}

// sizeFor resolves a partition size: explicit bytes (checked against
// need), or pct percent of the content (at least need; 0 means 100). A
// result beyond what an MBR disk can address is a SizeError with Max set.
func (s *Spec) sizeFor(what, setting string, bytes int64, pct int, contentBytes, need int64) (int64, error) {
	if bytes > 0 {
		if bytes < need {
			return 0, s.sizeErr(what, setting, need, bytes)
		}
		return bytes, nil
	}
	if pct <= 0 {
		pct = 100
	}
	if contentBytes > 0 && int64(pct) > (MaxDiskBytes*100)/contentBytes {
		// contentBytes*pct/100 is beyond the MBR limit (and this test
		// cannot overflow: MaxDiskBytes*100 < 2^63).
		e := s.sizeErr(what, setting, 0, MaxDiskBytes+1)
		e.Max = MaxDiskBytes
		return 0, e
	}
	return max(contentBytes*int64(pct)/100, need), nil
}
