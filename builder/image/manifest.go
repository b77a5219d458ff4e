package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pistudio/pistudio/flash/sparse"
	"github.com/pistudio/pistudio/internal/imager"
)

// ManifestFile is the name of the manifest in an output directory.
const ManifestFile = "image.json"

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

// ReadManifest reads dir/image.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("image: reading manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("image: %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Layout != LayoutRAID && m.Layout != LayoutRPiOS {
		return nil, fmt.Errorf("image: %s: unknown layout %q", filepath.Join(dir, ManifestFile), m.Layout)
	}
	for role, f := range m.Roles {
		if m.Artifact(f) == nil {
			return nil, fmt.Errorf("image: %s: role %s names %q, which is not an artifact", filepath.Join(dir, ManifestFile), role, f)
		}
	}
	return &m, nil
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

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

// hashFile returns size and hex SHA-256 of path. Holes are hashed as
// zeros without being read.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	exts, err := sparse.DataExtents(f, fi.Size())
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	buf := make([]byte, 4<<20)
	zeros := make([]byte, len(buf))
	hashZeros := func(n int64) {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			h.Write(zeros[:k])
			n -= k
		}
	}
	var pos int64
	for _, e := range exts {
		hashZeros(e.Off - pos)
		if _, err := io.CopyBuffer(h, io.NewSectionReader(f, e.Off, e.Len), buf); err != nil {
			return 0, "", fmt.Errorf("image: hashing %s: %w", path, err)
		}
		pos = e.Off + e.Len
	}
	hashZeros(fi.Size() - pos)
	return fi.Size(), hex.EncodeToString(h.Sum(nil)), nil
}

// ImagerManifestFile is the Raspberry Pi Imager local manifest written
// beside an image set's SD card image.
func ImagerManifestFile(name string) string { return name + imager.Ext }

// writeImagerManifest writes <name>.rpi-imager-manifest into dir: the SD
// card image (as it will be in outDir) with its size, SHA-256 and
// init_format, so that Raspberry Pi Imager offers its settings for it.
func writeImagerManifest(dir, outDir string, m *Manifest, now time.Time) error {
	sd := m.Artifact(m.Roles["sd"])
	if sd == nil {
		return nil
	}
	desc := "Built by Pi Image Studio"
	if m.Layout == LayoutRAID {
		desc += fmt.Sprintf(" (SD card of a %s set: the root file system is on %d external disks)", m.Level, m.Devices)
	}
	man := &imager.Manifest{OSList: []imager.OS{{
		Name:                m.Name,
		Description:         desc,
		URL:                 imager.FileURL(filepath.Join(outDir, sd.File)),
		ExtractSize:         sd.Size,
		ExtractSHA256:       sd.SHA256,
		ImageDownloadSize:   sd.Size,
		ImageDownloadSHA256: sd.SHA256,
		ReleaseDate:         now.UTC().Format("2006-01-02"),
		InitFormat:          m.Firstboot,
	}}}
	return imager.Write(filepath.Join(dir, ImagerManifestFile(m.Name)), man)
}
