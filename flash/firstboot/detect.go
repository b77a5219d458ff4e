package firstboot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/pistudio/pistudio/internal/imager"
)

// SetFile is the manifest of a Pi Image Studio image set (image.json).
const SetFile = "image.json"

// Reasons Detect gives when settings cannot be applied.
const (
	ReasonNoLayer   = "built without a first-boot reader layer: turn on \"settings at flash time\" in the config and build again"
	ReasonUnknown   = "nothing says which first-boot reader the image has (no image.json of a build, no .rpi-imager-manifest beside it, not an official Raspberry Pi OS release)"
	ReasonManifestN = "its .rpi-imager-manifest says init_format none"
)

// reRaspiOS matches the file names of official Raspberry Pi OS releases,
// e.g. 2024-11-19-raspios-bookworm-arm64-lite.img.xz.
var reRaspiOS = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})-raspios-([a-z]+)-(armhf|arm64)(-lite|-full)?\.img(\.xz|\.zip|\.gz|\.zst)?$`)

// Detect tells which first-boot reader the image file at path has: from
// the image.json of the set it belongs to, from a .rpi-imager-manifest
// beside it that lists it, or from an official Raspberry Pi OS release
// name. When none says, Format is None and Reason says why.
func Detect(path string) Reader {
	if r, ok := fromSet(path); ok {
		return r
	}
	if e, mp, err := imager.Find(path); err == nil {
		f, perr := ParseFormat(e.InitFormat)
		if perr != nil || f == None {
			reason := ReasonManifestN
			if perr != nil {
				reason = fmt.Sprintf("its .rpi-imager-manifest names an unknown init_format %q", e.InitFormat)
			}
			return Reader{Format: None, From: mp, Reason: reason}
		}
		return Reader{Format: f, From: mp}
	}
	if f, ok := releaseFormat(filepath.Base(path)); ok {
		return Reader{Format: f, From: "release name"}
	}
	return Reader{Format: None, Reason: ReasonUnknown}
}

// releaseFormat knows the official releases: Bookworm and older, and
// Trixie up to its first release, run firstrun.sh; later Trixie
// releases read cloud-init.
func releaseFormat(name string) (Format, bool) {
	m := reRaspiOS.FindStringSubmatch(name)
	if m == nil {
		return None, false
	}
	switch m[2] {
	case "bullseye", "bookworm":
		return Systemd, true
	case "trixie":
		if m[1] <= "2025-10-01" {
			return Systemd, true
		}
		return CloudInitRPi, true
	}
	return None, false
}

// fromSet reads image.json in the image's directory when it lists the
// image.
func fromSet(path string) (Reader, bool) {
	mp := filepath.Join(filepath.Dir(path), SetFile)
	f, err := os.Open(mp)
	if err != nil {
		return Reader{}, false
	}
	defer f.Close()
	var set struct {
		Firstboot *string `json:"firstboot"`
		Artifacts []struct {
			File string `json:"file"`
		} `json:"artifacts"`
	}
	if err := json.NewDecoder(io.LimitReader(f, 4<<20)).Decode(&set); err != nil {
		return Reader{}, false
	}
	listed := false
	for _, a := range set.Artifacts {
		listed = listed || a.File == filepath.Base(path)
	}
	if !listed {
		return Reader{}, false
	}
	if set.Firstboot == nil {
		return Reader{Format: None, From: mp, Reason: ReasonNoLayer}, true
	}
	fm, err := ParseFormat(*set.Firstboot)
	if errors.Is(err, ErrUnknownFormat) {
		return Reader{Format: None, From: mp, Reason: err.Error()}, true
	}
	if fm == None {
		return Reader{Format: None, From: mp, Reason: ReasonNoLayer}, true
	}
	return Reader{Format: fm, From: mp}, true
}
