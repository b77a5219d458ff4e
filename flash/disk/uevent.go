package disk

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Uevent is one kernel object event as sent on NETLINK_KOBJECT_UEVENT.
type Uevent struct {
	// Action is "add", "remove", "change", "move", "online", "offline", "bind", "unbind".
	Action string
	// DevPath is the sysfs path below /sys, e.g. "/devices/.../block/sdb".
	DevPath string
	// Subsystem is e.g. "block".
	Subsystem string
	// DevName is the device node name below /dev, e.g. "sdb1", if any.
	DevName string
	// DevType is "disk" or "partition" for block devices.
	DevType string
	// Major and Minor are the device numbers (0 when absent).
	Major, Minor uint32
	// Seq is the kernel's event sequence number.
	Seq uint64
	// Env holds every KEY=value pair of the event.
	Env map[string]string
}

// ErrNotUevent is returned for a datagram that is not a kernel uevent
// (for example a udev daemon message, which starts with "libudev").
var ErrNotUevent = errors.New("not a kernel uevent")

// ParseUevent parses one kernel uevent datagram:
// "ACTION@DEVPATH\0KEY=value\0KEY=value\0...".
func ParseUevent(b []byte) (Uevent, error) {
	if bytes.HasPrefix(b, []byte("libudev\x00")) {
		return Uevent{}, fmt.Errorf("udev daemon message: %w", ErrNotUevent)
	}
	fields := bytes.Split(b, []byte{0})
	head := string(fields[0])
	action, devpath, ok := strings.Cut(head, "@")
	if !ok || action == "" || !strings.HasPrefix(devpath, "/") {
		return Uevent{}, fmt.Errorf("header %q: %w", truncate(head), ErrNotUevent)
	}
	ev := Uevent{Action: action, DevPath: devpath, Env: map[string]string{}}
	for _, f := range fields[1:] {
		if len(f) == 0 {
			continue
		}
		k, v, ok := strings.Cut(string(f), "=")
		if !ok || k == "" {
			return Uevent{}, fmt.Errorf("field %q: %w", truncate(string(f)), ErrNotUevent)
		}
		ev.Env[k] = v
	}
	if a := ev.Env["ACTION"]; a != "" && a != action {
		return Uevent{}, fmt.Errorf("ACTION=%q disagrees with header %q: %w", truncate(a), truncate(action), ErrNotUevent)
	}
	ev.Subsystem = ev.Env["SUBSYSTEM"]
	ev.DevName = ev.Env["DEVNAME"]
	ev.DevType = ev.Env["DEVTYPE"]
	if v, err := strconv.ParseUint(ev.Env["MAJOR"], 10, 32); err == nil {
		ev.Major = uint32(v)
	}
	if v, err := strconv.ParseUint(ev.Env["MINOR"], 10, 32); err == nil {
		ev.Minor = uint32(v)
	}
	ev.Seq, _ = strconv.ParseUint(ev.Env["SEQNUM"], 10, 64)
	return ev, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// affectsDisks reports whether an event may change the disk list.
func (ev Uevent) affectsDisks() bool {
	return ev.Subsystem == "block" || ev.Subsystem == "scsi_disk" || ev.Subsystem == "mmc"
}
