package gui

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/builder/config"
	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/gui/form"
	"github.com/pistudio/pistudio/gui/logview"
)

// Config keys the form always shows.
const (
	keyDeviceLayer = "device.layer"
	keyImageLayer  = "image.layer"
	keyBaseLayer   = "layer.base"
	keyHostname    = "device.hostname"
	keyImageName   = "image.name"
)

// field is one generated form field.
type field struct {
	v     form.Var
	obj   fyne.CanvasObject // the input widget
	row   fyne.CanvasObject // input + hint + error
	err   *widget.Label
	set   func(string) // sets the widget without reporting a change
	entry *formEntry
	sel   *formSelect
	check *formCheck
}

// configureView is the Configure section.
type configureView struct {
	g       *App
	content fyne.CanvasObject

	cat     form.Catalog
	doc     *config.Config
	path    string
	dirty   bool
	loading bool

	fields   map[string]*field
	labelCol *labelColumn // one label column width for every card
	// suiteLabel is the Base card's label, made once.
	suiteLabel fyne.CanvasObject
	// pathEntry is the field of the last "open by path" question.
	pathEntry *escEntry
	// savePath is the last "save to a typed path" question (savepath.go).
	savePath *savePathAsk
	problems []form.Problem
	gen      int // bumped by every change; validGen is the one last validated
	validGen int
	editGen  int // bumped by every edit of the config's values

	pathLbl    *widget.Label
	recent     *formSelect
	devSel     *formSelect
	imgSel     *formSelect
	baseSel    *formSelect
	devDesc    *widget.Label
	imgDesc    *widget.Label
	baseDesc   *widget.Label
	devForm    *fyne.Container
	imgForm    *fyne.Container
	extra      *fyne.Container
	summary    *fyne.Container
	sumCard    *widget.Card
	toolBanner *fyne.Container
	unsaved    *unsavedDialog
	formScroll *container.Scroll
	yaml       *widget.List
	yamlLines  []string
	yamlWidth  *widthLayout
	yamlText   string
	// flashtime is the settings-at-flash-time switch (flashtimeswitch.go).
	flashtime *flashtimeSwitch
}

func newConfigureView(g *App) *configureView {
	c := &configureView{g: g, fields: map[string]*field{}, labelCol: &labelColumn{}}
	c.pathLbl = widget.NewLabel("No config")
	c.pathLbl.Truncation = fyne.TextTruncateEllipsis
	c.recent = newFormSelect(nil, func(p string) {
		if p == "" {
			return
		}
		c.recent.ClearSelected()
		c.confirmDiscard("open another config", func() { c.open(p) })
	})
	c.recent.PlaceHolder = "Recent configs"
	c.updateRecent()

	c.devSel = c.layerSelect(keyDeviceLayer)
	c.imgSel = c.layerSelect(keyImageLayer)
	c.baseSel = c.layerSelect(keyBaseLayer)
	c.devDesc, c.imgDesc, c.baseDesc = hintLabel(""), hintLabel(""), hintLabel("")
	c.devForm = container.New(layout.NewFormLayout())
	c.imgForm = container.New(layout.NewFormLayout())
	c.extra = container.NewVBox()
	c.summary = container.NewVBox()
	c.sumCard = widget.NewCard("Problems", "", c.summary)
	c.sumCard.Hide()
	c.yaml = widget.NewList(func() int { return len(c.yamlLines) }, logview.NewLine, func(id widget.ListItemID, o fyne.CanvasObject) {
		if id < len(c.yamlLines) {
			logview.SetLine(o, c.yamlLines[id])
		}
	})
	c.yaml.HideSeparators = true
	c.yamlWidth = &widthLayout{}

	bar := container.NewHBox(
		widget.NewButtonWithIcon("New", theme.ContentAddIcon(), func() {
			c.confirmDiscard("start a new config", c.newConfig)
		}),
		widget.NewButtonWithIcon("Open…", theme.FolderOpenIcon(), c.openDialog),
		widget.NewButtonWithIcon("Path…", theme.FileIcon(), c.openPathDialog),
		widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), func() { c.save(nil) }),
		widget.NewButtonWithIcon("Save as…", theme.DocumentSaveIcon(), func() { c.saveAs(nil) }),
		widget.NewButtonWithIcon("Save as path…", theme.FileIcon(), func() { c.savePathDialog("", "") }),
	)
	top := container.NewBorder(nil, nil, bar, c.recent, c.pathLbl)

	c.flashtime = newFlashtimeSwitch(c)
	baseForm := container.New(layout.NewFormLayout())
	c.addSelectRow(baseForm, "Suite", c.baseSel, c.baseDesc)
	c.suiteLabel = c.labelCol.labels[len(c.labelCol.labels)-1]
	form := container.NewVBox(
		widget.NewCard("Device", "", c.devForm),
		widget.NewCard("Image", "", c.imgForm),
		c.extra,
		widget.NewCard("Base", "", baseForm),
		c.flashtime.card,
	)
	yamlCard := widget.NewCard("YAML", "exactly as it will be saved",
		container.NewHScroll(container.New(c.yamlWidth, c.yaml)))
	c.formScroll = container.NewVScroll(form)
	c.toolBanner = toolMissingBanner(g)
	c.toolBanner.Hide()
	// The problem summary sits above the YAML, beside the form: it
	// appearing or growing never moves the field being edited.
	left := container.NewBorder(c.toolBanner, nil, nil, nil, c.formScroll)
	right := container.NewBorder(c.sumCard, nil, nil, nil, yamlCard)
	split := container.NewHSplit(left, right)
	split.Offset = 0.55
	c.content = container.NewBorder(top, nil, nil, nil, split)
	return c
}

// layerSelect makes the select for one of the three layer keys.
func (c *configureView) layerSelect(key string) *formSelect {
	s := newFormSelect(nil, nil)
	s.PlaceHolder = "(choose a layer)"
	f := &field{v: form.Var{Key: key}, obj: s, sel: s, err: errLabel()}
	f.set = func(v string) {
		if v == "" {
			s.ClearSelected()
		} else {
			s.SetSelected(v)
		}
	}
	c.fields[key] = f
	s.OnChanged = func(v string) {
		if c.loading {
			return
		}
		c.changed(key, v)
		c.rebuildForms()
		c.fillFields()
		c.revalidate()
	}
	return s
}

// addSelectRow puts a layer select with its description into a form.
func (c *configureView) addSelectRow(form *fyne.Container, label string, s *formSelect, desc *widget.Label) {
	var err *widget.Label
	for _, f := range c.fields {
		if f.obj == s {
			err = f.err
		}
	}
	form.Add(c.labelCell(widget.NewLabelWithStyle(label, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})))
	form.Add(container.NewVBox(s, desc, err))
}

func errLabel() *widget.Label {
	l := wrapLabel("")
	l.Importance = widget.DangerImportance
	l.Hide()
	return l
}

// newField makes the widget for one variable.
func (c *configureView) newField(v form.Var) *field {
	f := &field{v: v, err: errLabel()}
	onChange := func(s string) {
		if !c.loading {
			c.changed(v.Key, s)
			c.revalidate()
		}
	}
	switch v.Kind {
	case form.KindEnum:
		s := newFormSelect(v.Choices, onChange)
		if v.Default != "" {
			s.PlaceHolder = "default: " + v.Default
		}
		f.sel, f.obj = s, s
		f.set = func(val string) {
			if val == "" {
				s.ClearSelected()
				return
			}
			if !contains(s.Options, val) {
				s.Options = append(append([]string(nil), v.Choices...), val)
			}
			s.SetSelected(val)
		}
	case form.KindBool:
		ch := newFormCheck("", func(on bool) {
			if on {
				onChange("y")
			} else {
				onChange("n")
			}
		})
		f.check, f.obj = ch, ch
		f.set = func(val string) {
			if val == "" {
				val = v.Default
			}
			ch.SetChecked(truthy(val))
		}
	default:
		e := newFormEntry()
		if v.Default != "" {
			e.SetPlaceHolder(readableDefault(v.Default, c.value))
		}
		e.Validator = fieldValidator(v)
		e.OnChanged = onChange
		f.entry, f.obj = e, e
		f.set = func(val string) { e.SetText(val) }
	}
	parts := []fyne.CanvasObject{f.obj}
	if v.Desc != "" {
		parts = append(parts, hintLabel(v.Desc))
	}
	parts = append(parts, f.err)
	f.row = container.NewVBox(parts...)
	return f
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "y", "yes", "true", "1", "on":
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fieldLabel(v form.Var) *widget.Label {
	name := labelText(v)
	if v.Required {
		name += " *"
	}
	return widget.NewLabelWithStyle(name, fyne.TextAlignTrailing, fyne.TextStyle{})
}

// knownLabels names the variables whose names read badly as words.
var knownLabels = map[string]string{
	"sdcard_size":     "SD card size",
	"external_size":   "External disk size",
	"assetdir":        "Asset dir",
	"asset_dir":       "Asset dir",
	"rootfs_type":     "Root filesystem",
	"boot_part_size":  "Boot partition size",
	"hostname":        "Hostname",
	"apt_proxy":       "APT proxy",
	"disksig":         "Disk signature",
	"pmap":            "Partition map",
	"pmap_schema":     "Partition map schema",
	"ptable_protect":  "Protect partition table",
	"regdom":          "Wi-Fi country",
	"user1":           "User name",
	"user1pass":       "Password",
	"user1passhash":   "Password hash",
	"user1sudo":       "User may sudo",
	"user1uid":        "User ID",
	"user1gid":        "User group ID",
	"user1groups":     "User groups",
	"pubkey_user1":    "SSH public key",
	"pubkey_only":     "SSH keys only (no password login)",
	"trust_user1":     "Trust the user's key",
	"authkey":         "SSH authorized key",
	"keyboard_keymap": "Keyboard model",
	"keyboard_layout": "Keyboard layout",
	"eepromupd":       "EEPROM update",
	"idp_schema":      "Image description schema",
	"luks2_cipher":    "LUKS2 cipher",
	"luks2_hash":      "LUKS2 hash",
	"luks2_keysize":   "LUKS2 key size",
	"cachedir":        "Cache dir",
	"apt_cachedir":    "APT cache dir",
	"apt_keydir":      "APT key dir",
	"host_keydir":     "Host key dir",
}

// upperWords stay upper-case in generated labels.
var upperWords = map[string]bool{"sd": true, "raid": true, "id": true, "uuid": true, "usb": true,
	"ssh": true, "apt": true, "url": true, "ip": true, "dns": true, "cpu": true, "gpu": true,
	"ram": true, "efi": true, "fat": true, "gpt": true, "mbr": true, "nvme": true, "tz": true}

// labelText is the form label of a variable: a known name, else its name
// with underscores as spaces, capitalised, acronyms upper-case.
func labelText(v form.Var) string {
	name := v.Name
	if name == "" {
		name = v.Key[strings.LastIndexByte(v.Key, '.')+1:]
	}
	if l, ok := knownLabels[strings.ToLower(name)]; ok {
		return l
	}
	words := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == ' ' })
	for i, w := range words {
		switch {
		case upperWords[strings.ToLower(w)]:
			words[i] = strings.ToUpper(w)
		case i == 0:
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// varFor finds a variable's metadata anywhere in the catalog.
func (c *configureView) varFor(key string) form.Var {
	if c.cat != nil {
		for _, l := range c.cat.Layers() {
			for _, v := range l.Vars {
				if v.Key == key {
					return v
				}
			}
		}
	}
	return form.Var{Key: key, Name: key[strings.LastIndexByte(key, '.')+1:]}
}

func (c *configureView) layer(key string) (form.Layer, bool) {
	if c.cat == nil || c.doc == nil {
		return form.Layer{}, false
	}
	name, _ := c.doc.Get(key)
	return c.cat.Lookup(name)
}

// rebuildForms regenerates the variable fields for the chosen layers.
func (c *configureView) rebuildForms() {
	for k := range c.fields {
		if k != keyDeviceLayer && k != keyImageLayer && k != keyBaseLayer {
			delete(c.fields, k)
		}
	}
	c.devForm.RemoveAll()
	c.imgForm.RemoveAll()
	c.extra.RemoveAll()
	c.labelCol.labels = c.labelCol.labels[:0]
	c.labelCol.labels = append(c.labelCol.labels, c.suiteLabel)
	add := func(form *fyne.Container, v form.Var) {
		if _, dup := c.fields[v.Key]; dup {
			return
		}
		f := c.newField(v)
		c.fields[v.Key] = f
		form.Add(c.labelCell(fieldLabel(v)))
		form.Add(f.row)
	}
	c.addSelectRow(c.devForm, "Device", c.devSel, c.devDesc)
	c.addSelectRow(c.imgForm, "Layout", c.imgSel, c.imgDesc)
	add(c.devForm, c.varFor(keyHostname))
	if l, ok := c.layer(keyDeviceLayer); ok {
		c.devDesc.SetText(l.Desc)
		for _, v := range byUsage(l.Vars) {
			add(c.devForm, v)
		}
	} else {
		c.devDesc.SetText("")
	}
	add(c.imgForm, c.varFor(keyImageName))
	g := &sectionGroups{groups: map[string]*fyne.Container{}}
	var vars []form.Var
	if l, ok := c.layer(keyImageLayer); ok {
		c.imgDesc.SetText(l.Desc)
		vars = l.Vars
	} else {
		c.imgDesc.SetText("")
	}
	if l, ok := c.layer(keyBaseLayer); ok {
		vars = append(slices.Clip(vars), l.Vars...) // the suite's variables, by section too
	}
	g.add(byUsage(vars), c.imgForm, add) // most-used first in each group
	for _, sec := range g.order {
		c.extra.Add(widget.NewCard(sectionTitle(sec), "", g.groups[sec]))
	}
	if l, ok := c.layer(keyBaseLayer); ok {
		c.baseDesc.SetText(l.Desc)
	} else {
		c.baseDesc.SetText("")
	}
	c.addOtherKeys()
	c.devForm.Refresh()
	c.imgForm.Refresh()
	c.extra.Refresh()
}

// sectionTitle turns a config section into a card title ("raid" → "RAID").
func sectionTitle(sec string) string {
	if len(sec) <= 4 {
		return strings.ToUpper(sec)
	}
	return strings.ToUpper(sec[:1]) + sec[1:]
}

// setCatalog fills the layer selects.
func (c *configureView) setCatalog(cat form.Catalog) {
	c.cat = cat
	var dev, img, base []string
	if cat != nil {
		for _, l := range cat.Layers() {
			switch l.Category {
			case form.CategoryDevice:
				dev = append(dev, l.Name)
			case form.CategoryImage:
				img = append(img, l.Name)
			case form.CategoryBase:
				base = append(base, l.Name)
			}
		}
	}
	sort.Strings(dev)
	sort.Strings(img)
	sort.Strings(base)
	c.devSel.Options, c.imgSel.Options, c.baseSel.Options = dev, img, base
	if c.doc != nil {
		c.setDoc(c.doc, c.path, c.dirty)
	}
}

// setDoc shows a config.
func (c *configureView) setDoc(doc *config.Config, path string, dirty bool) {
	c.doc, c.path, c.dirty = doc, path, dirty
	c.loading = true
	for _, k := range []string{keyDeviceLayer, keyImageLayer, keyBaseLayer} {
		v, _ := doc.Get(k)
		s := c.fields[k].sel
		if v != "" && !contains(s.Options, v) {
			s.Options = append(s.Options, v)
		}
		c.fields[k].set(v)
	}
	c.rebuildForms()
	c.fillFields()
	c.loading = false
	c.flashtime.sync()
	c.revalidate()
	c.updateTitle()
}

// fillFields copies the config's values into the generated fields.
func (c *configureView) fillFields() {
	was := c.loading
	c.loading = true
	for k, f := range c.fields {
		if k == keyDeviceLayer || k == keyImageLayer || k == keyBaseLayer {
			continue
		}
		v, _ := c.doc.Get(k)
		f.set(v)
	}
	c.loading = was
}

// changed writes one edited value into the config.
func (c *configureView) changed(key, value string) {
	if c.doc == nil {
		return
	}
	if err := c.doc.Set(key, value); err != nil {
		if f := c.fields[key]; f != nil {
			f.err.SetText(err.Error())
			f.err.Show()
		}
		return
	}
	c.dirty = true
	c.editGen++
	c.updateTitle()
}

// revalidate refreshes the YAML view and runs the builder's validation on
// a snapshot of the config off the UI goroutine (it may read included
// files); showProblems then puts every problem at its field and in the
// summary.
func (c *configureView) revalidate() {
	if c.doc == nil {
		return
	}
	c.refreshYAML()
	c.gen++
	gen, text, cat := c.gen, []byte(c.yamlText), c.cat
	name := c.path
	if name == "" {
		name = "untitled.yaml"
	}
	store := c.g.be.Configs
	goUI(c.g.br, func() []form.Problem {
		snap, err := config.ParseConfig(name, text)
		if err != nil {
			return []form.Problem{{Msg: err.Error()}}
		}
		return store.Validate(snap, cat)
	}, func(ps []form.Problem) {
		if gen == c.gen {
			c.showProblems(ps)
			c.validGen = gen
		}
	})
}

// showProblems shows validation problems at their fields and in the summary.
func (c *configureView) showProblems(ps []form.Problem) {
	c.problems = ps
	for _, f := range c.fields {
		f.err.SetText("")
		f.err.Hide()
	}
	c.summary.RemoveAll()
	for i, p := range c.problems {
		if f := c.fields[p.Key]; f != nil && f.err.Text == "" {
			f.err.SetText(p.Msg)
			f.err.Show()
		}
		if i == maxSummary {
			c.summary.Add(wrapLabel(fmt.Sprintf("… and %s more, shown at their fields", plural(len(c.problems)-maxSummary, "problem"))))
		}
		if i >= maxSummary {
			continue
		}
		where := p.Key
		if p.Line > 0 {
			where = fmt.Sprintf("line %d, %s", p.Line, p.Key)
		}
		if where == "" {
			where = "config"
		}
		key := p.Key
		l := newTapLabel(where+": "+p.Msg, func() { c.jumpTo(key) })
		l.Importance = widget.DangerImportance
		c.summary.Add(l)
	}
	if len(c.problems) == 0 {
		c.sumCard.Hide()
	} else {
		c.sumCard.SetTitle(plural(len(c.problems), "problem"))
		c.sumCard.Show()
	}
}

// maxSummary is how many problems the summary above the form lists.
const maxSummary = 4

// plural returns "1 problem", "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Problems returns the current validation problems.
func (c *configureView) Problems() []form.Problem { return c.problems }

func (c *configureView) refreshYAML() {
	text := string(c.doc.Bytes())
	c.yamlText = text
	c.yamlLines = strings.Split(strings.TrimRight(text, "\n"), "\n")
	longest := ""
	for i, l := range c.yamlLines {
		c.yamlLines[i] = strings.ReplaceAll(l, "\t", "    ")
		if len(c.yamlLines[i]) > len(longest) {
			longest = c.yamlLines[i]
		}
	}
	c.yamlWidth.width = fyne.MeasureText(longest, theme.TextSize(), fyne.TextStyle{Monospace: true}).Width + 4*theme.Padding()
	c.yaml.Refresh()
}

func (c *configureView) updateTitle() {
	name := "Untitled config"
	if c.path != "" {
		name = c.path
	}
	if c.dirty {
		name += " (unsaved changes)"
	}
	c.pathLbl.SetText(name)
	t := Title
	if c.path != "" {
		t += " — " + filepath.Base(c.path)
	}
	if c.dirty {
		t += " *"
	}
	c.g.win.SetTitle(t)
	c.g.build.configChanged()
}

func (c *configureView) updateRecent() {
	c.recent.Options = append([]string(nil), c.g.set.Recent...)
	c.recent.Refresh()
}

// loadCatalog reads the catalog off the UI goroutine.
func (c *configureView) loadCatalog() {
	dir := c.g.set.ToolDir
	goUI(c.g.br, func() catResult {
		cat, err := c.g.be.Configs.Catalog(dir)
		return catResult{cat, err}
	}, func(r catResult) {
		if r.err != nil {
			c.g.showError(fmt.Errorf("reading the layer catalog: %w", r.err))
		}
		if r.cat != nil {
			c.setCatalog(r.cat)
		}
	})
}

type catResult struct {
	cat form.Catalog
	err error
}

type docResult struct {
	doc *config.Config
	cat form.Catalog
	err error
}

// open loads a config (and the catalog when it is missing) off the UI goroutine.
func (c *configureView) open(path string) {
	needCat := c.cat == nil
	dir := c.g.set.ToolDir
	goUI(c.g.br, func() docResult {
		var r docResult
		if needCat {
			r.cat, _ = c.g.be.Configs.Catalog(dir)
		}
		r.doc, r.err = c.g.be.Configs.Load(path)
		return r
	}, func(r docResult) {
		if r.cat != nil && c.cat == nil {
			c.setCatalog(r.cat)
		}
		if r.err != nil {
			c.g.showError(fmt.Errorf("opening %s: %w", path, r.err))
			return
		}
		c.g.set.addRecent(path)
		c.g.storeSettings()
		c.updateRecent()
		c.setDoc(r.doc, path, false)
	})
}

// newConfig starts an untitled config from the template.
func (c *configureView) newConfig() {
	needCat := c.cat == nil
	dir := c.g.set.ToolDir
	goUI(c.g.br, func() docResult {
		var r docResult
		if needCat {
			r.cat, _ = c.g.be.Configs.Catalog(dir)
		}
		r.doc, r.err = c.g.be.Configs.New()
		return r
	}, func(r docResult) {
		if r.cat != nil && c.cat == nil {
			c.setCatalog(r.cat)
		}
		if r.err != nil {
			c.g.showError(r.err)
			return
		}
		c.setDoc(r.doc, "", false)
	})
}

var yamlFilter = storage.NewExtensionFileFilter([]string{".yaml", ".yml"})

func (c *configureView) openDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			c.g.showError(err)
			return
		}
		if r == nil {
			return
		}
		p := r.URI().Path()
		_ = r.Close()
		c.confirmDiscard("open another config", func() { c.open(p) })
	}, c.g.win)
	d.SetFilter(yamlFilter)
	d.SetView(dialog.ListView) // whole names, not cut to a grid cell
	d.Resize(fyne.NewSize(800, 560))
	c.g.showDismissable(d)
}

// save writes the config to its file, asking for a name when it has none.
func (c *configureView) save(then func()) {
	if c.doc == nil {
		return
	}
	if c.path == "" {
		c.saveAs(then)
		return
	}
	c.saveTo(c.path, then)
}

func (c *configureView) saveAs(then func()) {
	if c.doc == nil {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			c.g.showError(err)
			return
		}
		if w == nil {
			return
		}
		p := w.URI().Path()
		_ = w.Close()
		c.saveTo(p, then)
	}, c.g.win)
	d.SetFilter(yamlFilter)
	name := "config.yaml"
	if c.path != "" {
		name = filepath.Base(c.path)
	}
	d.SetFileName(name)
	d.SetView(dialog.ListView) // whole names, not cut to a grid cell
	d.Resize(fyne.NewSize(800, 560))
	c.g.showDismissable(d)
	// The name field keeps Escape to itself: without the focus there,
	// Escape closes the dialog. The name is filled in already.
	c.g.win.Canvas().Unfocus()
}

// saveTo writes the config's text as it is now to path. The text is taken
// here, on the UI goroutine; the write runs off it. An edit made while the
// file is written keeps the config marked as changed (and then is not run).
func (c *configureView) saveTo(path string, then func()) {
	doc := c.doc
	data := doc.Bytes()
	gen := c.editGen
	store := c.g.be.Configs
	goUI(c.g.br, func() error { return store.Save(path, data) }, func(err error) {
		if err != nil {
			c.g.showError(fmt.Errorf("saving %s: %w", path, err))
			return
		}
		edited := false
		if doc == c.doc {
			c.path = path
			if c.editGen == gen {
				c.dirty = false
			} else {
				edited = true
			}
		}
		c.g.set.addRecent(path)
		c.g.storeSettings()
		c.updateRecent()
		c.updateTitle()
		if then != nil && !edited {
			then()
		}
	})
}

// confirmDiscard runs then, first asking to save unsaved changes.
func (c *configureView) confirmDiscard(action string, then func()) {
	if !c.dirty {
		then()
		return
	}
	msg := "This config has unsaved changes."
	if c.path != "" {
		msg = filepath.Base(c.path) + " has unsaved changes."
	}
	u := &unsavedDialog{}
	u.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), func() { u.d.Hide(); c.unsaved = nil; c.save(then) })
	u.save.Importance = widget.HighImportance
	u.discard = widget.NewButton("Discard changes", func() { u.d.Hide(); c.unsaved = nil; c.dirty = false; then() })
	u.cancel = widget.NewButton("Cancel", func() { u.d.Hide(); c.unsaved = nil })
	u.d = dialog.NewCustomWithoutButtons("Unsaved changes", wrapLabel(msg+" Save them before you "+action+"?"), c.g.win)
	u.d.SetButtons([]fyne.CanvasObject{u.cancel, u.discard, u.save})
	u.d.Resize(fyne.NewSize(460, u.d.MinSize().Height))
	u.d.Show()
	c.unsaved = u
}

// unsavedDialog is an open "unsaved changes" question.
type unsavedDialog struct {
	d                     *dialog.CustomDialog
	save, discard, cancel *widget.Button
}

// hostnameRE is an RFC 1123 host name label: letters, digits and inner
// hyphens, at most 63 characters.
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// fieldValidator checks a value with the layer's rule; the hostname also
// has to be a valid RFC 1123 name (the device would not be reachable by
// it otherwise). An empty optional value is fine.
func fieldValidator(v form.Var) fyne.StringValidator {
	return func(s string) error {
		if s == "" && !v.Required {
			return nil
		}
		if v.Key == keyHostname && !layers.IsDynamic(s) && !hostnameRE.MatchString(s) {
			return errors.New("not a valid host name: use letters, digits and hyphens (not first or last), at most 63")
		}
		if v.Check != nil {
			return v.Check(s)
		}
		return nil
	}
}

// tapLabel is a wrapping label that does something when tapped (a
// problem of the summary jumps to its field).
type tapLabel struct {
	widget.Label
	onTap func()
}

func newTapLabel(text string, onTap func()) *tapLabel {
	l := &tapLabel{onTap: onTap}
	l.Text, l.Wrapping = text, fyne.TextWrapWord
	l.ExtendBaseWidget(l)
	return l
}

// Tapped runs the label's action.
func (l *tapLabel) Tapped(*fyne.PointEvent) {
	if l.onTap != nil {
		l.onTap()
	}
}

// Cursor shows a pointer over the label, as over a link.
func (l *tapLabel) Cursor() desktop.Cursor { return desktop.PointerCursor }

// jumpTo scrolls the form to the field of key and gives it the focus.
func (c *configureView) jumpTo(key string) {
	f := c.fields[key]
	if f == nil || f.row == nil {
		return
	}
	d := fyne.CurrentApp().Driver()
	y := d.AbsolutePositionForObject(f.row).Y - d.AbsolutePositionForObject(c.formScroll.Content).Y
	c.formScroll.Offset.Y = max(0, min(y-theme.Padding(), c.formScroll.Content.MinSize().Height-c.formScroll.Size().Height))
	c.formScroll.Refresh()
	if w, ok := f.obj.(fyne.Focusable); ok {
		c.g.win.Canvas().Focus(w)
	}
}

// otherKeys lists the config's keys that no chosen layer declares (the
// form has no field for them), in file order.
func (c *configureView) otherKeys() []string {
	if c.doc == nil {
		return nil
	}
	var out []string
	for _, sec := range c.doc.Sections() {
		for _, k := range c.doc.Keys(sec) {
			key := sec + "." + k
			if _, ok := c.fields[key]; !ok {
				out = append(out, key)
			}
		}
	}
	return out
}

// addOtherKeys shows the keys no chosen layer declares, each with its
// value and a Remove button: rpi-image-gen ignores them or another layer
// needs them, and the form would otherwise hide them.
func (c *configureView) addOtherKeys() {
	keys := c.otherKeys()
	if len(keys) == 0 {
		return
	}
	grid := container.New(layout.NewFormLayout())
	for _, key := range keys {
		v, ok := c.doc.Get(key)
		if !ok {
			v = "(a section)"
		}
		val := widget.NewLabel(v)
		val.Truncation = fyne.TextTruncateEllipsis
		rm := newFormButton("Remove", theme.DeleteIcon(), func() { c.removeKey(key) })
		rm.Importance = widget.LowImportance
		grid.Add(widget.NewLabelWithStyle(key, fyne.TextAlignTrailing, fyne.TextStyle{}))
		grid.Add(container.NewBorder(nil, nil, nil, rm, val))
	}
	c.extra.Add(widget.NewCard("Other settings", "keys no chosen layer declares", grid))
}

// removeKey deletes a key the form has no field for.
func (c *configureView) removeKey(key string) {
	if c.doc == nil {
		return
	}
	if err := c.doc.Delete(key); err != nil {
		c.g.showError(fmt.Errorf("removing %s: %w", key, err))
		return
	}
	c.dirty = true
	c.editGen++
	c.updateTitle()
	c.rebuildForms()
	c.fillFields()
	c.revalidate()
}

// value is the config's value at key, else the default a chosen layer
// gives it ("" when neither is known); the device layer's class (pi5)
// names the default hostname, for one.
func (c *configureView) value(key string) string {
	if c.doc == nil {
		return ""
	}
	if v, ok := c.doc.Get(key); ok && v != "" {
		return v
	}
	for _, k := range []string{keyDeviceLayer, keyImageLayer, keyBaseLayer} {
		l, ok := c.layer(k)
		if !ok {
			continue
		}
		for _, v := range l.Vars {
			if v.Key == key && v.Default != "" && !strings.Contains(v.Default, "$") {
				return v.Default
			}
		}
	}
	return ""
}

// sectionGroups collects variables into one form per config section, in
// the order the sections first appear.
type sectionGroups struct {
	groups map[string]*fyne.Container
	order  []string
}

// add puts each variable into its section's form; image variables (and
// those without a section) go into img.
func (g *sectionGroups) add(vars []form.Var, img *fyne.Container, add func(*fyne.Container, form.Var)) {
	for _, v := range vars {
		sec := v.Key[:max(strings.IndexByte(v.Key, '.'), 0)]
		if sec == "image" || sec == "" {
			add(img, v)
			continue
		}
		if g.groups[sec] == nil {
			g.groups[sec] = container.New(layout.NewFormLayout())
			g.order = append(g.order, sec)
		}
		add(g.groups[sec], v)
	}
}

// labelColumn gives every label cell of the form one width: the widest
// label's, so that the cards' fields line up.
type labelColumn struct{ labels []fyne.CanvasObject }

func (l *labelColumn) width() float32 {
	var w float32
	for _, o := range l.labels {
		w = max(w, o.MinSize().Width)
	}
	return w
}

// MinSize is the widest label's width and this cell's label height.
func (l *labelColumn) MinSize(objects []fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(l.width(), objects[0].MinSize().Height)
}

// Layout lets the label fill the cell.
func (l *labelColumn) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	objects[0].Move(fyne.NewPos(0, 0))
	objects[0].Resize(size)
}

// labelCell puts a form label into the shared label column.
func (c *configureView) labelCell(label fyne.CanvasObject) fyne.CanvasObject {
	c.labelCol.labels = append(c.labelCol.labels, label)
	return container.New(c.labelCol, label)
}
