// Package manifest reads and writes image.json, the description of an
// image set that the native image stage writes (builder/image) and that
// provisioning reads (flash/provision). It depends on nothing but the
// standard library, so both sides can share it without importing each other.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pistudio/pistudio/internal/atomicfile"
)

// File is the name of the manifest in an output directory.
const File = "image.json"

// Layout names (Manifest.Layout) and artifact kinds (Artifact.Kind).
const (
	LayoutRAID   = "raid"
	LayoutRPiOS  = "image-rpios"
	KindDisk     = "disk-image"
	KindSparse   = "android-sparse"
	KindPart     = "partition-image"
	KindMetadata = "metadata"
)

// Manifest is image.json: what a build wrote and which disk gets what.
// Provisioning reads it; the field names and their JSON form are stable.
type Manifest struct {
	// Layout is "raid" or "image-rpios".
	Layout string `json:"layout"`
	// Name is the image name (config image.name).
	Name string `json:"name"`
	// Level is "RAID1" or "RAID0" (raid only).
	Level string `json:"level,omitempty"`
	// ArrayUUID is the md set UUID in mdadm form xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx (raid only).
	ArrayUUID string `json:"array_uuid,omitempty"`
	// Devices is the number of external disks in the array (raid only).
	Devices int `json:"devices,omitempty"`
	// Firstboot is the first-boot settings reader the image carries, in
	// Raspberry Pi Imager's init_format names: "cloudinit",
	// "rpi-preseed" or "none".
	Firstboot string `json:"firstboot"`
	// Artifacts lists every file of the set.
	Artifacts []Artifact `json:"artifacts"`
	// Roles maps a disk role ("sd", "external1", ...) to the artifact file
	// to write to that disk (a raw disk image; its Sparse twin is equivalent).
	Roles map[string]string `json:"roles"`
}

// Artifact is one file of an output set.
type Artifact struct {
	// File is the file name inside the output directory.
	File string `json:"file"`
	// Kind is "disk-image", "android-sparse", "partition-image" or "metadata".
	Kind string `json:"kind"`
	// Role is the disk role of a disk image (and of its sparse twin).
	Role string `json:"role,omitempty"`
	// Size is the file's size in bytes (apparent size, holes included).
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the file's bytes.
	SHA256 string `json:"sha256"`
	// Sparse names the Android sparse twin of a raw image.
	Sparse string `json:"sparse,omitempty"`
	// Partitions describes a disk image's partition table.
	Partitions []Partition `json:"partitions,omitempty"`
}

// Partition is one entry of a disk image's partition table.
type Partition struct {
	// Index is the partition number, from 1.
	Index int `json:"index"`
	// Type is the MBR type byte as "0x0c".
	Type string `json:"type"`
	// Start and Size are in bytes.
	Start int64 `json:"start"`
	Size  int64 `json:"size"`
	// FS is "vfat", "ext4" or "linux_raid_member".
	FS string `json:"fs"`
	// Label is the filesystem label, if any.
	Label string `json:"label,omitempty"`
	// UUID is the filesystem UUID (vfat: XXXX-XXXX), or the md array UUID of a member.
	UUID string `json:"uuid,omitempty"`
}

// ErrNotImageSet is returned by Read for a folder without image.json.
var ErrNotImageSet = errors.New("not an image set (no image.json)")

// Error is a problem with one manifest file: it names the file.
type Error struct {
	// Path is the manifest file.
	Path string
	// Err is the underlying problem.
	Err error
}

func (e *Error) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// Read reads dir/image.json and checks that its layout is known and that
// every role names an artifact. A folder without image.json gives an error
// that wraps ErrNotImageSet.
func Read(dir string) (*Manifest, error) {
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Path: dir, Err: ErrNotImageSet}
	}
	if err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	if m.Layout != LayoutRAID && m.Layout != LayoutRPiOS {
		return nil, &Error{Path: path, Err: fmt.Errorf("unknown layout %q", m.Layout)}
	}
	for role, f := range m.Roles {
		if m.Artifact(f) == nil {
			return nil, &Error{Path: path, Err: fmt.Errorf("role %s names %q, which is not an artifact", role, f)}
		}
	}
	return &m, nil
}

// Write writes m as dir/image.json, atomically.
func Write(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, File), append(b, '\n'), 0o644)
}

// Artifact returns the artifact for file, or nil.
func (m *Manifest) Artifact(file string) *Artifact {
	for i := range m.Artifacts {
		if m.Artifacts[i].File == file {
			return &m.Artifacts[i]
		}
	}
	return nil
}
