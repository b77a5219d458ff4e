package assets

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
)

// AppID is the reverse-DNS application ID used everywhere: FyneApp.toml,
// app.NewWithID, the .desktop and metainfo file names, the icon name and
// the polkit policy.
const AppID = "io.github.pistudio.PiImageStudio"

//go:embed desktop/app.desktop.in
var desktopTemplate string

//go:embed desktop/app.metainfo.xml.in
var metainfoTemplate string

// IconSizes are the hicolor sizes the package installs (px).
var IconSizes = []int{16, 22, 24, 32, 48, 64, 128, 256, 512}

// DesktopEntry returns the .desktop file, starting exe.
func DesktopEntry(exe string) []byte {
	r := strings.NewReplacer("@EXEC@", exe, "@APPID@", AppID, "@WMCLASS@", "Pi Image Studio")
	return []byte(r.Replace(desktopTemplate))
}

// Metainfo returns the AppStream metainfo for release version of date
// (YYYY-MM-DD).
func Metainfo(version, date string) []byte {
	r := strings.NewReplacer("@APPID@", AppID, "@VERSION@", xmlEscape(version), "@DATE@", xmlEscape(date))
	return []byte(r.Replace(metainfoTemplate))
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// IconSVG returns the scalable icon: an SVG holding the PNG icon.
func IconSVG() []byte {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(icon))
	w, h := 256, 256
	if err == nil {
		w, h = cfg.Width, cfg.Height
	}
	return []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="%d" height="%d" viewBox="0 0 %d %d">
  <image width="%d" height="%d" xlink:href="data:image/png;base64,%s"/>
</svg>
`, w, h, w, h, w, h, base64.StdEncoding.EncodeToString(icon)))
}

// IconPNG returns the icon scaled to size×size pixels.
func IconPNG(size int) ([]byte, error) {
	if size < 1 || size > 4096 {
		return nil, fmt.Errorf("icon size %d out of range", size)
	}
	src, err := png.Decode(bytes.NewReader(icon))
	if err != nil {
		return nil, fmt.Errorf("decoding the icon: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, scale(src, size)); err != nil {
		return nil, fmt.Errorf("encoding the icon: %w", err)
	}
	return buf.Bytes(), nil
}

// scale resamples src to size×size: area averaging when shrinking,
// bilinear when growing, in premultiplied colour.
func scale(src image.Image, size int) *image.NRGBA {
	b := src.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, size, size))
	fx, fy := float64(b.Dx())/float64(size), float64(b.Dy())/float64(size)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var c [4]float64
			if fx >= 1 && fy >= 1 {
				c = areaAverage(src, b, float64(x)*fx, float64(y)*fy, fx, fy)
			} else {
				c = bilinear(src, b, (float64(x)+0.5)*fx-0.5, (float64(y)+0.5)*fy-0.5)
			}
			dst.SetNRGBA(x, y, unpremultiply(c))
		}
	}
	return dst
}

func at(src image.Image, b image.Rectangle, x, y int) [4]float64 {
	x = min(max(x, 0), b.Dx()-1)
	y = min(max(y, 0), b.Dy()-1)
	r, g, bl, a := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
	return [4]float64{float64(r), float64(g), float64(bl), float64(a)}
}

func areaAverage(src image.Image, b image.Rectangle, x0, y0, w, h float64) [4]float64 {
	var sum [4]float64
	n := 0.0
	for y := int(y0); y < int(y0+h) && y < b.Dy(); y++ {
		for x := int(x0); x < int(x0+w) && x < b.Dx(); x++ {
			p := at(src, b, x, y)
			for i := range sum {
				sum[i] += p[i]
			}
			n++
		}
	}
	if n == 0 {
		return at(src, b, int(x0), int(y0))
	}
	for i := range sum {
		sum[i] /= n
	}
	return sum
}

func bilinear(src image.Image, b image.Rectangle, x, y float64) [4]float64 {
	x0, y0 := int(floor(x)), int(floor(y))
	tx, ty := x-floor(x), y-floor(y)
	p00, p10 := at(src, b, x0, y0), at(src, b, x0+1, y0)
	p01, p11 := at(src, b, x0, y0+1), at(src, b, x0+1, y0+1)
	var out [4]float64
	for i := range out {
		top := p00[i]*(1-tx) + p10[i]*tx
		bot := p01[i]*(1-tx) + p11[i]*tx
		out[i] = top*(1-ty) + bot*ty
	}
	return out
}

func floor(v float64) float64 {
	f := float64(int(v))
	if f > v {
		f--
	}
	return f
}

// unpremultiply turns 16-bit premultiplied channels into an NRGBA colour.
func unpremultiply(c [4]float64) color.NRGBA {
	a := c[3]
	if a <= 0 {
		return color.NRGBA{}
	}
	ch := func(v float64) uint8 { return uint8(min(max(v/a*255+0.5, 0), 255)) }
	return color.NRGBA{R: ch(c[0]), G: ch(c[1]), B: ch(c[2]), A: uint8(min(a/257+0.5, 255))}
}

// WriteDesktopFiles lays out under root (a package's staging folder) the
// files a desktop installs with the binary at prefix/bin/pistudio:
// the .desktop file, the metainfo, the hicolor icons (every IconSizes
// PNG and the scalable SVG) and the polkit policy.
func WriteDesktopFiles(root, prefix, version, date string) error {
	exe := filepath.Join(prefix, "bin", "pistudio")
	share := filepath.Join(root, prefix, "share")
	files := map[string][]byte{
		filepath.Join(share, "applications", AppID+".desktop"):                       DesktopEntry(exe),
		filepath.Join(share, "metainfo", AppID+".metainfo.xml"):                      Metainfo(version, date),
		filepath.Join(share, "icons", "hicolor", "scalable", "apps", AppID+".svg"):   IconSVG(),
		filepath.Join(root, "usr", "share", "polkit-1", "actions", PolkitPolicyName): PolkitPolicyFor(exe),
	}
	for _, s := range IconSizes {
		b, err := IconPNG(s)
		if err != nil {
			return err
		}
		files[filepath.Join(share, "icons", "hicolor", fmt.Sprintf("%dx%d", s, s), "apps", AppID+".png")] = b
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing desktop files: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("writing desktop files: %w", err)
		}
	}
	return nil
}
