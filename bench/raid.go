package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ---- e: native image stage vs genimage ----

const genimageCfg = `# image-rpios layout: MBR, 8 MiB alignment, FAT32 boot (0x0C, bootable,
# label BOOT, /boot/firmware), ext4 root (0x83, label ROOT, the rest of the
# tree), and the Android sparse twins the native stage writes too.
image boot.vfat {
	vfat {
		label = "BOOT"
		extraargs = "-F 32 -s 1"
	}
	size = %d
	mountpoint = "/boot/firmware"
}

image root.ext4 {
	ext4 {
		label = "ROOT"
		use-mke2fs = true
	}
	size = %d
	mountpoint = "/"
}

image bench.img {
	hdimage {
		align = 8M
		partition-table-type = "mbr"
		fill = true
	}
	partition boot {
		partition-type = 0xC
		bootable = true
		image = "boot.vfat"
	}
	partition root {
		partition-type = 0x83
		image = "root.ext4"
	}
}

image bench.img.sparse {
	android-sparse {
		image = bench.img
	}
}

image boot.vfat.sparse {
	android-sparse {
		image = boot.vfat
	}
}

image root.ext4.sparse {
	android-sparse {
		image = root.ext4
	}
}
`

func (b *bench) needRootfs(in *inputs) error {
	if in.rootfs != "" {
		return nil
	}
	p := filepath.Join(b.data, "rootfs")
	if _, err := os.Stat(p + ".done"); err != nil {
		b.logf("generating the root filesystem tree %s (%s)", p, mb(in.sz.rootfs))
	}
	if err := genRootfs(p, in.sz.rootfs, 4); err != nil {
		return err
	}
	in.rootfs = p
	b.variable("ROOTFS", fmt.Sprintf("a generated stage-1 root filesystem tree of %s (boot/firmware with kernel, initramfs, device trees; /usr with a long-tailed file size mix)", mb(in.sz.rootfs)))
	z := in.sz
	write := func(name, text string) (string, error) {
		f := filepath.Join(b.data, name)
		return f, os.WriteFile(f, []byte(text), 0o644)
	}
	var err error
	if in.rpiosCfg, err = write("rpios.yaml", fmt.Sprintf("device:\n  hostname: benchpi\nimage:\n  layer: image-rpios\n  name: bench\n  rootfs_type: ext4\n  boot_part_size: %dM\n  root_part_size: %dM\n", z.boot>>20, z.rootPart>>20)); err != nil {
		return err
	}
	if in.genimageCfg, err = write("genimage.cfg", fmt.Sprintf(genimageCfg, z.boot, z.rootPart)); err != nil {
		return err
	}
	raid := "device:\n  hostname: benchpi\nimage:\n  layer: raid\n  name: bench\nraid:\n  level: RAID1\n  devices: 2\n  sdcard_size: %dM\n  external_size: %dM\n"
	if in.raidCfg, err = write("raid.yaml", fmt.Sprintf(raid, z.sd>>20, z.external>>20)); err != nil {
		return err
	}
	if in.raid8Cfg, err = write("raid8.yaml", fmt.Sprintf(raid, z.sd>>20, z.external8>>20)); err != nil {
		return err
	}
	b.variable("RPIOS_CFG", fmt.Sprintf("config: image-rpios, boot_part_size %s, root_part_size %s", mb(z.boot), mb(z.rootPart)))
	b.variable("GENIMAGE_CFG", "the equivalent genimage.cfg (bench/raid.go: MBR, align 8M, vfat BOOT -F 32 at /boot/firmware, ext4 ROOT with mke2fs at /, sparse twins of all three)")
	return nil
}

func (b *bench) groupImage(in *inputs) error {
	if err := b.needRootfs(in); err != nil {
		return err
	}
	b.notePistudio()
	b.variable("OUT", "a scratch output directory, removed after each run")
	b.variable("GTMP", "genimage's scratch directories (tmp, input, output), emptied before each run")
	out := filepath.Join(b.scratch, "out")
	gtmp := filepath.Join(b.scratch, "gtmp")
	vars := map[string]string{"PISTUDIO": b.cfg.pistudio, "RPIOS_CFG": in.rpiosCfg, "ROOTFS": in.rootfs, "OUT": out,
		"GENIMAGE_CFG": in.genimageCfg, "GTMP": gtmp, "RAID8_CFG": in.raid8Cfg}
	gen := b.add(&row{group: "e", name: "genimage (image-rpios equivalent)", short: "genimage",
		cmds: []string{"genimage --config $GENIMAGE_CFG --rootpath $ROOTFS --tmppath $GTMP/tmp --inputpath $GTMP/in --outputpath $GTMP/out"}})
	nat := b.add(&row{group: "e", name: "pistudio image, native (image-rpios)", base: gen,
		cmds: []string{"$PISTUDIO image -c $RPIOS_CFG --fs $ROOTFS -o $OUT"}})
	warmTree(in.rootfs)
	for i := 0; i < b.cfg.reps; i++ {
		b.logf("e: repetition %d/%d", i+1, b.cfg.reps)
		os.RemoveAll(gtmp)
		for _, d := range []string{"in", "out"} {
			os.MkdirAll(filepath.Join(gtmp, d), 0o755)
		}
		res, err := b.shell(gen.cmds[0], vars)
		if err != nil {
			return err
		}
		gen.record(res)
		os.RemoveAll(gtmp)
		res, err = b.shell(nat.cmds[0], vars)
		if err != nil {
			return err
		}
		nat.record(res)
		os.RemoveAll(out)
	}
	r := nat.median().Seconds() / gen.median().Seconds()
	b.goal("e", "native image stage faster than genimage (image-rpios)", r < 1, "%.2f × genimage's time", r)
	raid8 := b.add(&row{group: "e", name: fmt.Sprintf("pistudio image, native RAID1 2 × %s", mb(in.sz.external8)),
		cmds: []string{"$PISTUDIO image -c $RAID8_CFG --fs $ROOTFS -o $OUT"}})
	b.variable("RAID8_CFG", fmt.Sprintf("config: raid layer, RAID1, 2 devices, sdcard_size %s, external_size %s", mb(in.sz.sd), mb(in.sz.external8)))
	b.logf("e: RAID1 2 × %s", mb(in.sz.external8))
	res, err := b.shell(raid8.cmds[0], vars)
	if err != nil {
		return err
	}
	raid8.record(res)
	raid8.note = "one run; the set is sdcard.img, two member images, their sparse twins, the ext4 sparse image and image.json with every file's SHA-256"
	os.RemoveAll(out)
	return nil
}

// warmTree reads every file of dir into the page cache.
func warmTree(dir string) {
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			warm(p)
		}
		return nil
	})
}

// ---- d: RAID set in parallel ----

// Device speeds the throttled case gives each loop device (bytes/s).
const (
	sdWriteBps, sdReadBps   = 20e6, 80e6
	extWriteBps, extReadBps = 80e6, 160e6
)

func (b *bench) groupRAID(in *inputs) error {
	if err := b.needRootfs(in); err != nil {
		return err
	}
	b.notePistudio()
	set := filepath.Join(b.data, "raidset")
	if _, err := os.Stat(filepath.Join(set, "image.json")); err != nil {
		b.logf("d: building the RAID1 set with the native stage")
		res, err := b.shell("$PISTUDIO image -c $RAID_CFG --fs $ROOTFS -o $SET", map[string]string{
			"PISTUDIO": b.cfg.pistudio, "RAID_CFG": in.raidCfg, "ROOTFS": in.rootfs, "SET": set})
		if err != nil {
			return err
		}
		b.note("Preparing: the RAID1 set for (d) was built by `pistudio image` in %s.", res.dur.Round(100*time.Millisecond))
	}
	imgs := []struct{ role, file string }{
		{"sd", filepath.Join(set, "sdcard.img.sparse")},
		{"external1", filepath.Join(set, "external1.img.sparse")},
		{"external2", filepath.Join(set, "external2.img.sparse")},
	}
	sizes := []int64{in.sz.sd, in.sz.external, in.sz.external}
	b.variable("BENCH", benchDesc)
	b.variable("SCRATCH", "the bench's scratch directory (every loop device must be backed by a file in it)")
	b.variable("LOOP_SD", "`$LOOP_EXTERNAL1`, `$LOOP_EXTERNAL2`: three fresh loop devices of the SD card's and the members' sizes")
	b.variable("SET", fmt.Sprintf("the RAID1 set built by `pistudio image` (raid layer, 2 externals of %s, SD card %s); written as its sparse twins", mb(in.sz.external), mb(in.sz.sd)))
	var files []string
	for _, im := range imgs {
		files = append(files, im.file)
	}
	warm(files...)

	cg, cgErr := cgroupCreate()
	if cgErr != nil {
		b.note("RAID throttled case skipped: %v", cgErr)
	}
	type mode struct {
		label string
		cg    string
	}
	modes := []mode{{"shared backing disk", "-"}}
	if cgErr == nil {
		modes = append(modes, mode{"throttled: SD 20/80 MB/s, externals 80/160 MB/s write/read", cg})
	}
	b.variable("CG", "a blkio cgroup (v1) limiting each loop device: SD card 20 MB/s write and 80 MB/s read, externals 80 MB/s write and 160 MB/s read — three independent devices, as on separate ports")
	for _, m := range modes {
		sfx := " [" + m.label + "]"
		var single []*row
		for _, im := range imgs {
			single = append(single, b.add(&row{group: "d", name: "pistudio, " + im.role + " alone" + sfx,
				cmds: []string{fmt.Sprintf("$BENCH raidwrite %s $SCRATCH $LOOP_%s=$SET/%s", cgVar(m.cg), strings.ToUpper(im.role), filepath.Base(im.file))}}))
		}
		par := b.add(&row{group: "d", name: "pistudio, the set in parallel (flash/provision)" + sfx,
			cmds: []string{fmt.Sprintf("$BENCH provision %s $SCRATCH $SET sd=$LOOP_SD external1=$LOOP_EXTERNAL1 external2=$LOOP_EXTERNAL2", cgVar(m.cg))}})
		for i := 0; i < b.cfg.reps; i++ {
			b.logf("d: %s, repetition %d/%d", m.label, i+1, b.cfg.reps)
			devs, release, err := b.raidTargets(sizes, m.cg)
			if err != nil {
				return err
			}
			vars := map[string]string{"BENCH": b.cfg.self, "SCRATCH": b.scratch, "SET": set, "CG": m.cg,
				"LOOP_SD": devs[0], "LOOP_EXTERNAL1": devs[1], "LOOP_EXTERNAL2": devs[2]}
			err = func() error {
				for _, r := range append(single, par) {
					if err := b.timedWrite(r, vars, "raidwrite"); err != nil {
						return err
					}
				}
				return nil
			}()
			release()
			if err != nil {
				return err
			}
		}
		slow := single[0]
		for _, s := range single[1:] {
			if s.median() > slow.median() {
				slow = s
			}
		}
		par.base = slow
		slow.short = "slowest alone"
		ok := par.ratio() <= 1.3
		if m.cg == "-" {
			par.note = "the three loop devices share one backing disk and two CPU cores, so this measures contention, not the design; the throttled rows model three devices"
			continue
		}
		b.goal("d", "RAID set in parallel ≤ 1.3 × the slowest single target", ok, "%.2f × (%s)", par.ratio(), strings.TrimSuffix(slow.name, sfx))
	}
	if cgErr != nil {
		b.goal("d", "RAID set in parallel ≤ 1.3 × the slowest single target", false, "not measured: %v", cgErr)
	}
	b.note("(d): a single target is one flash.Write of its sparse twin (`raidwrite`); the set is flash/provision's Propose, Assign and Run with SkipHoles (one flash.Write per target, plus the stale-signature check); times are wall times from the start of the writes to the end of the verification.")
	return nil
}

func cgVar(cg string) string {
	if cg == "-" {
		return "-"
	}
	return "$CG"
}

// raidTargets attaches three fresh loop devices and, with a cgroup, sets
// their speed limits.
func (b *bench) raidTargets(sizes []int64, cg string) ([]string, func(), error) {
	var devs []string
	var rels []func()
	release := func() {
		for _, r := range rels {
			r()
		}
	}
	for i, s := range sizes {
		dev, rel, err := b.target(fmt.Sprintf("raid%d", i), s)
		if err != nil {
			release()
			return nil, nil, err
		}
		devs = append(devs, dev)
		rels = append(rels, rel)
		if cg != "-" {
			w, r := extWriteBps, extReadBps
			if i == 0 {
				w, r = sdWriteBps, sdReadBps
			}
			if err := cgroupLimit(cg, dev, int64(w), int64(r)); err != nil {
				release()
				return nil, nil, err
			}
		}
	}
	return devs, release, nil
}

// ---- blkio cgroup (v1) ----

const blkioRoot = "/sys/fs/cgroup/blkio"

var benchCgroup string

func cgroupCreate() (string, error) {
	if benchCgroup != "" {
		return benchCgroup, nil
	}
	if _, err := os.Stat(filepath.Join(blkioRoot, "blkio.throttle.write_bps_device")); err != nil {
		return "", fmt.Errorf("no cgroup v1 blkio throttling at %s", blkioRoot)
	}
	p := filepath.Join(blkioRoot, fmt.Sprintf("pistudio-bench-%d", os.Getpid()))
	if err := os.Mkdir(p, 0o755); err != nil {
		return "", err
	}
	benchCgroup = p
	return p, nil
}

// cgroupLimit limits dev (a loop device of ours) inside cg.
func cgroupLimit(cg, dev string, wbps, rbps int64) error {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return err
	}
	mm := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	if err := os.WriteFile(filepath.Join(cg, "blkio.throttle.write_bps_device"), []byte(fmt.Sprintf("%s %d", mm, wbps)), 0); err != nil {
		return fmt.Errorf("limiting %s: %w", dev, err)
	}
	if err := os.WriteFile(filepath.Join(cg, "blkio.throttle.read_bps_device"), []byte(fmt.Sprintf("%s %d", mm, rbps)), 0); err != nil {
		return fmt.Errorf("limiting %s: %w", dev, err)
	}
	return nil
}

// cgroupCleanup removes the cgroup (its processes have exited by now).
func cgroupCleanup() {
	if benchCgroup == "" {
		return
	}
	for i := 0; i < 20; i++ {
		if err := os.Remove(benchCgroup); err == nil || os.IsNotExist(err) {
			benchCgroup = ""
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "bench: could not remove", benchCgroup)
}

// timedWrite runs row r's command once and records the wall time that
// the write subcommand (raidwrite, multiwrite) reports as JSON, and the
// peak RSS.
func (b *bench) timedWrite(r *row, vars map[string]string, sub string) error {
	res, err := b.shell(r.cmds[0], vars)
	if err != nil {
		return err
	}
	var rr raidResult
	if err := json.Unmarshal(res.stdout, &rr); err != nil {
		return fmt.Errorf("%s output %q: %w", sub, res.stdout, err)
	}
	r.times = append(r.times, time.Duration(rr.Wall))
	r.addRSS(res.rssKiB)
	return nil
}
