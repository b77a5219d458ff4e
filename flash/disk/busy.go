package disk

import (
	"github.com/pistudio/pistudio/flash/disk/internal/devscope"
)

// busyReason is how a disk the kernel holds busy, with nothing in this
// mount namespace to show for it, is listed.
const busyReason = "in use by the system (busy: mounted in another mount namespace, " +
	"under an overlay, a RAID or btrfs member, or held open exclusively)"

// checkBusy asks the kernel whether the eligible disk d (on the running
// system) is in use where the mount table cannot tell: it opens the disk,
// or each partition not mounted here, O_RDONLY|O_EXCL|O_NONBLOCK and
// closes it at once, as a writer's exclusive open would find it. A busy
// one makes d protected. An open that fails otherwise (an unprivileged
// scan) proves nothing and changes nothing.
func (s *scanner) checkBusy(d *Disk) {
	if !s.real || !d.Eligible || !devscope.Allowed(d.Path) {
		return
	}
	for _, n := range s.busyCandidates(d) {
		dv := s.devs[n]
		busy, err := probeBusy("/dev/"+n, dv.major, dv.minor)
		if err != nil || !busy {
			continue
		}
		d.Eligible, d.NeedsTypedConfirm = false, false
		if n == d.Name {
			d.Reason = busyReason
		} else {
			d.Reason = busyReason + ": " + n
		}
		return
	}
}

// busyCandidates returns what checkBusy opens: the whole disk when nothing
// on it is mounted here, else its partitions that are not (a mounted one
// is busy for a reason the user sees and --allow-unmount handles).
func (s *scanner) busyCandidates(d *Disk) []string {
	var free []string
	mounted := len(s.mounts[d.Name]) > 0
	for _, p := range d.Partitions {
		if len(s.mounts[p.Name]) > 0 || s.swaps[p.Name] {
			mounted = true
			continue
		}
		free = append(free, p.Name)
	}
	if !mounted {
		return []string{d.Name}
	}
	return free
}
