package config

import (
	"strings"
	"testing"
)

// Inserted lines use the file's line ending; a byte order mark does not
// break edits on line 1.
func TestEditsKeepCRLFAndBOM(t *testing.T) {
	const bom = "\xef\xbb\xbf"
	cases := []struct {
		name, src string
		edit      func(c *Config) error
		want      string
	}{
		{"insert block", "device:\r\n  layer: rpi5\r\n", func(c *Config) error { return c.Set("device.hostname", "h") },
			"device:\r\n  layer: rpi5\r\n  hostname: h\r\n"},
		{"append section", "device:\r\n  layer: rpi5\r\n", func(c *Config) error { return c.Set("raid.devices", "3") },
			"device:\r\n  layer: rpi5\r\nraid:\r\n  devices: 3\r\n"},
		{"append section no final eol", "device:\r\n  layer: rpi5", func(c *Config) error { return c.Set("raid.devices", "3") },
			"device:\r\n  layer: rpi5\r\nraid:\r\n  devices: 3\r\n"},
		{"fill empty", "image:\r\ndevice:\r\n  layer: rpi5\r\n", func(c *Config) error { return c.Set("image.name", "n") },
			"image:\r\n  name: n\r\ndevice:\r\n  layer: rpi5\r\n"},
		{"fill empty last line", "device:\r\n  layer: rpi5\r\nimage:", func(c *Config) error { return c.Set("image.name", "n") },
			"device:\r\n  layer: rpi5\r\nimage:\r\n  name: n\r\n"},
		{"bom set line 1", bom + "image: {name: x}\r\n", func(c *Config) error { return c.Set("image.name", "y") },
			bom + "image: {name: y}\r\n"},
		{"bom flow insert line 1", bom + "image: {name: x}\n", func(c *Config) error { return c.Set("image.layer", "raid") },
			bom + "image: {name: x, layer: raid}\n"},
		{"bom block set line 1", bom + "name: {a: 1}\nimage:\n  name: x\n", func(c *Config) error { return c.Set("name.a", "2") },
			bom + "name: {a: 2}\nimage:\n  name: x\n"},
		{"bom delete line 1", bom + "image:\n  name: x\ndevice:\n  layer: rpi5\n", func(c *Config) error { return c.Delete("image") },
			bom + "device:\n  layer: rpi5\n"},
		{"bom fill empty line 1", bom + "image:\n", func(c *Config) error { return c.Set("image.name", "n") },
			bom + "image:\n  name: n\n"},
	}
	for _, c := range cases {
		cfg, err := ParseConfig("c.yaml", []byte(c.src))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := c.edit(cfg); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := string(cfg.Bytes()); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if strings.Contains(c.src, "\r\n") && strings.Count(string(cfg.Bytes()), "\n") != strings.Count(string(cfg.Bytes()), "\r\n") {
			t.Errorf("%s: mixed line endings %q", c.name, cfg.Bytes())
		}
	}
}
