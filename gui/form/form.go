// Package form describes layers and their variables the way the Configure
// form shows them: one widget kind per variable, its rule as a check, and
// validation problems located at config keys. It is built from the layer
// catalog of package builder/layers (Configs) or, in demo mode and tests,
// from sample layers. It has no Fyne import.
package form

// VarKind tells which widget edits a variable.
type VarKind int

// Kinds of variables.
const (
	// KindString is free text.
	KindString VarKind = iota
	// KindEnum is one of Var.Choices.
	KindEnum
	// KindBool is a yes/no value.
	KindBool
	// KindInt is an integer.
	KindInt
	// KindSize is an rpi-image-gen size such as 200M or 50%.
	KindSize
)

// Var is one layer variable, as the form shows it.
type Var struct {
	// Key is the config key path, e.g. "image.rootfs_type".
	Key string
	// Name is the variable's short name, e.g. "rootfs_type".
	Name string
	// Default is the layer's default value ("" when none).
	Default string
	// Desc is the layer's -Desc text, shown as the field's hint.
	Desc string
	// Required is true when the layer requires a value.
	Required bool
	// Kind chooses the widget.
	Kind VarKind
	// Choices are the allowed values of an enum.
	Choices []string
	// Check validates a value with the layer's rule; nil accepts anything.
	Check func(value string) error
}

// Layer is one catalog entry.
type Layer struct {
	// Name is the layer name used in configs.
	Name string
	// Desc is the layer's description.
	Desc string
	// Category is device, image, base (suite) or general.
	Category string
	// Vars are the layer's variables in header order.
	Vars []Var
}

// Layer categories as the form groups them.
const (
	// CategoryDevice holds the layers config key device.layer names.
	CategoryDevice = "device"
	// CategoryImage holds the layers config key image.layer names.
	CategoryImage = "image"
	// CategoryBase holds the suites config key layer.base names.
	CategoryBase = "base"
)

// Catalog is the set of known layers.
type Catalog interface {
	// Layers returns every layer, sorted by name.
	Layers() []Layer
	// Lookup returns a layer by name.
	Lookup(name string) (Layer, bool)
}

// Problem is one validation finding.
type Problem struct {
	// Key is the config key path the problem belongs to ("" for the file).
	Key string
	// Line is the 1-based line in the file (0 when unknown).
	Line int
	// Msg is the user-facing message.
	Msg string
}
