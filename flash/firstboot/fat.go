package firstboot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem"
)

// ErrNoBootPartition means the disk or image has no FAT partition.
var ErrNoBootPartition = errors.New("no FAT boot partition found")

// CmdlineFile is the kernel command line on the boot partition.
const CmdlineFile = "cmdline.txt"

// ReadBackError reports a file that did not read back as written.
type ReadBackError struct {
	// Name is the file on the boot partition.
	Name string
}

func (e *ReadBackError) Error() string {
	return fmt.Sprintf("%s did not read back as written on the boot partition", e.Name)
}

// Applied describes a finished Apply.
type Applied struct {
	// Partition is the boot partition's index (1-based).
	Partition int `json:"partition"`
	// Files are the names written, cmdline.txt included when edited.
	Files []string `json:"files"`
	// Cmdline is the new kernel command line ("" when not edited).
	Cmdline string `json:"cmdline,omitempty"`
	// Skipped lists set fields the format could not carry.
	Skipped []Field `json:"skipped,omitempty"`
}

// Apply writes p's files into the FAT boot partition of the disk or image
// opened read-write as f, edits cmdline.txt when p has kernel arguments
// and it exists, flushes, drops cached pages and reads every written file
// back through a fresh reading of the partition. f is not closed. The
// caller opened f (exclusively, after its own guards, for a device).
func Apply(ctx context.Context, f *os.File, p *Payload) (*Applied, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fsys, idx, err := bootFS(f, false)
	if err != nil {
		return nil, err
	}
	start, err := partStart(f, idx)
	if err != nil {
		return nil, err
	}
	want := map[string][]byte{}
	res := &Applied{Partition: idx, Skipped: p.Skipped}
	for _, fl := range p.Files {
		if err := writeFile(fsys, fl.Name, fl.Data); err != nil {
			return nil, err
		}
		want[fl.Name] = fl.Data
		res.Files = append(res.Files, fl.Name)
	}
	if res.Cmdline, err = editCmdlineFile(fsys, p.Cmdline); err != nil {
		return nil, err
	}
	if res.Cmdline != "" {
		want[CmdlineFile] = []byte(res.Cmdline)
		res.Files = append(res.Files, CmdlineFile)
	}
	if fsys.Type() == filesystem.TypeFat32 {
		if err := forgetFreeCount(f, start); err != nil {
			return nil, err
		}
	}
	if err := flushAndCheck(ctx, f, want, res.Files); err != nil {
		return nil, err
	}
	return res, nil
}

// editCmdlineFile appends args to cmdline.txt when there are any and the
// file exists; it returns the new line ("" when not edited).
func editCmdlineFile(fsys filesystem.FileSystem, args []string) (string, error) {
	if len(args) == 0 {
		return "", nil
	}
	old, err := readFile(fsys, CmdlineFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	line, _, _ := bytes.Cut(old, []byte("\n"))
	cl := EditCmdline(string(line), args)
	if err := writeFile(fsys, CmdlineFile, []byte(cl)); err != nil {
		return "", err
	}
	return cl, nil
}

// flushAndCheck syncs f, drops its cached pages and reads the named files
// back from the medium, comparing them with want.
func flushAndCheck(ctx context.Context, f *os.File, want map[string][]byte, names []string) error {
	if err := f.Sync(); err != nil {
		return fmt.Errorf("flushing %s: %w", f.Name(), err)
	}
	if err := dropCache(f); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	got, err := ReadFiles(f, names...)
	if err != nil {
		return fmt.Errorf("reading the settings back: %w", err)
	}
	for _, n := range names {
		if !bytes.Equal(got[n], want[n]) {
			return &ReadBackError{Name: n}
		}
	}
	return nil
}

// ApplyPath opens the image file at path read-write and applies p. It is
// for image files: a device is refused (callers open devices themselves,
// after their guards, and call Apply).
func ApplyPath(ctx context.Context, path string, p *Payload) (*Applied, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file: open devices with their guards and use Apply", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	res, err := Apply(ctx, f, p)
	if cerr := f.Close(); cerr != nil && err == nil {
		return nil, fmt.Errorf("closing %s: %w", path, cerr)
	}
	return res, err
}

// ReadFiles reads the named files from the FAT boot partition of the disk
// or image opened as f (read-only use). A missing file is an error
// matching os.ErrNotExist.
func ReadFiles(f *os.File, names ...string) (map[string][]byte, error) {
	fsys, _, err := bootFS(f, true)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := readFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out[n] = b
	}
	return out, nil
}

// bootFS finds the first partition holding a FAT file system.
func bootFS(f *os.File, readOnly bool) (filesystem.FileSystem, int, error) {
	d, err := diskfs.OpenBackend(file.New(f, readOnly))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the partition table of %s: %w", f.Name(), err)
	}
	t, err := d.GetPartitionTable()
	if err != nil {
		return nil, 0, fmt.Errorf("reading the partition table of %s: %w", f.Name(), err)
	}
	for i, p := range t.GetPartitions() {
		if p == nil || p.GetSize() == 0 {
			continue
		}
		fsys, err := d.GetFilesystem(i + 1)
		if err != nil {
			continue
		}
		switch fsys.Type() {
		case filesystem.TypeFat12, filesystem.TypeFat16, filesystem.TypeFat32:
			return fsys, i + 1, nil
		}
	}
	return nil, 0, fmt.Errorf("%s: %w", f.Name(), ErrNoBootPartition)
}

func writeFile(fsys filesystem.FileSystem, name string, data []byte) error {
	fl, err := fsys.OpenFile("/"+name, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("creating %s on the boot partition: %w", name, err)
	}
	if _, err := fl.Write(data); err != nil {
		fl.Close()
		return fmt.Errorf("writing %s on the boot partition: %w", name, err)
	}
	if err := fl.Close(); err != nil {
		return fmt.Errorf("closing %s on the boot partition: %w", name, err)
	}
	return nil
}

// maxFile bounds the files read from the boot partition.
const maxFile = 16 << 20

// readFile reads a whole file in one Read call of exactly its size:
// go-diskfs v1.9.4 returns bytes past the end of a file when a read
// starts inside a cluster, so reads never continue from an offset.
func readFile(fsys filesystem.FileSystem, name string) ([]byte, error) {
	size, ok := exists(fsys, name)
	if !ok {
		return nil, fmt.Errorf("%s on the boot partition: %w", name, os.ErrNotExist)
	}
	if size > maxFile {
		return nil, fmt.Errorf("%s on the boot partition is %d bytes, more than %d", name, size, maxFile)
	}
	fl, err := fsys.OpenFile("/"+name, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("opening %s on the boot partition: %w", name, err)
	}
	defer fl.Close()
	b := make([]byte, size)
	if size == 0 {
		return b, nil
	}
	n, err := fl.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s on the boot partition: %w", name, err)
	}
	if int64(n) != size {
		return nil, fmt.Errorf("reading %s on the boot partition: %d of %d bytes", name, n, size)
	}
	return b, nil
}

// exists looks name up in the root directory (case-insensitively, as
// FAT does) and returns its size.
func exists(fsys filesystem.FileSystem, name string) (int64, bool) {
	ents, err := fsys.ReadDir("/")
	if err != nil {
		ents, err = fsys.ReadDir(".")
	}
	if err != nil {
		return 0, false
	}
	for _, e := range ents {
		if bytes.EqualFold([]byte(e.Name()), []byte(name)) && !e.IsDir() {
			info, err := e.Info()
			if err != nil {
				return 0, false
			}
			return info.Size(), true
		}
	}
	return 0, false
}

// partStart returns the byte offset of partition idx (1-based).
func partStart(f *os.File, idx int) (int64, error) {
	d, err := diskfs.OpenBackend(file.New(f, true))
	if err != nil {
		return 0, fmt.Errorf("reading the partition table of %s: %w", f.Name(), err)
	}
	t, err := d.GetPartitionTable()
	if err != nil {
		return 0, fmt.Errorf("reading the partition table of %s: %w", f.Name(), err)
	}
	return t.GetPartitions()[idx-1].GetStart(), nil
}

// forgetFreeCount marks the free-cluster count of a FAT32 file system's
// FSInfo sectors (main and backup) as unknown (0xFFFFFFFF), which the
// FAT specification allows and which makes readers count afresh:
// go-diskfs does not keep that count right when it adds files.
func forgetFreeCount(f *os.File, start int64) error {
	boot := make([]byte, 512)
	if _, err := f.ReadAt(boot, start); err != nil {
		return fmt.Errorf("reading the boot sector: %w", err)
	}
	bps := int64(binary.LittleEndian.Uint16(boot[11:]))
	if string(boot[82:90]) != "FAT32   " || bps < 512 {
		return nil
	}
	for _, sec := range []uint16{binary.LittleEndian.Uint16(boot[48:]), binary.LittleEndian.Uint16(boot[50:]) + 1} {
		if sec == 0 || sec == 0xffff || sec == 1 && binary.LittleEndian.Uint16(boot[50:]) == 0 {
			continue
		}
		off := start + int64(sec)*bps
		fsi := make([]byte, 512)
		if _, err := f.ReadAt(fsi, off); err != nil {
			return fmt.Errorf("reading the FSInfo sector: %w", err)
		}
		if binary.LittleEndian.Uint32(fsi[0:]) != 0x41615252 || binary.LittleEndian.Uint32(fsi[484:]) != 0x61417272 {
			continue
		}
		binary.LittleEndian.PutUint32(fsi[488:], 0xffffffff)
		if _, err := f.WriteAt(fsi, off); err != nil {
			return fmt.Errorf("writing the FSInfo sector: %w", err)
		}
	}
	return nil
}
