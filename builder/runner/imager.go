package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pistudio/pistudio/internal/imager"
)

// imagerManifests writes, beside each disk image the tool made, a
// Raspberry Pi Imager local manifest (<image>.rpi-imager-manifest) with
// its size, SHA-256 and the job's first-boot reader as init_format, so
// that Imager can customise it; it returns them as metadata artifacts.
// A failure is logged and leaves the build as it was.
func (r *Run) imagerManifests(arts []Artifact) []Artifact {
	var out []Artifact
	for _, a := range arts {
		if a.Kind != KindDiskImage || !strings.HasSuffix(a.Name, ".img") {
			continue
		}
		p, err := writeImagerManifest(a, r.job.ImageName, r.job.Firstboot, time.Now())
		if err != nil {
			r.internal("no .rpi-imager-manifest for " + a.Name + ": " + err.Error())
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		out = append(out, Artifact{Path: p, Name: filepath.Base(p), Kind: KindMetadata, Size: st.Size()})
	}
	return out
}

func writeImagerManifest(a Artifact, name, firstboot string, now time.Time) (string, error) {
	f, err := os.Open(a.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", a.Path, err)
	}
	if firstboot == "" {
		firstboot = imager.InitNone
	}
	if name == "" {
		name = strings.TrimSuffix(a.Name, ".img")
	}
	sum := hex.EncodeToString(h.Sum(nil))
	abs, err := filepath.Abs(a.Path)
	if err != nil {
		return "", err
	}
	p := strings.TrimSuffix(a.Path, ".img") + imager.Ext
	m := &imager.Manifest{OSList: []imager.OS{{
		Name: name, Description: "Built by Pi Image Studio with rpi-image-gen", URL: imager.FileURL(abs),
		ExtractSize: n, ExtractSHA256: sum, ImageDownloadSize: n, ImageDownloadSHA256: sum,
		ReleaseDate: now.UTC().Format("2006-01-02"), InitFormat: firstboot,
	}}}
	return p, imager.Write(p, m)
}
