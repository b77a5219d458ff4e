package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pistudio/pistudio/flash/sparse"
)

// content is what a directory tree needs on a filesystem.
type content struct {
	Bytes  int64 // file data rounded up to 4 KiB blocks, plus one block per directory
	Inodes int64
}

// measure walks dir (without following symlinks). Paths in skip (relative,
// slash separated) are not descended into.
func measure(dir string, skip ...string) (content, error) {
	var c content
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if d.IsDir() && filepath.ToSlash(rel) == s {
				c.Inodes++
				c.Bytes += 4096
				return fs.SkipDir
			}
		}
		c.Inodes++
		if d.IsDir() {
			c.Bytes += 4096
			return nil
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			c.Bytes += alignUp(fi.Size(), 4096)
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("image: reading %s: %w", dir, err)
	}
	return c, nil
}

// ext4Journal is mke2fs's default journal size for a filesystem of size bytes.
func ext4Journal(size int64) int64 {
	blocks := size / 4096
	switch {
	case blocks < 32768:
		return 4 << 20
	case blocks < 256*1024:
		return 16 << 20
	case blocks < 512*1024:
		return 32 << 20
	case blocks < 4096*1024:
		return 64 << 20
	case blocks < 8192*1024:
		return 128 << 20
	case blocks < 16384*1024:
		return 256 << 20
	case blocks < 32768*1024:
		return 512 << 20
	}
	return 1 << 30
}

// ext4Fits reports whether c fits an ext4 of size bytes (4 KiB blocks,
// 16 KiB per inode, 256-byte inodes), with a little slack for metadata.
func ext4Fits(c content, size int64) bool {
	usable := size - size/64 - ext4Journal(size) - 2<<20
	return usable >= c.Bytes+c.Bytes/50 && size/16384 >= c.Inodes+16
}

// ext4Need is the smallest ext4 size (whole MiB) that ext4Fits c.
func ext4Need(c content) int64 {
	lo, hi := int64(8<<20), int64(16<<20)
	for !ext4Fits(c, hi) {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1<<20 {
		mid := alignUp((lo+hi)/2, 1<<20)
		if mid >= hi {
			break
		}
		if ext4Fits(c, mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// vfatNeed is the smallest FAT32 size (whole MiB, at least MinBootSize)
// for c with 512-byte clusters.
func vfatNeed(c content) int64 {
	// Data in 512-byte clusters is at most what 4 KiB rounding counted;
	// two FATs take 4 bytes per cluster each.
	n := c.Bytes + c.Bytes/64 + c.Inodes*512 + 2<<20
	return max(alignUp(n, 1<<20), MinBootSize)
}

// MinBootSize is the smallest boot (FAT32) partition written.
const MinBootSize = 64 << 20

// runTool runs a command and folds its output into the error.
func runTool(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if errors.Is(err, exec.ErrNotFound) {
			return out, fmt.Errorf("image: %s is not installed: %w", name, err)
		}
		return out, fmt.Errorf("image: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// makeVFAT creates a FAT32 image file of size bytes labelled label with
// volume id volID, filled with the entries of srcDir; entries named in
// replace are written with the given contents instead.
func makeVFAT(ctx context.Context, file string, size int64, label string, volID uint32, srcDir string, replace map[string][]byte) error {
	args := []string{"-F", "32", "-n", label, "-i", fmt.Sprintf("%08X", volID), "-S", "512"}
	if size < 260<<20 {
		args = append(args, "-s", "1") // mtools cannot read smaller FAT32 with bigger clusters
	}
	args = append(args, "-C", file, fmt.Sprint(size/1024))
	if _, err := runTool(ctx, nil, "mkfs.vfat", args...); err != nil {
		return err
	}
	ents, err := os.ReadDir(srcDir)
	if err != nil {
		return fmt.Errorf("image: reading %s: %w", srcDir, err)
	}
	var srcs []string
	for _, e := range ents {
		if _, ok := replace[e.Name()]; ok {
			continue
		}
		srcs = append(srcs, filepath.Join(srcDir, e.Name()))
	}
	tmp, err := os.MkdirTemp(filepath.Dir(file), ".vfat-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	names := make([]string, 0, len(replace))
	for n := range replace {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(tmp, n)
		if err := os.WriteFile(p, replace[n], 0o644); err != nil {
			return err
		}
		srcs = append(srcs, p)
	}
	if len(srcs) == 0 {
		return nil
	}
	env := []string{"MTOOLS_SKIP_CHECK=1"}
	args = append([]string{"-i", file, "-s", "-p", "-m", "-Q"}, srcs...)
	args = append(args, "::/")
	_, err = runTool(ctx, env, "mcopy", args...)
	return err
}

// mke2fsConf pins the ext4 layout (4 KiB blocks, 256-byte inodes, one
// inode per 16 KiB, the feature set Raspberry Pi OS kernels mount) so the
// result does not depend on the host's /etc/mke2fs.conf.
const mke2fsConf = `[defaults]
	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
	default_mntopts = acl,user_xattr
	enable_periodic_fsck = 0
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
	lazy_itable_init = 1

[fs_types]
	ext4 = {
		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
	}
`

// rootEdit is a file the native stage puts into the root filesystem image
// (never into the source tree).
type rootEdit struct {
	Path string // absolute inside the rootfs, e.g. /etc/fstab
	Data []byte
	Mode uint32 // permission bits
	// Link, when set, makes Path a symlink to Link instead of a file.
	Link string
}

// UnsafeNameError refuses a file name that a debugfs script cannot
// carry: debugfs reads one command per line, so a newline or carriage
// return in a name would end the command (and start another).
type UnsafeNameError struct {
	// Path is the file's path inside the root filesystem.
	Path string
}

func (e *UnsafeNameError) Error() string {
	return fmt.Sprintf("image: cannot edit %q in the root filesystem image: its name holds a line break", e.Path)
}

// maxDebugfsArg bounds a quoted argument, so that a command line stays
// well within the line debugfs reads (BUFSIZ, 8 KiB).
const maxDebugfsArg = 3 * 1024

// debugfsQuote quotes p for a debugfs command line the way debugfs's
// parser (e2fsprogs' ss library) reads it: inside double quotes every
// byte stands for itself, and "" stands for one double quote. Line
// breaks cannot be quoted and are refused, as are names too long for a
// command line.
func debugfsQuote(p string) (string, error) {
	if strings.ContainsAny(p, "\n\r") {
		return "", &UnsafeNameError{Path: p}
	}
	q := `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	if len(q) > maxDebugfsArg {
		return "", fmt.Errorf("image: cannot edit %q in the root filesystem image: the name is too long for debugfs", p)
	}
	return q, nil
}

// emptyCmds returns the debugfs commands that empty the directories in
// empty (relative to srcDir) inside the image: files first, then the
// directories below, deepest first. q quotes a path.
func emptyCmds(srcDir string, empty []string, q func(string) string) ([]string, error) {
	var cmds []string
	for _, e := range empty {
		root := filepath.Join(srcDir, e)
		var dirs []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(srcDir, p)
			abs := "/" + filepath.ToSlash(rel)
			if p == root {
				return nil
			}
			if d.IsDir() {
				dirs = append(dirs, abs)
				return nil
			}
			cmds = append(cmds, "rm "+q(abs))
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("image: reading %s: %w", root, err)
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			cmds = append(cmds, "rmdir "+q(dirs[i]))
		}
	}
	return cmds, nil
}

// makeExt4 creates an ext4 image file of size bytes from srcDir with
// mke2fs -d, then applies edits and empties the directories in empty
// (relative paths, e.g. boot/firmware: another partition is mounted there)
// with debugfs, inside the image only.
func makeExt4(ctx context.Context, file string, size int64, label, uuid, srcDir string, edits []rootEdit, empty []string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(file), ".ext4-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	conf := filepath.Join(tmp, "mke2fs.conf")
	if err := os.WriteFile(conf, []byte(mke2fsConf), 0o600); err != nil {
		return err
	}
	var qerr error // the first name debugfs cannot be given
	q := func(p string) string {
		s, err := debugfsQuote(p)
		if err != nil && qerr == nil {
			qerr = err
		}
		return s
	}
	cmds, err := emptyCmds(srcDir, empty, q)
	if err != nil {
		return err
	}
	made := map[string]bool{}
	var mkdirs func(dir string)
	mkdirs = func(dir string) {
		if dir == "/" || made[dir] {
			return
		}
		if fi, err := os.Lstat(filepath.Join(srcDir, dir)); err == nil && fi.IsDir() {
			return
		}
		mkdirs(filepath.Dir(dir))
		cmds = append(cmds, "mkdir "+q(dir), "sif "+q(dir)+" uid 0", "sif "+q(dir)+" gid 0", "sif "+q(dir)+" mode 040755")
		made[dir] = true
	}
	for i, e := range edits {
		mkdirs(filepath.Dir(e.Path))
		if _, err := os.Lstat(filepath.Join(srcDir, e.Path)); err == nil {
			cmds = append(cmds, "rm "+q(e.Path))
		}
		if e.Link != "" {
			cmds = append(cmds, "symlink "+q(e.Path)+" "+q(e.Link))
			continue
		}
		local := filepath.Join(tmp, fmt.Sprint(i))
		if err := os.WriteFile(local, e.Data, 0o600); err != nil {
			return err
		}
		cmds = append(cmds, "write "+q(local)+" "+q(e.Path),
			"sif "+q(e.Path)+" uid 0", "sif "+q(e.Path)+" gid 0",
			fmt.Sprintf("sif %s mode 0%o", q(e.Path), 0o100000|e.Mode))
	}
	if qerr != nil {
		return qerr // before the image exists
	}
	if _, err := runTool(ctx, []string{"MKE2FS_CONFIG=" + conf}, "mke2fs", "-q", "-F", "-t", "ext4",
		"-L", label, "-U", uuid, "-d", srcDir, file, fmt.Sprint(size/1024)); err != nil {
		return err
	}
	if len(cmds) == 0 {
		return nil
	}
	script := filepath.Join(tmp, "cmds")
	if err := os.WriteFile(script, []byte(strings.Join(cmds, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "debugfs", "-w", "-f", script, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("image: debugfs on %s: %w: %s", file, err, strings.TrimSpace(stderr.String()))
	}
	// debugfs exits 0 even when a command fails; it reports on stderr.
	var problems []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "debugfs ") {
			problems = append(problems, l)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("image: editing the root filesystem image: %s", strings.Join(problems, "; "))
	}
	return nil
}

// copyFunc writes src bytes [off, off+len(p)) to their destination(s).
type copyFunc func(p []byte, off int64) error

// copyData reads the data extents of src (holes stay holes) and passes
// them to put in buffers of up to 4 MiB. It returns the bytes copied.
func copyData(ctx context.Context, src string, put copyFunc) (int64, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	exts, err := sparse.DataExtents(f, fi.Size())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 4<<20)
	var done int64
	for _, e := range exts {
		for off, end := e.Off, e.Off+e.Len; off < end; {
			if err := ctx.Err(); err != nil {
				return done, err
			}
			n := min(int64(len(buf)), end-off)
			if _, err := f.ReadAt(buf[:n], off); err != nil {
				return done, fmt.Errorf("image: reading %s: %w", src, err)
			}
			if err := put(buf[:n], off); err != nil {
				return done, err
			}
			off += n
			done += n
		}
	}
	return done, nil
}
