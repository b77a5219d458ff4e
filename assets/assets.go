// Package assets embeds what Pi Image Studio ships inside its binary: the
// app icon, the example configs, the rpi-image-gen layers of our own (the
// raid image layout) and the desktop/polkit metadata.
package assets

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed icon.png
var icon []byte

//go:embed configs/*.yaml
var configs embed.FS

//go:embed all:layers
var layers embed.FS

// Icon returns the application icon as PNG bytes.
func Icon() []byte { return icon }

// Configs returns the example configs; names are "configs/<file>.yaml".
func Configs() fs.FS { return configs }

// Config returns one example config by file name, e.g. "raid-config.yaml".
func Config(name string) ([]byte, error) {
	b, err := configs.ReadFile("configs/" + name)
	if err != nil {
		return nil, fmt.Errorf("example config %q: %w", name, err)
	}
	return b, nil
}

// Layers returns our layer source tree, laid out like an rpi-image-gen
// source dir (device/, image/, layer/), rooted at its top.
func Layers() fs.FS {
	sub, err := fs.Sub(layers, "layers")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// WriteLayers writes our layer tree into dir so that it can be handed to
// rpi-image-gen with -S dir. Existing files are overwritten.
func WriteLayers(dir string) error {
	return fs.WalkDir(Layers(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(Layers(), p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if filepath.Ext(p) == ".sh" {
			mode = 0o755
		}
		if err := os.WriteFile(dst, b, mode); err != nil {
			return fmt.Errorf("writing layer file: %w", err)
		}
		return nil
	})
}
