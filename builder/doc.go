// Package builder is the configuration side of Pi Image Studio: it loads
// and edits rpi-image-gen YAML configs without disturbing their layout,
// reads the layer catalog (METABEGIN headers) from an rpi-image-gen tree,
// extra source dirs and the layers embedded in the binary, resolves a
// config into an ordered layer plan, validates variable values against the
// layers' -Valid rules, and locates the rpi-image-gen tool.
package builder
