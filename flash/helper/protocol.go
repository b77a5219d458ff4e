// Package helper runs disk writes in a separate privileged process and
// talks to it, so that the desktop app itself never runs as root.
//
// `pistudio helper`, started as root through `pkexec pistudio helper`,
// reads one JSON request per line on stdin and writes JSON events, one per
// line, on stdout:
//
//	→ {"id":"1","op":"disks"}
//	← {"id":"1","type":"result","disks":[...]}
//	→ {"id":"2","op":"flash","image":"/home/u/pi.img.xz","device":"/dev/sdb",
//	   "identity":{"major":8,"minor":16,"size_bytes":31914983424,"serial":"X"},
//	   "verify":true,"sha256":false,"allow_unmount":false}
//	← {"id":"2","type":"progress","progress":{"phase":"writing","done":4194304,...}}
//	← {"id":"2","type":"result","result":{"xxh3":"…","sha256":"","verified":true,...}}
//	→ {"id":"2","op":"cancel"}
//	← {"id":"2","type":"error","error":"…","kind":"cancelled"}
//	→ {"id":"3","op":"settings","device":"/dev/sdb","identity":{…},
//	   "settings":{"format":"cloudinit","files":[{"name":"user-data","data":"<base64>"}],"cmdline":["ds=nocloud;i=…"]}}
//	← {"id":"3","type":"result","applied":{"partition":1,"files":["user-data","cmdline.txt"]}}
//
// The helper trusts nothing it is told: the image (and its block map) is
// opened with the file-system credentials of the calling user
// (PKEXEC_UID) and read only through those open files; the device path
// must lie under /dev, and so must every link it goes through, and resolve
// to a block device node directly under /dev, which is the node written
// (never a file, never through a link) — any other path gets one and the
// same refusal, so nothing about paths outside /dev is learnt; a loop
// device is written only when its backing file belongs to the user (or
// the request says allow_loop); two running writes are never one medium
// (disk.SameMedium); and every write re-runs the disk guard (disk.Guard)
// on that exact device. A request may
// carry the image's size as the client measured it by decoding
// (source.Measure); the helper uses it only for the file it opened, as it
// is now, and the writer checks the stream against it. Closing stdin
// cancels every running write.
//
// Flasher is the one interface the app uses either way: Local writes
// in-process (when already root, or for file targets), Client talks to a
// helper process.
package helper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/flash/source"
)

// Operations a request may ask for.
const (
	OpDisks  = "disks"
	OpFlash  = "flash"
	OpCancel = "cancel"
	// OpSettings writes first-boot settings (Request.Settings) into the
	// boot partition of a device written before, and reads them back.
	OpSettings = "settings"
)

// Event types.
const (
	EventProgress = "progress"
	EventResult   = "result"
	EventError    = "error"
)

// Request is one line sent to the helper.
type Request struct {
	// ID names the request; events about it carry the same ID, and a
	// cancel names the flash to cancel.
	ID string `json:"id"`
	// Op is "disks", "flash" or "cancel".
	Op string `json:"op"`
	// Image is the image file to write (flash).
	Image string `json:"image,omitempty"`
	// Device is the block device to write (flash).
	Device string `json:"device,omitempty"`
	// Identity is the disk the user chose (flash).
	Identity *Identity `json:"identity,omitempty"`
	// Verify reads the data back after writing; absent means true.
	Verify *bool `json:"verify,omitempty"`
	// SHA256 also computes the SHA-256 of the expanded image (the
	// XXH3-128 is always computed).
	SHA256 bool `json:"sha256,omitempty"`
	// AllowUnmount lets the helper unmount the disk's partitions.
	AllowUnmount bool `json:"allow_unmount,omitempty"`
	// AllowLoop lets the helper list as eligible (disks) and write (flash)
	// a loop device whose backing file belongs to another user than the
	// one the helper acts for.
	AllowLoop bool `json:"allow_loop,omitempty"`
	// Measure is what the client learnt by decoding the image (its size,
	// for containers that do not record it); the helper uses it only if
	// it names the file the helper opened, as it is now.
	Measure *source.Measure `json:"measure,omitempty"`
	// Settings are the first-boot files to write (settings); the helper
	// accepts only a reader's file names and kernel arguments.
	Settings *firstboot.Payload `json:"settings,omitempty"`
}

// Identity is disk.Identity on the wire.
type Identity struct {
	Major     uint32 `json:"major"`
	Minor     uint32 `json:"minor"`
	SizeBytes int64  `json:"size_bytes"`
	Serial    string `json:"serial"`
	DiskSeq   uint64 `json:"diskseq,omitempty"`
}

// WireIdentity converts a disk identity for a Request.
func WireIdentity(id disk.Identity) *Identity {
	return &Identity{Major: id.Major, Minor: id.Minor, SizeBytes: id.SizeBytes, Serial: id.Serial, DiskSeq: id.DiskSeq}
}

// Disk returns the disk identity.
func (i *Identity) Disk() disk.Identity {
	return disk.Identity{Major: i.Major, Minor: i.Minor, SizeBytes: i.SizeBytes, Serial: i.Serial, DiskSeq: i.DiskSeq}
}

// Event is one line the helper writes.
type Event struct {
	// ID is the request the event is about.
	ID string `json:"id"`
	// Type is "progress", "result" or "error".
	Type string `json:"type"`
	// Progress is set on progress events.
	Progress *flash.Progress `json:"progress,omitempty"`
	// Result is set on the result of a flash.
	Result *flash.Result `json:"result,omitempty"`
	// Applied is set on the result of a settings request.
	Applied *firstboot.Applied `json:"applied,omitempty"`
	// Disks is set on the result of a disks request.
	Disks []disk.Disk `json:"disks,omitempty"`
	// Error is the message of an error event.
	Error string `json:"error,omitempty"`
	// Kind classifies an error so the client can rebuild a typed error:
	// "cancelled", "verify", "too_small", "mounted", "protected",
	// "changed", "not_found", "same_medium", "request" or "" (other).
	Kind string `json:"kind,omitempty"`
	// Offset is the first bad byte of a "verify" error.
	Offset int64 `json:"offset,omitempty"`
	// Path, Other, Reason, MountPoint, ImageSize and DeviceSize detail
	// the typed errors that have them.
	Path       string `json:"path,omitempty"`
	Other      string `json:"other,omitempty"`
	Reason     string `json:"reason,omitempty"`
	MountPoint string `json:"mount_point,omitempty"`
	ImageSize  int64  `json:"image_size,omitempty"`
	DeviceSize int64  `json:"device_size,omitempty"`
}

// ErrRequest marks a request the helper refused before doing anything.
var ErrRequest = errors.New("bad helper request")

// ErrorEvent turns err into an error event for request id, classifying
// the typed errors of flash and disk so that a client can rebuild them.
func ErrorEvent(id string, err error) Event {
	ev := Event{ID: id, Type: EventError, Error: err.Error()}
	var ve *flash.VerifyError
	var ts *flash.TooSmallError
	var me *flash.MountedError
	var pe *disk.ProtectedError
	var sm *disk.SameMediumError
	switch {
	case errors.Is(err, context.Canceled):
		ev.Kind = "cancelled"
	case errors.As(err, &ve):
		ev.Kind, ev.Offset, ev.Path = "verify", ve.Offset, ve.Path
	case errors.As(err, &ts):
		ev.Kind, ev.Path, ev.ImageSize, ev.DeviceSize = "too_small", ts.Path, ts.ImageSize, ts.DeviceSize
	case errors.As(err, &me):
		ev.Kind, ev.Path, ev.MountPoint = "mounted", me.Device, me.MountPoint
	case errors.As(err, &pe):
		ev.Kind, ev.Path, ev.Reason = "protected", pe.Path, pe.Reason
	case errors.As(err, &sm):
		ev.Kind, ev.Path, ev.Other, ev.Reason = "same_medium", sm.A, sm.B, sm.Why
	case errors.Is(err, disk.ErrChanged):
		ev.Kind = "changed"
	case errors.Is(err, disk.ErrNotFound):
		ev.Kind = "not_found"
	case errors.Is(err, ErrRequest):
		ev.Kind = "request"
	}
	return ev
}

// remoteError is an error the helper reported; it unwraps to the typed
// error its kind names, so callers use errors.Is/As as they would
// in-process.
type remoteError struct {
	msg   string
	typed error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.typed }

// asError rebuilds the error an error event describes.
func (ev Event) asError() error {
	var typed error
	switch ev.Kind {
	case "cancelled":
		typed = context.Canceled
	case "verify":
		typed = &flash.VerifyError{Offset: ev.Offset, Path: ev.Path}
	case "too_small":
		typed = &flash.TooSmallError{Path: ev.Path, ImageSize: ev.ImageSize, DeviceSize: ev.DeviceSize}
	case "mounted":
		typed = &flash.MountedError{Device: ev.Path, MountPoint: ev.MountPoint}
	case "protected":
		typed = &disk.ProtectedError{Path: ev.Path, Reason: ev.Reason}
	case "same_medium":
		typed = &disk.SameMediumError{A: ev.Path, B: ev.Other, Why: ev.Reason}
	case "changed":
		typed = disk.ErrChanged
	case "not_found":
		typed = disk.ErrNotFound
	case "request":
		typed = ErrRequest
	}
	if typed == nil {
		return errors.New(ev.Error)
	}
	return &remoteError{msg: ev.Error, typed: typed}
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("helper: encoding %T: %v", v, err)) // only plain structs are encoded
	}
	return append(b, '\n')
}
