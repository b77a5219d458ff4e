package gui

import (
	"image/color"
	"math"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// minContrast is the WCAG AA contrast ratio every text colour keeps
// against every background it is drawn on.
const minContrast = 4.5

// textColors are the theme colours labels, entries, buttons and links
// draw text in (widget.Label picks one per importance). The disabled
// colour is left as it is: it marks controls that cannot be used (which
// WCAG exempts), and the app draws no other text in it.
var textColors = []fyne.ThemeColorName{
	theme.ColorNameForeground, theme.ColorNamePrimary, theme.ColorNameError, theme.ColorNameWarning,
	theme.ColorNameSuccess, theme.ColorNamePlaceHolder, theme.ColorNameHyperlink,
}

// textBackgrounds are the backgrounds text is drawn on.
var textBackgrounds = []fyne.ThemeColorName{
	theme.ColorNameBackground, theme.ColorNameInputBackground, theme.ColorNameOverlayBackground,
	theme.ColorNameMenuBackground, theme.ColorNameHeaderBackground,
}

// appTheme is Fyne's theme with text colours darkened (light variant) or
// lightened (dark variant) just enough to reach minContrast on every
// background, so that warnings, placeholders and low-importance labels
// stay readable in both variants.
type appTheme struct {
	fyne.Theme
	mu    sync.Mutex
	cache map[fyne.ThemeVariant]map[fyne.ThemeColorName]color.Color
}

// newAppTheme wraps base (theme.DefaultTheme() in the app).
func newAppTheme(base fyne.Theme) *appTheme {
	return &appTheme{Theme: base, cache: map[fyne.ThemeVariant]map[fyne.ThemeColorName]color.Color{}}
}

// Color returns the base colour, adjusted for contrast when it is a text colour.
func (t *appTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	isText := false
	for _, x := range textColors {
		isText = isText || x == n
	}
	if !isText {
		return t.Theme.Color(n, v)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.cache[v][n]; ok {
		return c
	}
	c := t.readable(t.Theme.Color(n, v), v)
	if t.cache[v] == nil {
		t.cache[v] = map[fyne.ThemeColorName]color.Color{}
	}
	t.cache[v][n] = c
	return c
}

// readable mixes c toward black (light variant) or white (dark) until it
// reaches minContrast against every text background.
func (t *appTheme) readable(c color.Color, v fyne.ThemeVariant) color.Color {
	var bgs []color.Color
	for _, b := range textBackgrounds {
		bgs = append(bgs, t.Theme.Color(b, v))
	}
	target := color.NRGBA{A: 0xff}
	if v == theme.VariantDark {
		target = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	}
	out := toNRGBA(c)
	for step := 0; step < 40 && worstContrast(out, bgs) < minContrast+0.05; step++ {
		out = mix(out, target, 0.06)
	}
	return out
}

// worstContrast is the lowest contrast of fg against any of bgs.
func worstContrast(fg color.Color, bgs []color.Color) float64 {
	worst := math.Inf(1)
	for _, b := range bgs {
		worst = math.Min(worst, contrast(fg, b))
	}
	return worst
}

// contrast is the WCAG 2 contrast ratio of two colours; a translucent
// foreground is first blended over the background.
func contrast(fg, bg color.Color) float64 {
	b := toNRGBA(bg)
	f := blend(toNRGBA(fg), b)
	l1, l2 := luminance(f), luminance(b)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}

// luminance is the WCAG relative luminance.
func luminance(c color.NRGBA) float64 {
	ch := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.R) + 0.7152*ch(c.G) + 0.0722*ch(c.B)
}

func toNRGBA(c color.Color) color.NRGBA { return color.NRGBAModel.Convert(c).(color.NRGBA) }

// blend paints f over an opaque b.
func blend(f, b color.NRGBA) color.NRGBA {
	a := float64(f.A) / 255
	mixc := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*a + float64(y)*(1-a))) }
	return color.NRGBA{R: mixc(f.R, b.R), G: mixc(f.G, b.G), B: mixc(f.B, b.B), A: 0xff}
}

// mix moves c a fraction w toward to, keeping c's alpha but at least
// making it opaque enough to count.
func mix(c, to color.NRGBA, w float64) color.NRGBA {
	m := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-w) + float64(y)*w)) }
	a := c.A
	if a < 0xff {
		a = m(a, 0xff)
	}
	return color.NRGBA{R: m(c.R, to.R), G: m(c.G, to.G), B: m(c.B, to.B), A: a}
}
