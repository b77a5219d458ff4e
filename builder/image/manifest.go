package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pistudio/pistudio/flash/sparse"
	"github.com/pistudio/pistudio/internal/imager"
	"github.com/pistudio/pistudio/internal/manifest"
)

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
func writeImagerManifest(dir, outDir string, m *manifest.Manifest, now time.Time) error {
	sd := m.Artifact(m.Roles["sd"])
	if sd == nil {
		return nil
	}
	desc := "Built by Pi Image Studio"
	if m.Layout == manifest.LayoutRAID {
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
