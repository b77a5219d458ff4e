package gui

import (
	"fmt"
	"sort"

	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/pistudio/pistudio/internal/imager"
)

// keyFirstbootLayer is where the switch puts the first-boot layer.
const keyFirstbootLayer = "layer.firstboot"

// flashtimeSwitch is Configure's "Settings at flash time" switch: it adds
// or removes the first-boot reader layer (internal/imager's Layers) in the
// config through the config editor, so the image can take settings when
// it is flashed.
type flashtimeSwitch struct {
	c       *configureView
	check   *formCheck
	reader  *formSelect
	card    *widget.Card
	syncing bool
}

// readerLabels names the first-boot layers for people.
var readerLabels = map[string]string{
	"firstboot-cloudinit":   "cloud-init (Debian archive)",
	"firstboot-rpi-preseed": "rpi-preseed (needs the Raspberry Pi archive)",
}

// defaultFirstbootLayer is the layer the switch adds unless told otherwise.
const defaultFirstbootLayer = "firstboot-cloudinit"

func newFlashtimeSwitch(c *configureView) *flashtimeSwitch {
	s := &flashtimeSwitch{c: c}
	var opts []string
	for _, l := range firstbootLayers() {
		opts = append(opts, readerLabels[l])
	}
	s.reader = newFormSelect(opts, func(string) { s.readerChanged() })
	s.reader.SetSelected(readerLabels[defaultFirstbootLayer])
	s.check = newFormCheck("Let this image take settings when it is flashed", func(on bool) { s.toggled(on) })
	s.card = widget.NewCard("Settings at flash time", "", container.NewVBox(
		s.check,
		container.NewBorder(nil, nil, widget.NewLabel("Reader"), nil, s.reader),
		hintLabel("Adds a first-boot reader layer to the image, so the Flash section can write a hostname, user, "+
			"SSH keys, Wi-Fi and locale onto each card. Without it, settings cannot be applied to the image.")))
	s.sync()
	return s
}

// firstbootLayers are the layer names, sorted.
func firstbootLayers() []string {
	var out []string
	for l := range imager.Layers {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// chosen is the layer the reader select names.
func (s *flashtimeSwitch) chosen() string {
	for l, label := range readerLabels {
		if label == s.reader.Selected {
			return l
		}
	}
	return defaultFirstbootLayer
}

// present returns the config's layer.* keys holding a first-boot layer.
func (s *flashtimeSwitch) present() (keys []string, layer string) {
	doc := s.c.doc
	if doc == nil {
		return nil, ""
	}
	for _, k := range doc.Keys("layer") {
		v, _ := doc.Get("layer." + k)
		if _, ok := imager.Layers[v]; ok {
			keys = append(keys, "layer."+k)
			layer = v
		}
	}
	return keys, layer
}

// sync shows the open config's state.
func (s *flashtimeSwitch) sync() {
	keys, layer := s.present()
	s.syncing = true
	defer func() { s.syncing = false }()
	s.check.SetChecked(len(keys) > 0)
	if l := readerLabels[layer]; l != "" {
		s.reader.SetSelected(l)
	}
	setEnabled(s.check, s.c.doc != nil)
}

// toggled adds or removes the layer.
func (s *flashtimeSwitch) toggled(on bool) {
	if s.syncing || s.c.doc == nil || s.c.loading {
		return
	}
	var err error
	if on {
		err = s.set(s.chosen())
	} else {
		err = s.remove()
	}
	if err != nil {
		s.c.g.showError(err)
		s.sync()
	}
}

// readerChanged swaps the layer when the switch is on.
func (s *flashtimeSwitch) readerChanged() {
	if s.syncing || s.c.doc == nil || !s.check.Checked {
		return
	}
	if err := s.set(s.chosen()); err != nil {
		s.c.g.showError(err)
	}
}

// set puts layer into the config, replacing any other first-boot layer.
func (s *flashtimeSwitch) set(layer string) error {
	keys, _ := s.present()
	key := keyFirstbootLayer
	if len(keys) > 0 {
		key = keys[0]
	}
	if err := s.c.doc.Set(key, layer); err != nil {
		return fmt.Errorf("adding the first-boot layer: %w", err)
	}
	s.edited()
	return nil
}

// remove deletes every first-boot layer from the config.
func (s *flashtimeSwitch) remove() error {
	keys, _ := s.present()
	for _, k := range keys {
		if err := s.c.doc.Delete(k); err != nil {
			return fmt.Errorf("removing the first-boot layer: %w", err)
		}
	}
	s.edited()
	return nil
}

// edited marks the config changed and checks it again.
func (s *flashtimeSwitch) edited() {
	c := s.c
	c.dirty = true
	c.editGen++
	c.updateTitle()
	c.revalidate()
}
