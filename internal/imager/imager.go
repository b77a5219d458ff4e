// Package imager reads and writes Raspberry Pi Imager's local manifest
// (an os_list in a ".rpi-imager-manifest" file), through which Imager
// learns how to customise an image it did not publish, and names the
// first-boot layers Pi Image Studio ships. Both the builder and the
// flasher use it; it imports neither.
package imager

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Ext is the file extension Imager opens as a manifest.
const Ext = ".rpi-imager-manifest"

// Init formats (init_format), as Imager names them.
const (
	InitNone         = "none"
	InitSystemd      = "systemd"
	InitCloudInit    = "cloudinit"
	InitCloudInitRPi = "cloudinit-rpi"
	InitRPiPreseed   = "rpi-preseed"
)

// Layers maps the first-boot layers we ship to the init format their
// reader understands.
var Layers = map[string]string{
	"firstboot-cloudinit":   InitCloudInit,
	"firstboot-rpi-preseed": InitRPiPreseed,
}

// FormatOfLayers returns the init format of the first first-boot layer
// among names, or InitNone.
func FormatOfLayers(names []string) string {
	for _, n := range names {
		if f, ok := Layers[n]; ok {
			return f
		}
	}
	return InitNone
}

// Manifest is a local OS list.
type Manifest struct {
	// OSList are the images.
	OSList []OS `json:"os_list"`
}

// OS is one image of a manifest (the keys Imager's schema defines that a
// local image needs).
type OS struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// URL is the image, a file:// URL for a local file.
	URL string `json:"url"`
	// ExtractSize and ExtractSHA256 describe the image as written.
	ExtractSize   int64  `json:"extract_size,omitempty"`
	ExtractSHA256 string `json:"extract_sha256,omitempty"`
	// ImageDownloadSize and ImageDownloadSHA256 describe the file.
	ImageDownloadSize   int64  `json:"image_download_size,omitempty"`
	ImageDownloadSHA256 string `json:"image_download_sha256,omitempty"`
	// ReleaseDate is YYYY-MM-DD.
	ReleaseDate string `json:"release_date,omitempty"`
	// InitFormat is the customisation format ("none" when absent).
	InitFormat string `json:"init_format,omitempty"`
	// Devices are the device tags the image suits ("pi5-64bit", …).
	Devices []string `json:"devices,omitempty"`
}

// FileURL returns the file:// URL of an absolute path.
func FileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// Write writes m as JSON to path (atomically: a temporary file renamed).
func Write(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Read parses a manifest (at most 4 MiB).
func Read(r io.Reader) (*Manifest, error) {
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(r, 4<<20)).Decode(&m); err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	return &m, nil
}

// ErrNotListed means no manifest beside an image lists it.
var ErrNotListed = errors.New("no manifest lists the image")

// Find looks for a manifest in the image's directory whose os_list has an
// entry for the image file (same base name in its URL), and returns that
// entry and the manifest's path.
func Find(image string) (*OS, string, error) {
	dir, base := filepath.Dir(image), filepath.Base(image)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", fmt.Errorf("looking for a manifest: %w", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), Ext) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		m, err := Read(f)
		f.Close()
		if err != nil {
			continue
		}
		for i := range m.OSList {
			u, err := url.Parse(m.OSList[i].URL)
			if err == nil && filepath.Base(u.Path) == base {
				return &m.OSList[i], p, nil
			}
		}
	}
	return nil, "", fmt.Errorf("%w (%s)", ErrNotListed, base)
}
