package gui

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/flash/provision"
)

// customiseView is the Flash section's Customise panel: the settings
// written onto a disk's boot partition after it was written, in the format
// of the image's first-boot reader, greyed with the reason when the image
// has none.
type customiseView struct {
	g    *App
	card *widget.Card
	// scroll holds the Image card and the panel in the Flash section.
	scroll *container.Scroll

	enable  *formCheck
	reader  firstboot.Reader
	image   string
	readGen int
	why     *widget.Label
	from    *widget.Label
	body    *fyne.Container

	entries  map[firstboot.Field]*formEntry
	ssh      *formCheck
	sshPass  *formCheck
	profiles *formSelect
	saveBtn  *formButton
	impBtn   *formButton
	expBtn   *formButton
	// hashes are the secrets of a loaded profile, used while the password
	// and passphrase fields stay empty.
	hashes firstboot.Settings
}

// customFields are the entries of the panel, in form order, with labels
// and placeholders.
var customFields = []struct {
	f           firstboot.Field
	label, hint string
}{
	{firstboot.FieldHostname, "Hostname", "pi-{n}: {n} counts the cards from 1"},
	{firstboot.FieldUser, "User", "pi"},
	{firstboot.FieldPassword, "Password", "hashed on this computer; never stored"},
	{firstboot.FieldSSHKeys, "SSH public keys", "ssh-ed25519 AAAA… one key per line"},
	{firstboot.FieldWifiSSID, "Wi-Fi network", "SSID"},
	{firstboot.FieldWifiPSK, "Wi-Fi passphrase", "8 to 63 characters; stored as its key"},
	{firstboot.FieldWifiCountry, "Wi-Fi country", "GB"},
	{firstboot.FieldLocale, "Locale", "en_GB.UTF-8"},
	{firstboot.FieldKeyboard, "Keyboard", "gb"},
	{firstboot.FieldTimezone, "Time zone", "Europe/London"},
}

func newCustomiseView(g *App) *customiseView {
	c := &customiseView{g: g, entries: map[firstboot.Field]*formEntry{}}
	c.enable = newFormCheck("Write these settings after writing the image", func(bool) {
		c.update()
		c.namesChanged()
	})
	c.why = wrapLabel("Choose an image to see whether it can take settings.")
	c.from = hintLabel("")
	c.from.Hide()
	grid := container.New(layout.NewFormLayout())
	for _, cf := range customFields {
		e := c.newEntry(cf.f, cf.hint)
		c.entries[cf.f] = e
		grid.Add(widget.NewLabel(cf.label))
		grid.Add(e)
	}
	c.ssh = newFormCheck("Turn the SSH server on", nil)
	c.sshPass = newFormCheck("Allow password logins over SSH", nil)
	grid.Add(widget.NewLabel("SSH"))
	grid.Add(container.NewHBox(c.ssh, c.sshPass))
	c.body = container.NewVBox(c.profileBar(), grid)
	c.card = widget.NewCard("Customise", "settings at flash time", container.NewVBox(c.why, c.from, c.enable, c.body))
	c.setReader(firstboot.Reader{Format: firstboot.None}, "")
	return c
}

// newEntry makes the entry of one field, checked as it is typed.
func (c *customiseView) newEntry(f firstboot.Field, hint string) *formEntry {
	e := newFormEntry()
	switch f {
	case firstboot.FieldPassword, firstboot.FieldWifiPSK:
		e.Password = true
	case firstboot.FieldSSHKeys:
		e.MultiLine = true
		e.SetMinRowsVisible(2)
		e.Wrapping = fyne.TextWrapBreak
	}
	e.SetPlaceHolder(hint)
	if f == firstboot.FieldHostname {
		e.OnChanged = func(string) { c.namesChanged() }
	}
	e.Validator = func(v string) error {
		if f == firstboot.FieldHostname {
			v = patternSample(v)
		}
		return firstboot.CheckField(f, v)
	}
	return e
}

// namesChanged shows the several-cards hostnames again.
func (c *customiseView) namesChanged() {
	if c.g.flash != nil && c.g.flash.many != nil {
		c.g.flash.many.names()
	}
}

// patternSample is a hostname pattern as the first target gets it, so
// that "pi-{n}" is checked as "pi-1".
func patternSample(v string) string {
	v = strings.ReplaceAll(v, firstboot.PlaceholderN, "1")
	return strings.ReplaceAll(v, firstboot.PlaceholderI, "0")
}

// imageChanged finds the reader of the chosen image off the UI goroutine.
func (c *customiseView) imageChanged(path string) {
	c.readGen++
	gen := c.readGen
	if path == "" {
		c.setReader(firstboot.Reader{Format: firstboot.None}, "")
		return
	}
	ft := c.g.be.Flashtime
	if ft == nil {
		return
	}
	goUI(c.g.br, func() firstboot.Reader { return ft.Detect(path) }, func(r firstboot.Reader) {
		if gen == c.readGen {
			c.setReader(r, path)
		}
	})
}

// setReader shows what the image reads at first boot, greying the panel
// with the reason when it reads nothing.
func (c *customiseView) setReader(r firstboot.Reader, image string) {
	c.reader, c.image = r, image
	switch {
	case image == "":
		c.why.SetText("Choose an image to see whether it can take settings.")
		c.why.Importance = widget.MediumImportance
		c.from.Hide()
	case !r.CanApply():
		reason := r.Reason
		if reason == "" {
			reason = firstboot.ReasonUnknown
		}
		c.why.SetText("Settings cannot be applied to this image: " + reason + ".")
		c.why.Importance = widget.WarningImportance
		c.from.Hide()
	default:
		c.why.SetText("The image reads " + r.Format.Label() + " at first boot.")
		c.why.Importance = widget.SuccessImportance
		c.from.SetText("Learnt from " + r.From)
		c.from.Hidden = r.From == ""
	}
	c.why.Refresh()
	c.update()
	c.namesChanged()
}

// update enables the panel when the image has a reader and nothing is
// being written.
func (c *customiseView) update() {
	can := c.reader.CanApply() && !c.busy()
	setEnabled(c.enable, can)
	on := can && c.enable.Checked
	for _, e := range c.entries {
		setEnabled(e, on)
	}
	for _, w := range []fyne.Disableable{c.ssh, c.sshPass, c.profiles, c.saveBtn, c.impBtn, c.expBtn} {
		setEnabled(w, on)
	}
	if on {
		c.skipUnsupported()
	}
}

// skipUnsupported greys the fields the reader's format cannot carry.
func (c *customiseView) skipUnsupported() {
	for f, e := range c.entries {
		if !c.reader.Format.Supports(f) {
			e.Disable()
		}
	}
}

func (c *customiseView) busy() bool {
	return c.g.flash != nil && c.g.flash.running
}

// setEnabled enables or disables w.
func setEnabled(w fyne.Disableable, on bool) {
	if w == nil {
		return
	}
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// active reports whether settings are to be written.
func (c *customiseView) active() bool {
	return c.enable.Checked && c.reader.CanApply()
}

// settings reads the form. Typed secrets stay plain here: Render and
// Profiles.Save hash them, and nothing keeps them afterwards.
func (c *customiseView) settings() firstboot.Settings {
	v := func(f firstboot.Field) string { return strings.TrimSpace(c.entries[f].Text) }
	s := firstboot.Settings{
		Hostname: v(firstboot.FieldHostname), User: v(firstboot.FieldUser),
		Password: c.entries[firstboot.FieldPassword].Text,
		WifiSSID: v(firstboot.FieldWifiSSID), WifiPSK: c.entries[firstboot.FieldWifiPSK].Text,
		WifiCountry: v(firstboot.FieldWifiCountry), Locale: v(firstboot.FieldLocale),
		Keyboard: v(firstboot.FieldKeyboard), Timezone: v(firstboot.FieldTimezone),
		SSH: c.ssh.Checked, SSHPasswordAuth: c.sshPass.Checked,
	}
	if keys, err := firstboot.ParseSSHKeys(c.entries[firstboot.FieldSSHKeys].Text); err == nil {
		s.SSHKeys = keys
	} else {
		s.SSHKeys = []string{c.entries[firstboot.FieldSSHKeys].Text} // refused by Validate
	}
	if s.Password == "" {
		s.PasswordHash = c.hashes.PasswordHash
	}
	if s.WifiPSK == "" && s.WifiSSID == c.hashes.WifiSSID {
		s.WifiPSKHash = c.hashes.WifiPSKHash
	}
	return s
}

// targets returns the settings of n targets (hostnames from the pattern,
// counted from 1), validated.
func (c *customiseView) targets(n int) ([]firstboot.Settings, error) {
	out, err := firstboot.Expand(c.settings(), n, 1, nil)
	if err != nil {
		return nil, fmt.Errorf("settings at flash time: %w", err)
	}
	return out, nil
}

// payloads renders the settings of n targets in the reader's format; nil
// when settings are off.
func (c *customiseView) payloads(n int) ([]*firstboot.Payload, []string, error) {
	if !c.active() {
		return nil, nil, nil
	}
	ss, err := c.targets(n)
	if err != nil {
		return nil, nil, err
	}
	ps := make([]*firstboot.Payload, n)
	names := make([]string, n)
	for i, s := range ss {
		p, err := firstboot.Render(s, c.reader.Format, firstboot.RenderOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("settings for target %d: %w", i+1, err)
		}
		ps[i], names[i] = p, s.Hostname
	}
	return ps, names, nil
}

// ready checks the settings before a write; a refusal is shown.
func (c *customiseView) ready(n int) bool {
	if !c.active() {
		return true
	}
	if _, err := c.targets(n); err != nil {
		c.g.showError(err)
		return false
	}
	return true
}

// applyFunc returns what writes target i's settings after its write, nil
// when settings are off or cannot be rendered (ready said why).
func (c *customiseView) applyFunc(n int) func(ctx context.Context, i int, t flash.Target) (string, error) {
	ps, names, err := c.payloads(n)
	if err != nil || ps == nil {
		return nil
	}
	ft := c.g.be.Flashtime
	return func(ctx context.Context, i int, t flash.Target) (string, error) {
		a, err := ft.Apply(ctx, t, ps[i])
		if err != nil {
			return "", err
		}
		note := "Settings written (" + strings.Join(a.Files, ", ") + ")"
		if names[i] != "" {
			note += ": hostname " + names[i]
		}
		return note + ".", nil
	}
}

// errSettings wraps a failed settings write after a good image write.
var errSettings = errors.New("the image was written, but its settings were not")

// profileBar is the profile chooser with save, import and export.
func (c *customiseView) profileBar() fyne.CanvasObject {
	c.profiles = newFormSelect(nil, c.loadProfile)
	c.profiles.PlaceHolder = "Profile"
	c.saveBtn = newFormButton("Save as…", theme.DocumentSaveIcon(), c.askSaveProfile)
	c.impBtn = newFormButton("Import…", theme.FolderOpenIcon(), c.importProfile)
	c.expBtn = newFormButton("Export…", theme.UploadIcon(), c.exportProfile)
	c.refreshProfiles()
	return container.NewBorder(nil, nil, nil, container.NewHBox(c.saveBtn, c.impBtn, c.expBtn), c.profiles)
}

// refreshProfiles lists the saved profiles.
func (c *customiseView) refreshProfiles() {
	ps, err := c.store()
	if err != nil {
		return
	}
	names, err := ps.List()
	if err != nil {
		return
	}
	c.profiles.Options = names
	c.profiles.Refresh()
}

func (c *customiseView) store() (ProfileStore, error) {
	if c.g.be.Flashtime == nil {
		return nil, errors.New("profiles are not available")
	}
	return c.g.be.Flashtime.Profiles()
}

// loadProfile fills the form from a saved profile.
func (c *customiseView) loadProfile(name string) {
	if name == "" {
		return
	}
	ps, err := c.store()
	if err != nil {
		c.g.showError(err)
		return
	}
	s, err := ps.Load(name)
	if err != nil {
		c.g.showError(fmt.Errorf("loading profile %s: %w", name, err))
		return
	}
	c.fill(s)
}

// fill puts s into the form; its hashed secrets are kept aside.
func (c *customiseView) fill(s firstboot.Settings) {
	set := func(f firstboot.Field, v string) { c.entries[f].SetText(v) }
	set(firstboot.FieldHostname, s.Hostname)
	set(firstboot.FieldUser, s.User)
	set(firstboot.FieldPassword, "")
	set(firstboot.FieldSSHKeys, strings.Join(s.SSHKeys, "\n"))
	set(firstboot.FieldWifiSSID, s.WifiSSID)
	set(firstboot.FieldWifiPSK, "")
	set(firstboot.FieldWifiCountry, s.WifiCountry)
	set(firstboot.FieldLocale, s.Locale)
	set(firstboot.FieldKeyboard, s.Keyboard)
	set(firstboot.FieldTimezone, s.Timezone)
	c.ssh.SetChecked(s.SSH)
	c.sshPass.SetChecked(s.SSHPasswordAuth)
	c.hashes = firstboot.Settings{PasswordHash: s.PasswordHash, WifiSSID: s.WifiSSID, WifiPSKHash: s.WifiPSKHash}
	c.entries[firstboot.FieldPassword].SetPlaceHolder(savedHint(s.PasswordHash, "hashed on this computer; never stored"))
	c.entries[firstboot.FieldWifiPSK].SetPlaceHolder(savedHint(s.WifiPSKHash, "8 to 63 characters; stored as its key"))
}

func savedHint(hash, empty string) string {
	if hash != "" {
		return "the profile's (hashed) value is kept unless you type a new one"
	}
	return empty
}

// askSaveProfile asks for a name and saves the form (secrets hashed).
func (c *customiseView) askSaveProfile() {
	name := newFormEntry()
	name.SetText(c.profiles.Selected)
	name.Validator = firstboot.CheckProfileName
	dialog.ShowForm("Save profile", "Save", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", name)}, func(ok bool) {
		if ok {
			c.saveProfile(name.Text)
		}
	}, c.g.win)
}

// saveProfile stores the form as name. A profile holds the settings of
// one card: a hostname pattern stays in the form but not in the profile.
func (c *customiseView) saveProfile(name string) {
	s := c.settings()
	pattern := ""
	if patternSample(s.Hostname) != s.Hostname {
		pattern, s.Hostname = s.Hostname, ""
	}
	ps, err := c.store()
	if err == nil {
		err = ps.Save(name, s)
	}
	if err != nil {
		c.g.showError(fmt.Errorf("saving profile %s: %w", name, err))
		return
	}
	c.refreshProfiles()
	c.selectProfile(name)
	if pattern != "" {
		dialog.ShowInformation("Profile saved", "Profile "+name+" was saved without the hostname pattern "+pattern+
			": a profile holds the settings of one card. The pattern stays in the form.", c.g.win)
	}
}

// selectProfile shows name as the chosen profile without loading it again.
func (c *customiseView) selectProfile(name string) {
	f := c.profiles.OnChanged
	c.profiles.OnChanged = nil
	c.profiles.SetSelected(name)
	c.profiles.OnChanged = f
}

// importProfile reads a profile file and saves it under its name.
func (c *customiseView) importProfile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			c.g.showError(err)
			return
		}
		defer r.Close()
		s, name, err := firstboot.Import(r)
		if err != nil {
			c.g.showError(fmt.Errorf("importing %s: %w", r.URI().Name(), err))
			return
		}
		c.fill(s)
		c.saveProfile(name)
	}, c.g.win)
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// exportProfile writes the form as a profile file (secrets hashed).
func (c *customiseView) exportProfile() {
	name := c.profiles.Selected
	if name == "" {
		name = "settings"
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			c.g.showError(err)
			return
		}
		defer w.Close()
		if err := firstboot.Export(w, name, c.settings()); err != nil {
			c.g.showError(fmt.Errorf("exporting profile %s: %w", name, err))
		}
	}, c.g.win)
	d.SetFileName(name + ".json")
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// raidRole is the role of a RAID set that takes the settings: the SD card
// boots the system and holds the boot partition.
const raidRole = "sd"

// raidAfter returns what writes the Customise settings onto the SD card of
// a RAID set once it is written, nil when Customise is off. The reader is
// the SD card image's own.
func (c *customiseView) raidAfter(plan *provision.Plan) func(ctx context.Context, role string, t flash.Target) error {
	if c == nil || !c.enable.Checked || plan == nil || plan.Manifest == nil {
		return nil
	}
	file := plan.Manifest.Roles[raidRole]
	ss, err := c.targets(1)
	if file == "" || err != nil {
		return nil
	}
	s, ft, img := ss[0], c.g.be.Flashtime, filepath.Join(plan.Set, file)
	return func(ctx context.Context, role string, t flash.Target) error {
		if role != raidRole {
			return nil
		}
		r := ft.Detect(img)
		if !r.CanApply() {
			return fmt.Errorf("%w: settings cannot be applied to the SD card: %s", errSettings, r.Reason)
		}
		p, err := firstboot.Render(s, r.Format, firstboot.RenderOptions{})
		if err != nil {
			return fmt.Errorf("%w: %w", errSettings, err)
		}
		if _, err := ft.Apply(ctx, t, p); err != nil {
			return fmt.Errorf("%w: %w", errSettings, err)
		}
		return nil
	}
}
