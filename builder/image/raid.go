package image

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/pistudio/pistudio/builder/image/md"
	"github.com/pistudio/pistudio/internal/manifest"
)

//go:embed raid_config.sh.tmpl
var raidConfigTmpl string

// Files the raid layout puts into the root filesystem image.
const (
	RaidConfigScript  = "raid_config.sh"
	raidConfigInImage = "/usr/local/sbin/raid_config.sh"
	raidUnit          = "pistudio-raid-config.service"
	raidUnitText      = `[Unit]
Description=Check and record the Pi Image Studio RAID root array
ConditionPathExists=!/var/lib/pistudio/raid-configured
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/raid_config.sh

[Install]
WantedBy=multi-user.target
`
)

// existingArray reads the ARRAY line for /dev/md0 from the rootfs's
// mdadm.conf (written in stage 1 by our layer, so that the initramfs built
// there already names the array): its UUID and name, if present.
func existingArray(conf []byte) (md.UUID, string) {
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "ARRAY" || f[1] != "/dev/md0" {
			continue
		}
		var u md.UUID
		var name string
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.ToLower(k) {
			case "uuid":
				if p, err := md.ParseUUID(v); err == nil {
					u = p
				}
			case "name":
				name = v
			}
		}
		if u != (md.UUID{}) {
			return u, name
		}
	}
	return md.UUID{}, ""
}

// rewriteMdadmConf drops ARRAY lines for /dev/md0 or our UUID and appends ours.
func rewriteMdadmConf(old []byte, a *md.Array) []byte {
	var buf bytes.Buffer
	if len(old) == 0 {
		buf.WriteString("# mdadm.conf written by Pi Image Studio\nHOMEHOST <system>\nMAILADDR root\n")
	}
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "ARRAY" && (f[1] == "/dev/md0" || strings.Contains(l, a.UUID.String())) {
			continue
		}
		buf.WriteString(l + "\n")
	}
	buf.WriteString(a.ConfLine() + "\n")
	return buf.Bytes()
}

var raidConfig = template.Must(template.New("raid_config").Parse(raidConfigTmpl))

// renderRaidConfig fills in raid_config.sh for array a of image name.
func renderRaidConfig(name string, a *md.Array) ([]byte, error) {
	var buf bytes.Buffer
	err := raidConfig.Execute(&buf, map[string]any{
		"Name": name, "UUID": a.UUID.String(), "Level": a.Level.String(), "Devices": a.Devices(), "SetName": a.Name,
	})
	return buf.Bytes(), err
}

// raidSet is one raid layout build: the sizes and identities chosen up
// front, then one method per file written.
type raidSet struct {
	b          *builder
	level      md.Level
	n          int
	bootDir    string
	sdPart     int64 // boot partition size on the SD card
	memberPart int64 // md member partition size on each external disk
	a          *md.Array
	setName    string
	fsSize     int64 // root ext4 size (the array's size in whole blocks)
	sig, volID uint32
	rootUUID   string
	ext4Name   string
	script     []byte // raid_config.sh
}

func (b *builder) raid() error {
	r, err := b.planRaid()
	if err != nil {
		return err
	}
	for _, step := range []func() error{r.boot, r.root, r.sdcard, r.members, r.sparse, r.finish} {
		if err := step(); err != nil {
			return err
		}
	}
	b.m = &manifest.Manifest{Layout: manifest.LayoutRAID, Name: b.spec.Name, Level: r.level.String(), ArrayUUID: r.a.UUID.String(),
		Devices: r.n, Roles: map[string]string{"sd": "sdcard.img"}}
	for i := range r.n {
		b.m.Roles[fmt.Sprintf("external%d", i+1)] = r.memberImage(i)
	}
	return b.addArtifacts(r.artifacts()...)
}

// raidFixedSteps counts the progress reports of a raid build that do not
// depend on the number of disks: measure, boot, root, disk, copy,
// manifest and done.
const raidFixedSteps = 7

// steps is the number of progress reports of the whole build: the fixed
// ones, one per member written, one per sparse twin and one per artifact
// hashed.
func (r *raidSet) steps() int {
	return raidFixedSteps + r.n + len(r.sparseNames()) + len(r.artifacts())
}

// planRaid measures the tree, checks the sizes and chooses the array and
// the disks' identities; nothing is written yet.
func (b *builder) planRaid() (*raidSet, error) {
	s := &b.spec
	level, err := md.ParseLevel(s.Level)
	if err != nil {
		return nil, err
	}
	r := &raidSet{b: b, level: level, n: s.Devices} // 2-8: checked by Spec.Check
	if s.Hostname == "" {
		s.Hostname = "pi"
	}
	// Whole 4 KiB blocks, so every .sparse twin expands to exactly its .img.
	s.SDCardSize &^= 4095
	s.ExternalSize &^= 4095
	b.steps = r.steps()
	bootDir, bootC, rootC, err := b.measureTree()
	if err != nil {
		return nil, err
	}
	r.bootDir = bootDir
	// SD card: one FAT32 partition from 8 MiB to the end.
	r.sdPart = (s.SDCardSize - Align) &^ (1<<20 - 1)
	if need := vfatNeed(bootC); r.sdPart < need {
		return nil, s.sizeErr("SD card image (boot partition + 8 MiB)", "raid.sdcard_size", need+Align, s.SDCardSize)
	}
	// Externals: one member partition from 8 MiB to the end.
	r.memberPart = (s.ExternalSize - Align) &^ (1<<20 - 1)
	if r.memberPart < 16<<20 {
		return nil, s.sizeErr("external disk image", "raid.external_size", Align+16<<20, s.ExternalSize)
	}
	setUUID, setName := existingArray(b.readRoot("etc/mdadm/mdadm.conf"))
	if setName == "" {
		setName = s.Hostname + ":0"
	}
	r.setName = setName
	if r.a, err = md.NewArray(level, r.n, r.memberPart, setName, setUUID, b.rnd, b.now); err != nil {
		return nil, err
	}
	r.fsSize = r.a.ArrayBytes() &^ 4095
	if !ext4Fits(rootC, r.fsSize) {
		return nil, r.rootTooBig(rootC)
	}
	if r.sig, r.volID, r.rootUUID, err = b.diskIDs(); err != nil {
		return nil, err
	}
	r.ext4Name = fmt.Sprintf("raid%d.ext4", int(level))
	r.script, err = renderRaidConfig(s.Name, r.a)
	return r, err
}

// rootTooBig is the size error for a root filesystem the array cannot
// hold: it names the external disk size that would.
func (r *raidSet) rootTooBig(rootC content) error {
	s := r.b.spec
	need := ext4Need(rootC)
	// The member size that would give an array of `need` bytes.
	per := need
	if r.level == md.RAID0 {
		per = alignUp(need/int64(r.n), md.ChunkBytes)
	}
	return s.sizeErr(fmt.Sprintf("each external disk (for %s of root filesystem on a %s array of %d)", human(rootC.Bytes), r.level, r.n), "raid.external_size",
		alignUp(per+int64(r.a.DataOffset)*512+Align+(1<<20), 1<<20), s.ExternalSize)
}

// boot writes boot.vfat with cmdline.txt pointing at the array's root.
func (r *raidSet) boot() error {
	b := r.b
	b.report("boot", "writing the boot filesystem (%s)", human(r.sdPart))
	cmdline := rewriteCmdline(b.readRoot("boot/firmware/cmdline.txt"), "UUID="+r.rootUUID)
	return makeVFAT(b.ctx, filepath.Join(b.tmp, "boot.vfat"), r.sdPart, "BOOT", r.volID, r.bootDir,
		map[string][]byte{"cmdline.txt": cmdline})
}

// root writes the root ext4 with the edits that make it boot from the
// array: fstab, mdadm.conf, raid_config.sh and its run-once unit.
func (r *raidSet) root() error {
	b := r.b
	b.report("root", "writing %s (%s)", r.ext4Name, human(r.fsSize))
	edits := []rootEdit{
		{Path: "/etc/fstab", Mode: 0o644, Data: rewriteFstab(b.readRoot("etc/fstab"), "UUID="+r.rootUUID, "UUID="+vfatUUID(r.volID))},
		{Path: "/etc/mdadm/mdadm.conf", Mode: 0o644, Data: rewriteMdadmConf(b.readRoot("etc/mdadm/mdadm.conf"), r.a)},
		{Path: raidConfigInImage, Mode: 0o755, Data: r.script},
		{Path: "/etc/systemd/system/" + raidUnit, Mode: 0o644, Data: []byte(raidUnitText)},
		{Path: "/etc/systemd/system/multi-user.target.wants/" + raidUnit, Link: "/etc/systemd/system/" + raidUnit},
	}
	return makeExt4(b.ctx, filepath.Join(b.tmp, r.ext4Name), r.fsSize, "ROOT", r.rootUUID, b.fsDir, edits, []string{"boot/firmware"})
}

// sdcard writes sdcard.img: an MBR and the boot partition.
func (r *raidSet) sdcard() error {
	b := r.b
	b.report("disk", "writing sdcard.img")
	sd, err := createImage(filepath.Join(b.tmp, "sdcard.img"), b.spec.SDCardSize)
	if err != nil {
		return err
	}
	defer sd.Close()
	if err := writeMBR(sd, r.sig, []mbrPart{{Type: 0x0C, Boot: true, Start: Align, Size: r.sdPart}}); err != nil {
		return err
	}
	bootW := offsetWriter{sd, Align}
	if _, err := copyData(b.ctx, filepath.Join(b.tmp, "boot.vfat"), func(p []byte, off int64) error {
		_, err := bootW.WriteAt(p, off)
		return err
	}); err != nil {
		return err
	}
	return sd.Close()
}

func (r *raidSet) memberImage(i int) string { return fmt.Sprintf("external%d.img", i+1) }

// members writes each external disk image (an MBR, one md member
// partition with its metadata), then copies the root filesystem onto the
// members through the array's map.
func (r *raidSet) members() error {
	b := r.b
	files := make([]*os.File, r.n)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i := range files {
		b.report("raid", "writing md member %d to %s", i, r.memberImage(i))
		f, err := r.member(i)
		if err != nil {
			return err
		}
		files[i] = f
	}
	b.report("raid", "copying %s onto the members", r.ext4Name)
	if _, err := copyData(b.ctx, filepath.Join(b.tmp, r.ext4Name), func(p []byte, off int64) error {
		exts, err := r.a.Map(off, int64(len(p)))
		if err != nil {
			return err
		}
		for _, e := range exts {
			q := p[e.ArrayOff-off : e.ArrayOff-off+e.Len]
			if _, err := files[e.Member].WriteAt(q, Align+e.MemberOff); err != nil {
				return fmt.Errorf("image: writing member %d: %w", e.Member, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for i, f := range files {
		files[i] = nil
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// member creates external disk image i with its MBR and md metadata.
func (r *raidSet) member(i int) (*os.File, error) {
	b := r.b
	f, err := createImage(filepath.Join(b.tmp, r.memberImage(i)), b.spec.ExternalSize)
	if err != nil {
		return nil, err
	}
	err = func() error {
		msig, err := b.u32()
		if err != nil {
			return err
		}
		if err := writeMBR(f, msig, []mbrPart{{Type: 0xFD, Start: Align, Size: r.memberPart}}); err != nil {
			return err
		}
		// The metadata area is written in full (zeros around the superblock
		// and bad-block log), wiping stale signatures of an earlier use.
		if err := writeZeros(f, Align, int64(r.a.DataOffset)*512); err != nil {
			return err
		}
		return r.a.WriteMetadata(offsetWriter{f, Align}, i)
	}()
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sparseNames lists the files that get an Android sparse twin.
func (r *raidSet) sparseNames() []string {
	names := []string{r.ext4Name, "sdcard.img"}
	for i := range r.n {
		names = append(names, r.memberImage(i))
	}
	return names
}

// sparse writes the sparse twins.
func (r *raidSet) sparse() error {
	for _, name := range r.sparseNames() {
		if err := r.b.writeSparse(name, name+".sparse"); err != nil {
			return err
		}
	}
	return nil
}

// finish removes the intermediate filesystems and writes raid_config.sh
// beside the images.
func (r *raidSet) finish() error {
	b := r.b
	for _, f := range []string{"boot.vfat", r.ext4Name} {
		if err := os.Remove(filepath.Join(b.tmp, f)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(b.tmp, RaidConfigScript), r.script, 0o755)
}

// artifacts describes every file of the set for image.json.
func (r *raidSet) artifacts() []manifest.Artifact {
	arts := []manifest.Artifact{
		{File: "sdcard.img", Kind: manifest.KindDisk, Role: "sd", Sparse: "sdcard.img.sparse", Partitions: []manifest.Partition{
			{Index: 1, Type: "0x0c", Start: Align, Size: r.sdPart, FS: "vfat", Label: "BOOT", UUID: vfatUUID(r.volID)}}},
		{File: "sdcard.img.sparse", Kind: manifest.KindSparse, Role: "sd"},
	}
	for i := range r.n {
		role, img := fmt.Sprintf("external%d", i+1), r.memberImage(i)
		var uuid string
		if r.a != nil {
			uuid = r.a.UUID.String()
		}
		arts = append(arts,
			manifest.Artifact{File: img, Kind: manifest.KindDisk, Role: role, Sparse: img + ".sparse", Partitions: []manifest.Partition{
				{Index: 1, Type: "0xfd", Start: Align, Size: r.memberPart, FS: "linux_raid_member", Label: r.setName, UUID: uuid}}},
			manifest.Artifact{File: img + ".sparse", Kind: manifest.KindSparse, Role: role})
	}
	return append(arts,
		manifest.Artifact{File: r.ext4Name + ".sparse", Kind: manifest.KindSparse, Partitions: []manifest.Partition{
			{Index: 0, Type: "", Start: 0, Size: r.fsSize, FS: "ext4", Label: "ROOT", UUID: r.rootUUID}}},
		manifest.Artifact{File: RaidConfigScript, Kind: manifest.KindMetadata})
}
