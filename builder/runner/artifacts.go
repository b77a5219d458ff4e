package runner

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ArtifactKind classifies a file produced by the image stage.
type ArtifactKind string

// The kinds of artifact.
const (
	// KindDiskImage is a raw whole-disk image (<name>.img).
	KindDiskImage ArtifactKind = "disk-image"
	// KindSparse is an Android sparse image; it must be expanded before use.
	KindSparse ArtifactKind = "android-sparse"
	// KindPartition is a raw partition image (boot.vfat, root.ext4, ...).
	KindPartition ArtifactKind = "partition-image"
	// KindMetadata is a description file (image.json, genimage.cfg, ...).
	KindMetadata ArtifactKind = "metadata"
	// KindOther is anything else.
	KindOther ArtifactKind = "other"
)

// Artifact is one output file of a build.
type Artifact struct {
	Path string       `json:"path"`
	Name string       `json:"name"`
	Kind ArtifactKind `json:"kind"`
	Size int64        `json:"size"`
}

// sparseMagic is the little-endian header magic 0xED26FF3A of an Android sparse image.
var sparseMagic = []byte{0x3a, 0xff, 0x26, 0xed}

// ImageDir returns the folder rpi-image-gen writes the images of
// image.name into: <work>/image-<name>.
func ImageDir(workDir, imageName string) string {
	return filepath.Join(workDir, "image-"+imageName)
}

// ClassifyArtifact returns the kind of file name, looking at the first
// bytes in head when the name alone is not enough.
func ClassifyArtifact(name string, head []byte) ArtifactKind {
	lower := strings.ToLower(name)
	ext := filepath.Ext(lower)
	switch {
	case bytes.HasPrefix(head, sparseMagic) || ext == ".sparse" || ext == ".simg":
		return KindSparse
	case ext == ".img" || ext == ".raw":
		return KindDiskImage
	case ext == ".vfat" || ext == ".fat" || ext == ".ext2" || ext == ".ext3" || ext == ".ext4" ||
		ext == ".btrfs" || ext == ".squashfs" || ext == ".erofs" || ext == ".f2fs":
		return KindPartition
	case ext == ".json" || ext == ".cfg" || ext == ".txt" || ext == ".bmap" || ext == ".yaml" ||
		ext == ".sha256" || lower == "img_uuids" || lower == "manifest":
		return KindMetadata
	}
	return KindOther
}

// ScanArtifacts lists the regular files directly in dir, classified and
// sorted by name.
func ScanArtifacts(dir string) ([]Artifact, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading image dir: %w", err)
	}
	var out []Artifact
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		var head []byte
		if f, err := os.Open(p); err == nil {
			head = make([]byte, 4)
			n, _ := f.Read(head)
			head = head[:n]
			f.Close()
		}
		out = append(out, Artifact{Path: p, Name: e.Name(), Kind: ClassifyArtifact(e.Name(), head), Size: fi.Size()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func modifiedSince(path string, t time.Time) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	return !fi.ModTime().Before(t.Truncate(time.Second))
}

// freshImageDir returns the only <work>/image-* folder changed since
// start, or "" when there is none or more than one. It locates the
// artifacts when the image name could not be read from the config (for
// instance when it is built from variables).
func freshImageDir(workDir string, start time.Time) string {
	m, _ := filepath.Glob(filepath.Join(workDir, "image-*"))
	found := ""
	for _, p := range m {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() || !modifiedSince(p, start) {
			continue
		}
		if found != "" {
			return ""
		}
		found = p
	}
	return found
}
