package disk

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jaypipes/ghw"
)

// ScanOptions says where and for what to look for disks.
type ScanOptions struct {
	// Root is "" or "/" for the running system, otherwise the root of a
	// fake tree holding sys/, proc/ and run/udev/data (as ghw's chroot).
	Root string
	// ImagePaths are the image files about to be written: a disk holding
	// one of them (or a loop device backed by one) is protected.
	ImagePaths []string
	// Open opens a partition's device node (e.g. "/dev/sdb1") read-only to
	// read its superblock when udev does not know the filesystem. It is
	// called only for partitions of eligible disks. nil means: on the
	// running system open the node read-only; under a fake Root open
	// Root+node only if it is a regular file. An error skips the probe.
	Open func(devPath string) (*os.File, error)
	// NoProbe skips superblock reads entirely.
	NoProbe bool

	only        string // scan just this disk name (Guard)
	noBusyProbe bool   // Guard: the writer's exclusive open follows
}

// criticalOrder lists the mount points that make a disk the running
// system, most important first; criticalMounts says what each holds.
var criticalOrder = []string{"/", "/boot", "/boot/firmware", "/boot/efi", "/efi", "/usr", "/var", "/home", "/srv"}

var criticalMounts = map[string]string{
	"/":              "the running system",
	"/boot":          "boot files",
	"/boot/firmware": "boot files",
	"/boot/efi":      "boot files",
	"/efi":           "boot files",
	"/usr":           "system files",
	"/var":           "system data",
	"/home":          "user data",
	"/srv":           "served data",
}

// sysDev is one block device (disk or partition) found in sysfs.
type sysDev struct {
	name         string
	dir          string // resolved sysfs directory under root
	major, minor uint32
	parent       string // disk name for partitions, "" for disks
	partNo       int
}

type scanner struct {
	opts    ScanOptions
	root    string
	real    bool
	devs    map[string]*sysDev
	byNum   map[[2]uint32]string
	dmNames map[string]string   // "vg-root" -> "dm-0"
	mounts  map[string][]string // device name -> mount points
	mtab    []mountEntry
	swaps   map[string]bool   // device names used as swap
	images  map[string]string // device name -> image path it holds
	// loopOn maps a device to the loop devices whose backing file it
	// holds (or that it is): those loop devices count as its holders.
	loopOn map[string][]string
	// loopBlock maps a loop device backed by a block device to that
	// device's path.
	loopBlock map[string]string
	// loops holds what the kernel says backs each loop device.
	loops map[string]LoopBacking
	// unresolved maps a loop device whose backing could not be read to
	// why: the disks it could sit on are protected.
	unresolved map[string]string
}

// Scan lists the block devices under opts.Root and classifies each one.
// Unused loop devices are left out. The result is sorted by name.
//
// On the running system Scan also asks the kernel what backs each loop
// device (see LoopBacking) and opens each eligible disk — or each of its
// partitions not mounted here — O_RDONLY|O_EXCL|O_NONBLOCK, closing it at
// once: a disk the kernel holds busy (mounted in another mount namespace,
// under an overlay, a RAID or btrfs member) is listed as protected, "in
// use by the system".
func Scan(opts ScanOptions) ([]Disk, error) {
	s, err := newScanner(opts)
	if err != nil {
		return nil, err
	}
	return s.scan()
}

func newScanner(opts ScanOptions) (*scanner, error) {
	root := opts.Root
	if root == "" {
		root = "/"
	}
	root = filepath.Clean(root)
	s := &scanner{
		opts: opts, root: root, real: root == "/",
		devs: map[string]*sysDev{}, byNum: map[[2]uint32]string{}, dmNames: map[string]string{},
		mounts: map[string][]string{}, swaps: map[string]bool{}, images: map[string]string{},
		loopOn: map[string][]string{}, loopBlock: map[string]string{},
		loops: map[string]LoopBacking{}, unresolved: map[string]string{},
	}
	if err := s.index(); err != nil {
		return nil, err
	}
	if err := s.readMounts(); err != nil {
		return nil, err
	}
	s.readSwaps()
	s.findImages()
	s.findLoops()
	return s, nil
}

// blockDev reports whether p names a block device and, when known, its
// kernel name. Under a fake root only /dev/NAME paths of the tree count.
func (s *scanner) blockDev(p string) (string, bool) {
	if s.real {
		maj, min, ok := rdev(p)
		if !ok {
			return "", false
		}
		return s.byNum[[2]uint32{maj, min}], true
	}
	if n := s.devName(p); n != "" {
		return n, true
	}
	return "", false
}

func (s *scanner) path(p string) string { return filepath.Join(s.root, p) }

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

var mmcExtraRe = regexp.MustCompile(`^mmcblk\d+(boot\d+|rpmb|gp\d+)$`)

// index records every disk and partition in sys/block with its numbers.
func (s *scanner) index() error {
	sysBlock := s.path("sys/block")
	entries, err := os.ReadDir(sysBlock)
	if err != nil {
		return fmt.Errorf("listing block devices: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		dir, err := filepath.EvalSymlinks(filepath.Join(sysBlock, name))
		if err != nil {
			continue // vanished while we looked
		}
		maj, min, ok := parseMajMin(readTrim(filepath.Join(dir, "dev")))
		if !ok {
			continue
		}
		s.add(&sysDev{name: name, dir: dir, major: maj, minor: min})
		if dm := readTrim(filepath.Join(dir, "dm", "name")); dm != "" {
			s.dmNames[dm] = name
		}
		subs, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, sub := range subs {
			pn := sub.Name()
			if !strings.HasPrefix(pn, name) || mmcExtraRe.MatchString(pn) {
				continue
			}
			pdir := filepath.Join(dir, pn)
			no, err := strconv.Atoi(readTrim(filepath.Join(pdir, "partition")))
			if err != nil {
				continue
			}
			pmaj, pmin, ok := parseMajMin(readTrim(filepath.Join(pdir, "dev")))
			if !ok {
				continue
			}
			s.add(&sysDev{name: pn, dir: pdir, major: pmaj, minor: pmin, parent: name, partNo: no})
		}
	}
	return nil
}

func (s *scanner) add(d *sysDev) {
	if _, dup := s.devs[d.name]; dup {
		return
	}
	s.devs[d.name] = d
	s.byNum[[2]uint32{d.major, d.minor}] = d.name
}

// devName resolves a device path as written in mount tables ("/dev/sda1",
// "/dev/mapper/vg-root", "/dev/disk/by-uuid/...") to a kernel name.
func (s *scanner) devName(p string) string {
	rest, ok := strings.CutPrefix(p, "/dev/")
	if !ok {
		return ""
	}
	if dm, ok := strings.CutPrefix(rest, "mapper/"); ok {
		if n := s.dmNames[dm]; n != "" {
			return n
		}
	}
	if _, ok := s.devs[rest]; ok {
		return rest
	}
	if s.real {
		if maj, min, ok := rdev(p); ok {
			return s.byNum[[2]uint32{maj, min}]
		}
	}
	return ""
}

func (s *scanner) readMounts() error {
	var entries []mountEntry
	if b, err := os.ReadFile(s.path("proc/self/mountinfo")); err == nil {
		entries = parseMountInfo(string(b))
	} else if b, err2 := os.ReadFile(s.path("proc/self/mounts")); err2 == nil {
		entries = parseMounts(string(b))
	} else {
		return fmt.Errorf("reading mount table: %w", errors.Join(err, err2))
	}
	s.mtab = entries
	for _, m := range entries {
		name := ""
		if m.Major != 0 {
			name = s.byNum[[2]uint32{m.Major, m.Minor}]
		}
		if name == "" {
			name = s.devName(m.Source)
		}
		if name != "" {
			s.addMount(name, m.Target)
		}
	}
	if s.real {
		// /dev/root and friends: ask the kernel which device holds each
		// system path. stat never opens a device.
		for p := range criticalMounts {
			if maj, min, ok := statDev(p); ok && maj != 0 {
				if name := s.byNum[[2]uint32{maj, min}]; name != "" && isMountPoint(entries, p) {
					s.addMount(name, p)
				}
			}
		}
	}
	return nil
}

func isMountPoint(entries []mountEntry, p string) bool {
	for _, m := range entries {
		if m.Target == p {
			return true
		}
	}
	return false
}

func (s *scanner) addMount(name, target string) {
	for _, t := range s.mounts[name] {
		if t == target {
			return
		}
	}
	s.mounts[name] = append(s.mounts[name], target)
}

func (s *scanner) readSwaps() {
	b, err := os.ReadFile(s.path("proc/swaps"))
	if err != nil {
		return
	}
	for _, sw := range parseSwaps(string(b)) {
		if !sw.File {
			if name := s.devName(sw.Path); name != "" {
				s.swaps[name] = true
			}
			continue
		}
		if s.real {
			if name := s.deviceOfPath(sw.Path); name != "" {
				s.swaps[name] = true
			}
		}
	}
}

// deviceOfPath returns the block device holding file p: its st_dev, or for
// anonymous devices (btrfs, overlay) the device of the mount holding p.
func (s *scanner) deviceOfPath(p string) string {
	maj, min, ok := statDev(p)
	if !ok {
		return ""
	}
	if maj != 0 {
		if name := s.byNum[[2]uint32{maj, min}]; name != "" {
			return name
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	return s.mountDevOf(abs)
}

// mountDevOf returns the device mounted at the longest mount point holding
// the absolute path abs.
func (s *scanner) mountDevOf(abs string) string {
	best, bestName := -1, ""
	for _, m := range s.mtab {
		t := m.Target
		if !(abs == t || t == "/" || strings.HasPrefix(abs, t+"/")) || len(t) <= best {
			continue
		}
		name := ""
		if m.Major != 0 {
			name = s.byNum[[2]uint32{m.Major, m.Minor}]
		}
		if name == "" {
			name = s.devName(m.Source)
		}
		best, bestName = len(t), name
	}
	return bestName
}

func (s *scanner) findImages() {
	for _, img := range s.opts.ImagePaths {
		if name := s.deviceOfPath(img); name != "" {
			if _, seen := s.images[name]; !seen {
				s.images[name] = img
			}
		}
	}
}

// stack returns name's partitions and everything stacked on name or on
// them (holders, their partitions, their holders, ...), without name.
func (s *scanner) stack(name string) []string {
	seen := map[string]bool{name: true}
	queue := []string{name}
	var out []string
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		var next []string
		for _, d := range s.devs {
			if d.parent == n {
				next = append(next, d.name)
			}
		}
		if d := s.devs[n]; d != nil {
			if hs, err := os.ReadDir(filepath.Join(d.dir, "holders")); err == nil {
				for _, h := range hs {
					next = append(next, h.Name())
				}
			}
		}
		next = append(next, s.loopOn[n]...)
		sort.Strings(next)
		for _, x := range next {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
				queue = append(queue, x)
			}
		}
	}
	return out
}

func (s *scanner) scan() ([]Disk, error) {
	info, err := ghw.Block(ghw.WithChroot(s.root), ghw.WithDisableWarnings())
	if err != nil {
		return nil, fmt.Errorf("reading block devices: %w", err)
	}
	var out []Disk
	for _, gd := range info.Disks {
		if s.opts.only != "" && gd.Name != s.opts.only {
			continue
		}
		sd := s.devs[gd.Name]
		if sd == nil || sd.parent != "" {
			continue
		}
		d := s.disk(sd, gd)
		s.classify(&d)
		if !s.opts.noBusyProbe {
			s.checkBusy(&d)
		}
		if d.Eligible && !s.opts.NoProbe {
			s.probe(&d)
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

var pciIDRe = regexp.MustCompile(`^0x[0-9a-fA-F]+$`)

// vendorName drops PCI vendor IDs (virtio, NVMe report "0x1af4") and the
// "ATA" that SCSI translation puts in place of a SATA disk's vendor.
func vendorName(v string) string {
	v = known(v)
	if pciIDRe.MatchString(v) || v == "ATA" {
		return ""
	}
	return v
}

func known(v string) string {
	v = strings.TrimSpace(v)
	if v == "unknown" {
		return ""
	}
	return v
}

func (s *scanner) udev(maj, min uint32) map[string]string {
	b, err := os.ReadFile(s.path(fmt.Sprintf("run/udev/data/b%d:%d", maj, min)))
	if err != nil {
		return map[string]string{}
	}
	return parseUdev(string(b))
}

func (s *scanner) disk(sd *sysDev, gd *ghw.Disk) Disk {
	u := s.udev(sd.major, sd.minor)
	dev := filepath.Join(sd.dir, "device")
	d := Disk{
		Name: sd.name, Path: "/dev/" + sd.name, Major: sd.major, Minor: sd.minor,
		SizeBytes: int64(gd.SizeBytes),
		Vendor:    vendorName(gd.Vendor),
		Removable: gd.IsRemovable,
		ReadOnly:  readTrim(filepath.Join(sd.dir, "ro")) == "1",
	}
	d.DiskSeq, _ = strconv.ParseUint(readTrim(filepath.Join(sd.dir, "diskseq")), 10, 64)
	link, _ := os.Readlink(s.path("sys/block/" + sd.name))
	d.Bus = busOf(sd.name, link, u)

	// Model: an SD card's own name first, then udev, then sysfs.
	if d.Bus == "mmc" || strings.HasPrefix(sd.name, "mmcblk") {
		d.Model = readTrim(filepath.Join(dev, "name"))
	}
	if d.Model == "" {
		if enc := u["ID_MODEL_ENC"]; enc != "" {
			d.Model = strings.TrimSpace(unescapeUdev(enc))
		}
	}
	if d.Model == "" {
		d.Model = readTrim(filepath.Join(dev, "model"))
	}
	if d.Model == "" {
		// udev writes spaces in ID_MODEL as underscores.
		d.Model = strings.ReplaceAll(known(gd.Model), "_", " ")
	}
	if d.Vendor == "" {
		if enc := u["ID_VENDOR_ENC"]; enc != "" {
			d.Vendor = strings.TrimSpace(unescapeUdev(enc))
		} else {
			d.Vendor = u["ID_VENDOR"]
		}
	}
	d.Serial = known(gd.SerialNumber)
	if d.Serial == "" {
		d.Serial = readTrim(filepath.Join(dev, "serial"))
	}
	if d.Serial == "" {
		d.Serial = readTrim(filepath.Join(sd.dir, "serial"))
	}
	d.WWN = known(gd.WWN)
	if d.Bus == "loop" {
		d.Serial = readTrim(filepath.Join(sd.dir, "loop", "backing_file"))
		if b, ok := s.loops[sd.name]; ok {
			d.Loop = &b
		}
	}

	d.Partitions = []Partition{}
	var parts []*sysDev
	for _, p := range s.devs {
		if p.parent == sd.name {
			parts = append(parts, p)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].partNo < parts[j].partNo })
	for _, p := range parts {
		d.Partitions = append(d.Partitions, s.partition(p))
	}
	d.Holders = []string{}
	for _, n := range s.stack(sd.name) {
		if dv := s.devs[n]; dv == nil || dv.parent == "" {
			d.Holders = append(d.Holders, n)
		}
	}
	sort.Strings(d.Holders)
	return d
}

func (s *scanner) partition(p *sysDev) Partition {
	u := s.udev(p.major, p.minor)
	sectors, _ := strconv.ParseInt(readTrim(filepath.Join(p.dir, "size")), 10, 64)
	part := Partition{
		Name: p.name, Path: "/dev/" + p.name, SizeBytes: sectors * 512,
		FSType: u["ID_FS_TYPE"], Label: u["ID_FS_LABEL"], UUID: u["ID_FS_UUID"],
		MountPoints: append([]string{}, s.mounts[p.name]...),
	}
	if enc := u["ID_FS_LABEL_ENC"]; enc != "" {
		part.Label = unescapeUdev(enc)
	}
	if part.FSType == "" {
		for _, m := range s.mtab {
			if s.devName(m.Source) == p.name || (m.Major != 0 && m.Major == p.major && m.Minor == p.minor) {
				part.FSType = m.FSType
				break
			}
		}
	}
	if part.FSType == "" && s.swaps[p.name] {
		part.FSType = "swap"
	}
	return part
}

var (
	usbPathRe    = regexp.MustCompile(`/usb\d+/`)
	virtioPathRe = regexp.MustCompile(`/virtio\d+/`)
	ataPathRe    = regexp.MustCompile(`/ata\d+/`)
)

// busOf decides how a disk is attached from its name, its sysfs device
// path (the sys/block symlink target) and its udev properties.
func busOf(name, link string, u map[string]string) string {
	idPath := u["ID_PATH"]
	switch {
	case strings.HasPrefix(name, "loop"):
		return "loop"
	case strings.HasPrefix(name, "md"), strings.HasPrefix(name, "dm-"),
		strings.HasPrefix(name, "zram"), strings.HasPrefix(name, "ram"):
		return "virtual"
	case u["ID_BUS"] == "usb" || strings.Contains(idPath, "-usb-") || usbPathRe.MatchString(link):
		return "usb"
	case strings.HasPrefix(name, "mmcblk") || strings.Contains(link, "/mmc_host/") || strings.Contains(idPath, "-mmc-"):
		return "mmc"
	case strings.HasPrefix(name, "nvme") || strings.Contains(link, "/nvme/"):
		return "nvme"
	case strings.HasPrefix(name, "vd") || virtioPathRe.MatchString(link):
		return "virtio"
	case strings.HasPrefix(name, "xvd"):
		return "xen"
	case strings.HasPrefix(name, "hd"):
		return "ide"
	case u["ID_BUS"] == "ata" || ataPathRe.MatchString(link) || strings.Contains(idPath, "-ata-"):
		return "sata"
	case strings.HasPrefix(name, "sd"), strings.HasPrefix(name, "sr"), u["ID_BUS"] == "scsi":
		return "scsi"
	case strings.Contains(link, "/virtual/"):
		return "virtual"
	}
	return ""
}
