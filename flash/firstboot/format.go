package firstboot

import (
	"errors"
	"fmt"
)

// Format is a first-boot reader's file format, named as Raspberry Pi
// Imager names it in a manifest's init_format.
type Format string

// The formats. None means the image reads no settings.
const (
	// None: the image has no reader; settings cannot be applied.
	None Format = "none"
	// CloudInit: cloud-init's NoCloud seed (user-data, meta-data,
	// network-config) on the boot partition.
	CloudInit Format = "cloudinit"
	// CloudInitRPi: CloudInit on Raspberry Pi OS with its cc_raspberry_pi
	// module; the files are the same for the settings written here.
	CloudInitRPi Format = "cloudinit-rpi"
	// RPiPreseed: rpi-preseed.toml, read by the rpi-preseed package.
	RPiPreseed Format = "rpi-preseed"
	// Systemd: firstrun.sh run once through systemd.run= on the kernel
	// command line (Raspberry Pi OS Bookworm).
	Systemd Format = "systemd"
)

// Formats lists the formats that carry settings.
var Formats = []Format{CloudInit, CloudInitRPi, RPiPreseed, Systemd}

// ErrUnknownFormat is matched by errors about a format name not listed.
var ErrUnknownFormat = errors.New("unknown first-boot format")

// ParseFormat reads a format name; "" is None.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return None, nil
	case None, CloudInit, CloudInitRPi, RPiPreseed, Systemd:
		return f, nil
	}
	return None, fmt.Errorf("%w %q (known: none, cloudinit, cloudinit-rpi, rpi-preseed, systemd)", ErrUnknownFormat, s)
}

// CanApply reports whether settings can be written in format f.
func (f Format) CanApply() bool { return f != None && f != "" }

// Label names the format for people.
func (f Format) Label() string {
	switch f {
	case CloudInit:
		return "cloud-init (NoCloud)"
	case CloudInitRPi:
		return "cloud-init (Raspberry Pi OS)"
	case RPiPreseed:
		return "rpi-preseed"
	case Systemd:
		return "firstrun.sh (systemd)"
	}
	return "none"
}

// Supports reports whether format f can carry field fd. Locale is not
// part of the firstrun.sh and rpi-preseed formats.
func (f Format) Supports(fd Field) bool {
	if fd == FieldLocale {
		return f == CloudInit || f == CloudInitRPi
	}
	return f.CanApply()
}

// Reader is what an image reads at first boot and how that was learnt.
type Reader struct {
	// Format is the reader's format (None when unknown).
	Format Format `json:"format"`
	// From says where the format was found: "image.json", a manifest's
	// path, "release name" or "" when none.
	From string `json:"from,omitempty"`
	// Reason says, when Format is None, why settings cannot be applied.
	Reason string `json:"reason,omitempty"`
}

// CanApply reports whether settings can be written to this image.
func (r Reader) CanApply() bool { return r.Format.CanApply() }
