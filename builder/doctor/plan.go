package doctor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/layers"
	"gopkg.in/yaml.v3"
)

// Plan is what the doctor needs to know about a config.
type Plan struct {
	// Config is the config's path ("" for DefaultPlan).
	Config string
	// Arch is the Debian architecture of the image (arm64, armhf).
	Arch string
	// ForeignArchs are further architectures a multiarch layer adds
	// ("arm64 armhf" in mmdebstrap's architectures).
	ForeignArchs []string
	// SBOM is true when the build's SBOM step runs (it downloads syft).
	SBOM bool
	// Hosts are the apt archives the layers install from.
	Hosts []string
	// Packages are extra Debian packages the layers need on the host.
	Packages []string
	// ImageBytes is the size of the images the config writes, when known.
	ImageBytes uint64
	// Layers are the resolved layers in build order.
	Layers []string
}

// DefaultPlan is checked when no config is given: an arm64 Raspberry Pi
// OS image with SBOM on, from the Debian and Raspberry Pi archives.
func DefaultPlan() Plan {
	return Plan{Arch: "arm64", SBOM: true, Hosts: []string{"deb.debian.org", "archive.raspberrypi.com"}}
}

// SBOMKey is the config key (sbom.enable) of the variable IGconf_sbom_enable.
const SBOMKey = "sbom.enable"

// PlanFromConfig resolves the config's layers against the tree (and the
// extra source dirs) and reads from them the architecture, the archives
// and whether SBOM is on. overrides (KEY=VALUE) win over the config.
func PlanFromConfig(configPath, toolDir string, sourceDirs, overrides []string) (Plan, error) {
	cfg, err := config.LoadConfig(configPath)
	if err != nil {
		return Plan{}, fmt.Errorf("doctor: %w", err)
	}
	cat, err := layers.LoadCatalog(layers.CatalogOptions{ToolDir: toolDir, SourceDirs: sourceDirs, Embedded: true})
	if err != nil {
		return Plan{}, fmt.Errorf("doctor: %w", err)
	}
	rp, err := layers.ResolveConfig(cfg, cat)
	if err != nil {
		return Plan{}, fmt.Errorf("doctor: %w", err)
	}
	p := Plan{Config: configPath, Arch: "arm64", Layers: rp.Names()}
	var archs []string
	archs, p.Hosts = layersArchAndHosts(rp.Layers, toolDir)
	if len(archs) > 0 {
		p.Arch, p.ForeignArchs = archs[0], archs[1:]
	}
	get := func(key string) (string, bool) {
		env := "IGconf_" + strings.ReplaceAll(key, ".", "_")
		v, ok := "", false
		for _, o := range overrides {
			if k, val, _ := strings.Cut(o, "="); k == env {
				v, ok = val, true
			}
		}
		if ok {
			return v, true
		}
		return cfg.Get(key)
	}
	p.SBOM = sbomOn(rp, get)
	p.ImageBytes = imageBytes(get)
	return p, nil
}

// layersArchAndHosts reads the layers' mmdebstrap architectures (the
// last layer naming some wins; an entry may name several, "arm64 armhf")
// and the hosts of their mirrors, sorted.
func layersArchAndHosts(layers []*layers.Layer, toolDir string) ([]string, []string) {
	var arch []string
	set := map[string]bool{}
	for _, l := range layers {
		b, err := os.ReadFile(l.File)
		if err != nil {
			continue // embedded layers have no file on disk, and no mirrors
		}
		archs, mirrors := layerMirrors(b)
		if len(archs) > 0 {
			arch = nil
			for _, a := range archs {
				arch = append(arch, strings.FieldsFunc(a, func(r rune) bool { return r == ' ' || r == ',' })...)
			}
		}
		for _, m := range mirrors {
			for _, h := range mirrorHosts(m, toolDir) {
				set[h] = true
			}
		}
	}
	hosts := make([]string, 0, len(set))
	for h := range set {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return arch, hosts
}

// sbomOn reports whether the build's SBOM step runs: the sbom-base layer
// is in the build and sbom.enable (its default, the config, an override)
// is true.
func sbomOn(rp *layers.Plan, get func(string) (string, bool)) bool {
	if !rp.Has("sbom-base") {
		return false
	}
	on := true
	for _, pv := range rp.Variables() {
		if pv.Key == SBOMKey {
			on = truthy(pv.Var.Default)
		}
	}
	if v, ok := get(SBOMKey); ok {
		on = truthy(v)
	}
	return on
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y", "yes", "1", "true", "on":
		return true
	}
	return false
}

// layerMirrors reads a layer file's mmdebstrap architectures and mirrors.
func layerMirrors(data []byte) (archs, mirrors []string) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc struct {
			Mmdebstrap struct {
				Architectures []string `yaml:"architectures"`
				Mirrors       []string `yaml:"mirrors"`
			} `yaml:"mmdebstrap"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) || err != nil {
			return archs, mirrors
		}
		archs = append(archs, doc.Mmdebstrap.Architectures...)
		mirrors = append(mirrors, doc.Mmdebstrap.Mirrors...)
	}
}

var urlHost = regexp.MustCompile(`(?:https?|ftp)://([A-Za-z0-9.-]+)`)

// mirrorHosts returns the hosts of one mirror entry: a one-line apt
// source ("deb http://..."), or a .sources/.list file of the tree
// (${IGTOP}/templates/...).
func mirrorHosts(m, toolDir string) []string {
	text := m
	if strings.Contains(m, "${IGTOP}") || strings.HasPrefix(m, "/") {
		p := strings.ReplaceAll(m, "${IGTOP}", toolDir)
		if b, err := os.ReadFile(filepath.Clean(p)); err == nil {
			text = string(b)
		}
	}
	var out []string
	for _, g := range urlHost.FindAllStringSubmatch(text, -1) {
		out = append(out, strings.ToLower(g[1]))
	}
	return out
}

// imageBytes is the size of the images of a raid config (the SD card
// image and one image per external disk); 0 when the config says nothing.
func imageBytes(get func(string) (string, bool)) uint64 {
	sd, _ := get("raid.sdcard_size")
	ext, _ := get("raid.external_size")
	n, _ := get("raid.devices")
	devices, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || devices < 0 || devices > 64 {
		devices = 0
	}
	return parseSize(sd) + uint64(devices)*parseSize(ext)
}

// parseSize reads an rpi-image-gen size (layers.ParseSize: 200M, 1G,
// 4096, 8s); 0 when it is not a byte size or is over 1 TiB.
func parseSize(s string) uint64 {
	n, pct, err := layers.ParseSize(strings.TrimSpace(s))
	if err != nil || pct != 0 || n <= 0 || n > 1<<40 {
		return 0
	}
	return uint64(n)
}
