package gui

import (
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// TestTextContrast: every text colour of the app's theme reaches 4.5:1 on
// every background, in the light and the dark variant; Fyne's own theme
// does not (so the test can fail).
func TestTextContrast(t *testing.T) {
	th := newAppTheme(theme.DefaultTheme())
	for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
		for _, fg := range textColors {
			for _, bg := range textBackgrounds {
				if c := contrast(th.Color(fg, v), th.Color(bg, v)); c < minContrast {
					t.Errorf("variant %d: %s on %s is %.2f:1", v, fg, bg, c)
				}
			}
		}
	}
	base := theme.DefaultTheme()
	if c := contrast(base.Color(theme.ColorNameWarning, theme.VariantLight), base.Color(theme.ColorNameBackground, theme.VariantLight)); c >= minContrast {
		t.Logf("Fyne's light warning colour already has %.2f:1", c)
	}
}

func TestContrastFormula(t *testing.T) {
	black, white := color.NRGBA{A: 0xff}, color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	if c := contrast(black, white); math.Abs(c-21) > 0.01 {
		t.Errorf("black on white: %.2f, want 21", c)
	}
	if c := contrast(white, white); c != 1 {
		t.Errorf("a colour on itself: %.2f, want 1", c)
	}
	grey := color.NRGBA{R: 0x76, G: 0x76, B: 0x76, A: 0xff} // the lightest grey that passes on white
	if c := contrast(grey, white); c < 4.5 || c > 4.6 {
		t.Errorf("#767676 on white: %.2f, want 4.54", c)
	}
}
