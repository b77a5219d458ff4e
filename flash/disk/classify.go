package disk

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	kindRes = []struct {
		re     *regexp.Regexp
		reason string
	}{
		{regexp.MustCompile(`^md`), "software RAID (md) device"},
		{regexp.MustCompile(`^dm-`), "device-mapper volume (LVM, LUKS)"},
		{regexp.MustCompile(`^sr\d`), "optical drive"},
		{regexp.MustCompile(`^zram`), "compressed RAM disk (zram)"},
		{regexp.MustCompile(`^ram\d`), "RAM disk"},
		{mmcExtraRe, "eMMC boot or RPMB area"},
	}
	busNames = map[string]string{
		"sata": "SATA", "nvme": "NVMe", "virtio": "virtio", "scsi": "SCSI", "ide": "IDE", "xen": "Xen",
	}
)

// classify decides d.Eligible, d.Reason and d.NeedsTypedConfirm.
func (s *scanner) classify(d *Disk) {
	var reasons []string
	kind := false
	for _, k := range kindRes {
		if k.re.MatchString(d.Name) {
			reasons = append(reasons, k.reason)
			kind = true
			break
		}
	}

	// Mounts and swap, on the disk, its partitions and whatever is stacked on them.
	devs := append([]string{d.Name}, s.stack(d.Name)...)
	var critical []string
	for _, mp := range criticalOrder {
		for _, n := range devs {
			for _, m := range s.mounts[n] {
				if underCritical(m, mp) {
					critical = append(critical, "holds "+m+" ("+criticalMounts[mp]+")"+s.via(d.Name, n))
				}
			}
		}
	}
	for _, n := range devs {
		if s.swaps[n] {
			reasons = append(reasons, "used as swap ("+n+")"+s.via(d.Name, n))
		}
	}
	reasons = append(critical, reasons...)
	inUse := len(reasons) > 0

	for _, n := range devs {
		if img, ok := s.images[n]; ok {
			reasons = append(reasons, "holds the image being written ("+img+")")
			break
		}
	}
	if back, ok := s.loopBlock[d.Name]; ok {
		reasons = append(reasons, "backed by block device "+back)
	}
	reasons = append(reasons, s.unresolvedReasons(d, devs[1:])...)
	if d.Bus == "loop" && d.Serial != "" {
		for _, img := range s.opts.ImagePaths {
			if sameFile(img, d.Serial) {
				reasons = append(reasons, "is backed by the image being written ("+img+")")
				break
			}
		}
	}
	if len(d.Holders) > 0 && !inUse {
		reasons = append(reasons, "in use by "+s.describe(d.Holders))
	}
	if !kind {
		if d.SizeBytes == 0 {
			reasons = append(reasons, "empty (no medium)")
		}
		if d.ReadOnly {
			reasons = append(reasons, "read-only (write-protect switch?)")
		}
		if !(d.Bus == "usb" || d.Bus == "mmc" || d.Bus == "loop" || d.Removable) {
			if b := busNames[d.Bus]; b != "" {
				reasons = append(reasons, "internal "+b+" disk")
			} else {
				reasons = append(reasons, "internal disk")
			}
		}
	}
	d.Eligible = len(reasons) == 0
	d.Reason = strings.Join(dedup(reasons), "; ")
	d.NeedsTypedConfirm = d.Eligible && d.SizeBytes > TypedConfirmBytes
}

// via names the stacked device n when it is not the disk or one of its partitions.
func (s *scanner) via(disk, n string) string {
	if n == disk {
		return ""
	}
	if dv := s.devs[n]; dv != nil && dv.parent == disk {
		return ""
	}
	return " through " + s.describe([]string{n})
}

// describe names devices with their device-mapper names: "dm-0 (vg-root)".
func (s *scanner) describe(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if dv := s.devs[n]; dv != nil {
			if dm := readTrim(filepath.Join(dv.dir, "dm", "name")); dm != "" {
				out[i] += " (" + dm + ")"
			}
		}
	}
	return strings.Join(out, ", ")
}

func dedup(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range list {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	return os.SameFile(sa, sb)
}

// underCritical reports whether mount point m is the system path c or,
// for c other than "/", lies below it (/home/alice, /var/lib, /srv/www).
func underCritical(m, c string) bool {
	return m == c || (c != "/" && strings.HasPrefix(m, c+"/"))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
