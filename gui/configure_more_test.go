package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/pistudio/pistudio/gui/demo"
	"github.com/pistudio/pistudio/gui/form"

	"fyne.io/fyne/v2/test"
)

// TestProblemJumpsToField: tapping a problem of the summary scrolls the
// form to its field and focuses it.
func TestProblemJumpsToField(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	f := h.field("raid.devices")
	f.entry.SetText("12")
	h.validated()
	h.g.cfg.formScroll.ScrollToTop()
	if len(h.g.cfg.summary.Objects) == 0 {
		t.Fatal("no problem listed")
	}
	l, ok := h.g.cfg.summary.Objects[0].(*tapLabel)
	if !ok {
		t.Fatalf("summary row is a %T", h.g.cfg.summary.Objects[0])
	}
	test.Tap(l)
	if h.w.Canvas().Focused() != f.entry {
		t.Error("the field is not focused")
	}
	if h.g.cfg.formScroll.Offset.Y <= 0 {
		t.Error("the form did not scroll to the field")
	}
}

// TestHostnameMustBeRFC1123: a host name with an underscore or a leading
// hyphen is flagged at its field; a valid one is not.
func TestHostnameMustBeRFC1123(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	e := h.field(keyHostname).entry
	for _, bad := range []string{"my_pi", "-pi", "pi-", "p i"} {
		if e.Validator(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, good := range []string{"pi5", "raid-device", "P1"} {
		if err := e.Validator(good); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
}

// TestOtherKeysCanBeRemoved: a key no chosen layer declares is shown with
// a Remove button, which deletes it from the file.
func TestOtherKeysCanBeRemoved(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	if err := h.g.cfg.doc.Set("sys.apt_proxy", "http://cache:3142"); err != nil {
		t.Fatal(err)
	}
	h.g.cfg.rebuildForms()
	if keys := h.g.cfg.otherKeys(); len(keys) != 1 || keys[0] != "sys.apt_proxy" {
		t.Fatalf("other keys %v", keys)
	}
	h.g.cfg.removeKey("sys.apt_proxy")
	h.validated()
	if _, ok := h.g.cfg.doc.Get("sys.apt_proxy"); ok || !h.g.cfg.dirty {
		t.Error("the key was not removed")
	}
	if len(h.g.cfg.otherKeys()) != 0 || strings.Contains(h.g.cfg.yamlText, "apt_proxy") {
		t.Errorf("still shown: %v\n%s", h.g.cfg.otherKeys(), h.g.cfg.yamlText)
	}
}

// listCatalog is a catalog over a slice, for tests.
type listCatalog []form.Layer

func (l listCatalog) Layers() []form.Layer { return l }

func (l listCatalog) Lookup(name string) (form.Layer, bool) {
	for _, x := range l {
		if x.Name == name {
			return x, true
		}
	}
	return form.Layer{}, false
}

// TestSuiteVariablesHaveFields: the variables of the chosen suite get
// fields too, grouped by their config section.
func TestSuiteVariablesHaveFields(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	cat := append(listCatalog{}, demo.NewCatalog().Layers()...)
	for i, l := range cat {
		if l.Name == "bookworm-minbase" {
			cat[i].Vars = []form.Var{{Key: "sys.apt_proxy", Name: "apt_proxy", Desc: "Proxy for apt."}}
		}
	}
	h.g.cfg.setCatalog(cat)
	h.validated()
	if h.g.cfg.fields["sys.apt_proxy"] == nil {
		t.Fatal("the suite's variable has no field")
	}
}

// TestOneLabelColumn: the labels of every card of the form are as wide as
// the widest, so that the fields line up; the problem summary is not
// above the form.
func TestOneLabelColumn(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	cells := h.g.cfg.labelCol.labels
	if len(cells) < 5 {
		t.Fatalf("%d labels", len(cells))
	}
	w := h.g.cfg.labelCol.width()
	for _, l := range cells {
		if l.MinSize().Width > w {
			t.Errorf("a label is wider than the column")
		}
	}
	var widths []float32
	for _, o := range h.g.cfg.devForm.Objects {
		if c, ok := o.(*fyne.Container); ok && c.Layout == h.g.cfg.labelCol {
			widths = append(widths, c.MinSize().Width)
		}
	}
	if len(widths) == 0 || widths[0] != w {
		t.Errorf("device card label cells %v, want %v", widths, w)
	}
	f := h.field("raid.devices")
	f.entry.SetText("12")
	h.validated()
	if h.g.cfg.toolBanner.Visible() {
		t.Fatal("the tool banner is shown with the demo tool")
	}
	h.w.Content().Refresh()
	if y := h.g.cfg.formScroll.Position().Y; y != 0 || !h.g.cfg.sumCard.Visible() {
		t.Errorf("the form moved down to %v when a problem appeared", y)
	}
}
