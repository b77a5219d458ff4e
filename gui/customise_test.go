package gui

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"github.com/pistudio/pistudio/flash/firstboot"
)

// customReady selects image in the Flash section and waits for its
// reader to be known.
func (h *harness) customReady(image string) *customiseView {
	h.t.Helper()
	h.g.flash.start(h.g.ctx)
	h.waitFor("disks", func() bool { return len(h.g.flash.all) > 0 })
	h.g.flash.selectImage(image)
	h.waitFor("image info and reader", func() bool { return h.g.flash.info != nil && h.g.custom.image == image })
	return h.g.custom
}

// sampleImage is the SD card image of the demo's RAID set, which carries
// the cloud-init reader.
func (h *harness) sampleImage() string {
	return filepath.Join(h.work, "image-raid-test", "sdcard.img")
}

// TestCustomiseGreyedWithReason: an image without a first-boot reader
// cannot take settings; the panel is greyed and says why.
func TestCustomiseGreyedWithReason(t *testing.T) {
	h := newHarness(t)
	c := h.customReady(filepath.Join(h.work, "x.img"))
	if !c.enable.Disabled() {
		t.Error("the switch can be turned on")
	}
	for f, e := range c.entries {
		if !e.Disabled() {
			t.Errorf("field %s is enabled", f)
		}
	}
	if !strings.Contains(c.why.Text, firstboot.ReasonUnknown) {
		t.Errorf("reason %q", c.why.Text)
	}
	c = h.customReady(h.sampleImage())
	if c.enable.Disabled() || !strings.Contains(c.why.Text, firstboot.CloudInit.Label()) {
		t.Errorf("with a reader: disabled %v, text %q", c.enable.Disabled(), c.why.Text)
	}
}

// TestSeveralCardsOffByDefault: the Flash section writes one disk unless
// the user asks for several.
func TestSeveralCardsOffByDefault(t *testing.T) {
	h := newHarness(t)
	h.customReady(h.sampleImage())
	m := h.g.flash.many
	if m.On() || m.panel.Visible() || !h.g.flash.list.Visible() {
		t.Fatalf("several cards on %v, panel %v, list %v", m.On(), m.panel.Visible(), h.g.flash.list.Visible())
	}
	test.Tap(m.sw)
	if !m.panel.Visible() || h.g.flash.list.Visible() || len(m.rows) != 4 {
		t.Errorf("after the switch: panel %v, list %v, %d rows", m.panel.Visible(), h.g.flash.list.Visible(), len(m.rows))
	}
	if !h.g.flash.flashBtn.Disabled() || !m.btn.Disabled() {
		t.Error("a Flash button is enabled with nothing ticked")
	}
}

// TestSeveralCardsHostnames: each ticked disk shows and gets its own
// hostname from the pattern, with its own progress and result.
func TestSeveralCardsHostnames(t *testing.T) {
	h := newHarness(t)
	c := h.customReady(h.sampleImage())
	test.Tap(c.enable)
	c.entries[firstboot.FieldHostname].SetText("pi-{n}")
	c.entries[firstboot.FieldUser].SetText("pi")
	c.entries[firstboot.FieldPassword].SetText("secret pass")
	m := h.g.flash.many
	test.Tap(m.sw)
	var rows []*targetRow
	for _, r := range m.rows {
		if r.d.Path == "/dev/mmcblk0" || r.d.Path == "/dev/sdb" {
			test.Tap(r.pick)
			rows = append(rows, r)
		}
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, want := range []string{"hostname pi-1", "hostname pi-2"} {
		if rows[i].host.Text != want {
			t.Errorf("row %d shows %q, want %q", i, rows[i].host.Text, want)
		}
	}
	test.Tap(m.btn)
	if h.g.flash.confirm == nil {
		t.Fatal("no confirmation")
	}
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("both writes", func() bool {
		return !h.g.flash.running && strings.HasPrefix(h.g.flash.progress.Text, "2 of 2")
	})
	for i, r := range rows {
		h.checkTarget(r, []string{"pi-1", "pi-2"}[i])
	}
	if n := len(h.be.Flasher.Jobs()); n != 2 {
		t.Errorf("%d writes", n)
	}
}

// checkTarget checks that a written row got its own hostname, never the
// plain password, and shows its result.
func (h *harness) checkTarget(r *targetRow, host string) {
	h.t.Helper()
	p := h.be.Flashtime.Applied(r.d.Path)
	if p == nil {
		h.t.Fatalf("no settings written to %s", r.d.Path)
	}
	if !payloadHas(p, `hostname: "`+host+`"`) || payloadHas(p, "secret pass") {
		h.t.Errorf("%s: payload without hostname %s, or with the plain password", r.d.Path, host)
	}
	if !strings.Contains(r.state.Text, "hostname "+host) || r.bar.Value != 1 {
		h.t.Errorf("%s: state %q, bar %v", r.d.Path, r.state.Text, r.bar.Value)
	}
}

// payloadHas reports whether a file of p holds s.
func payloadHas(p *firstboot.Payload, s string) bool {
	for _, f := range p.Files {
		if strings.Contains(string(f.Data), s) {
			return true
		}
	}
	return false
}

// TestOneCardGetsSettings: a one-disk write with Customise on writes the
// settings afterwards and says so.
func TestOneCardGetsSettings(t *testing.T) {
	h := newHarness(t)
	c := h.customReady(h.sampleImage())
	test.Tap(c.enable)
	c.entries[firstboot.FieldHostname].SetText("kiosk")
	h.g.flash.selectDisk("/dev/sdb")
	test.Tap(h.g.flash.flashBtn)
	test.Tap(h.g.flash.confirm.confirm)
	h.waitFor("the write", func() bool { return !h.g.flash.running && h.g.flash.result.Text != "" })
	if p := h.be.Flashtime.Applied("/dev/sdb"); p == nil || !payloadHas(p, "kiosk") {
		t.Fatalf("settings not written: %+v", p)
	}
	if !strings.Contains(h.g.flash.result.Text, "hostname kiosk") {
		t.Errorf("result %q", h.g.flash.result.Text)
	}
}

// TestProfileSaveAndLoad: a saved profile keeps the password only hashed
// and fills the form again.
func TestProfileSaveAndLoad(t *testing.T) {
	h := newHarness(t)
	c := h.customReady(h.sampleImage())
	test.Tap(c.enable)
	c.entries[firstboot.FieldUser].SetText("alice")
	c.entries[firstboot.FieldPassword].SetText("hunter22")
	c.saveProfile("lab")
	ps, err := c.store()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ps.Load("lab")
	if err != nil {
		t.Fatal(err)
	}
	if s.User != "alice" || !strings.HasPrefix(s.PasswordHash, "$6$") || s.Password != "" {
		t.Errorf("profile %+v", s)
	}
	c.entries[firstboot.FieldUser].SetText("")
	c.profiles.SetSelected("")
	c.loadProfile("lab")
	if got := c.entries[firstboot.FieldUser].Text; got != "alice" || c.entries[firstboot.FieldPassword].Text != "" {
		t.Errorf("user %q, password field %q", got, c.entries[firstboot.FieldPassword].Text)
	}
	if got := c.settings().PasswordHash; got != s.PasswordHash {
		t.Errorf("hash kept %q", got)
	}
}

// TestConfigureSwitchAddsReaderLayer: the switch adds the first-boot layer
// to the config through the editor and removes it again.
func TestConfigureSwitchAddsReaderLayer(t *testing.T) {
	h := newHarness(t)
	h.open("raid-config.yaml")
	sw := h.g.cfg.flashtime
	if sw.check.Checked {
		t.Fatal("on for a config without a reader layer")
	}
	test.Tap(sw.check)
	if v, _ := h.g.cfg.doc.Get(keyFirstbootLayer); v != "firstboot-cloudinit" {
		t.Fatalf("layer.firstboot = %q", v)
	}
	if !h.g.cfg.dirty || !strings.Contains(h.g.cfg.yamlText, "firstboot-cloudinit") {
		t.Errorf("dirty %v, YAML %q", h.g.cfg.dirty, h.g.cfg.yamlText)
	}
	if v, _ := h.g.cfg.doc.Get("layer.base"); v != "bookworm-minbase" {
		t.Errorf("layer.base = %q", v)
	}
	test.Tap(sw.check)
	if h.g.cfg.doc.Has(keyFirstbootLayer) {
		t.Error("the layer is still there")
	}
}

// TestProfileKeepsPatternInForm: a hostname pattern is not a hostname; the
// profile is saved without it and the form keeps it.
func TestProfileKeepsPatternInForm(t *testing.T) {
	h := newHarness(t)
	c := h.customReady(h.sampleImage())
	test.Tap(c.enable)
	c.entries[firstboot.FieldHostname].SetText("pi-{n}")
	c.entries[firstboot.FieldTimezone].SetText("Europe/London")
	c.saveProfile("lab")
	ps, err := c.store()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ps.Load("lab")
	if err != nil {
		t.Fatalf("not saved: %v", err)
	}
	if s.Hostname != "" || s.Timezone != "Europe/London" {
		t.Errorf("profile %+v", s)
	}
	if got := c.entries[firstboot.FieldHostname].Text; got != "pi-{n}" {
		t.Errorf("form hostname %q", got)
	}
}

// TestRaidSetGetsSettingsOnSDCard: with Customise on, provisioning a RAID
// set writes the settings onto the SD card only.
func TestRaidSetGetsSettingsOnSDCard(t *testing.T) {
	h := newHarness(t)
	c := h.customReady(h.sampleImage())
	test.Tap(c.enable)
	c.entries[firstboot.FieldHostname].SetText("raid-pi")
	h.raidReady()
	test.Tap(h.g.raid.provBtn)
	cf := h.g.raid.confirm
	for path, e := range cf.entries {
		test.Type(e, strings.TrimPrefix(path, "/dev/"))
	}
	test.Tap(cf.confirm)
	h.waitFor("provisioning", func() bool { return len(h.be.Raid.Provisioned()) == 1 && !h.g.raid.running })
	plan := h.be.Raid.Provisioned()[0]
	for _, r := range plan.Roles {
		p := h.be.Flashtime.Applied(r.Disk.Path)
		if r.Role == raidRole && (p == nil || !payloadHas(p, "raid-pi")) {
			t.Errorf("SD card %s: settings %+v", r.Disk.Path, p)
		}
		if r.Role != raidRole && p != nil {
			t.Errorf("%s (%s) got settings", r.Disk.Path, r.Role)
		}
	}
}
