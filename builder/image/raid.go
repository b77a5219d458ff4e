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

func (b *builder) raid() error {
	s := b.spec
	level, err := md.ParseLevel(s.Level)
	if err != nil {
		return err
	}
	n := s.Devices // 2-8: checked by Spec.Check
	if s.Hostname == "" {
		s.Hostname = "pi"
	}
	// Whole 4 KiB blocks, so every .sparse twin expands to exactly its .img.
	s.SDCardSize &^= 4095
	s.ExternalSize &^= 4095
	b.steps = 13 + 4*n
	bootDir, bootC, rootC, err := b.measureTree()
	if err != nil {
		return err
	}
	// SD card: one FAT32 partition from 8 MiB to the end.
	sdPart := (s.SDCardSize - Align) &^ (1<<20 - 1)
	if need := vfatNeed(bootC); sdPart < need {
		return s.sizeErr("SD card image (boot partition + 8 MiB)", "raid.sdcard_size", need+Align, s.SDCardSize)
	}
	// Externals: one member partition from 8 MiB to the end.
	memberPart := (s.ExternalSize - Align) &^ (1<<20 - 1)
	if memberPart < 16<<20 {
		return s.sizeErr("external disk image", "raid.external_size", Align+16<<20, s.ExternalSize)
	}
	setUUID, setName := existingArray(b.readRoot("etc/mdadm/mdadm.conf"))
	if setName == "" {
		setName = s.Hostname + ":0"
	}
	a, err := md.NewArray(level, n, memberPart, setName, setUUID, b.rnd, b.now)
	if err != nil {
		return err
	}
	fsSize := a.ArrayBytes() &^ 4095
	if need := ext4Need(rootC); !ext4Fits(rootC, fsSize) {
		// The member size that would give an array of `need` bytes.
		per := need
		if level == md.RAID0 {
			per = alignUp(need/int64(n), md.ChunkBytes)
		}
		return s.sizeErr(fmt.Sprintf("each external disk (for %s of root filesystem on a %s array of %d)", human(rootC.Bytes), level, n), "raid.external_size",
			alignUp(per+int64(a.DataOffset)*512+Align+(1<<20), 1<<20), s.ExternalSize)
	}
	sig, volID, rootUUID, err := b.diskIDs()
	if err != nil {
		return err
	}

	b.report("boot", "writing the boot filesystem (%s)", human(sdPart))
	cmdline := rewriteCmdline(b.readRoot("boot/firmware/cmdline.txt"), "UUID="+rootUUID)
	if err := makeVFAT(b.ctx, filepath.Join(b.tmp, "boot.vfat"), sdPart, "BOOT", volID, bootDir,
		map[string][]byte{"cmdline.txt": cmdline}); err != nil {
		return err
	}

	ext4Name := fmt.Sprintf("raid%d.ext4", int(level))
	b.report("root", "writing %s (%s)", ext4Name, human(fsSize))
	script, err := renderRaidConfig(s.Name, a)
	if err != nil {
		return err
	}
	edits := []rootEdit{
		{Path: "/etc/fstab", Mode: 0o644, Data: rewriteFstab(b.readRoot("etc/fstab"), "UUID="+rootUUID, "UUID="+vfatUUID(volID))},
		{Path: "/etc/mdadm/mdadm.conf", Mode: 0o644, Data: rewriteMdadmConf(b.readRoot("etc/mdadm/mdadm.conf"), a)},
		{Path: raidConfigInImage, Mode: 0o755, Data: script},
		{Path: "/etc/systemd/system/" + raidUnit, Mode: 0o644, Data: []byte(raidUnitText)},
		{Path: "/etc/systemd/system/multi-user.target.wants/" + raidUnit, Link: "/etc/systemd/system/" + raidUnit},
	}
	if err := makeExt4(b.ctx, filepath.Join(b.tmp, ext4Name), fsSize, "ROOT", rootUUID, b.fsDir, edits, []string{"boot/firmware"}); err != nil {
		return err
	}

	b.report("disk", "writing sdcard.img")
	sd, err := createImage(filepath.Join(b.tmp, "sdcard.img"), s.SDCardSize)
	if err != nil {
		return err
	}
	defer sd.Close()
	if err := writeMBR(sd, sig, []mbrPart{{Type: 0x0C, Boot: true, Start: Align, Size: sdPart}}); err != nil {
		return err
	}
	bootW := offsetWriter{sd, Align}
	if _, err := copyData(b.ctx, filepath.Join(b.tmp, "boot.vfat"), func(p []byte, off int64) error {
		_, err := bootW.WriteAt(p, off)
		return err
	}); err != nil {
		return err
	}
	if err := sd.Close(); err != nil {
		return err
	}

	members := make([]*os.File, n)
	for i := range members {
		name := fmt.Sprintf("external%d.img", i+1)
		b.report("raid", "writing md member %d to %s", i, name)
		f, err := createImage(filepath.Join(b.tmp, name), s.ExternalSize)
		if err != nil {
			return err
		}
		defer f.Close()
		members[i] = f
		msig, err := b.u32()
		if err != nil {
			return err
		}
		if err := writeMBR(f, msig, []mbrPart{{Type: 0xFD, Start: Align, Size: memberPart}}); err != nil {
			return err
		}
		// The metadata area is written in full (zeros around the superblock
		// and bad-block log), wiping stale signatures of an earlier use.
		if err := writeZeros(f, Align, int64(a.DataOffset)*512); err != nil {
			return err
		}
		if err := a.WriteMetadata(offsetWriter{f, Align}, i); err != nil {
			return err
		}
	}
	b.report("raid", "copying %s onto the members", ext4Name)
	if _, err := copyData(b.ctx, filepath.Join(b.tmp, ext4Name), func(p []byte, off int64) error {
		exts, err := a.Map(off, int64(len(p)))
		if err != nil {
			return err
		}
		for _, e := range exts {
			q := p[e.ArrayOff-off : e.ArrayOff-off+e.Len]
			if _, err := members[e.Member].WriteAt(q, Align+e.MemberOff); err != nil {
				return fmt.Errorf("image: writing member %d: %w", e.Member, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	for _, f := range members {
		if err := f.Close(); err != nil {
			return err
		}
	}

	if err := b.writeSparse(ext4Name, ext4Name+".sparse"); err != nil {
		return err
	}
	imgs := []string{"sdcard.img"}
	for i := range n {
		imgs = append(imgs, fmt.Sprintf("external%d.img", i+1))
	}
	for _, img := range imgs {
		if err := b.writeSparse(img, img+".sparse"); err != nil {
			return err
		}
	}
	for _, f := range []string{"boot.vfat", ext4Name} {
		if err := os.Remove(filepath.Join(b.tmp, f)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(b.tmp, RaidConfigScript), script, 0o755); err != nil {
		return err
	}

	b.m = &manifest.Manifest{Layout: manifest.LayoutRAID, Name: s.Name, Level: level.String(), ArrayUUID: a.UUID.String(),
		Devices: n, Roles: map[string]string{"sd": "sdcard.img"}}
	arts := []manifest.Artifact{
		{File: "sdcard.img", Kind: manifest.KindDisk, Role: "sd", Sparse: "sdcard.img.sparse", Partitions: []manifest.Partition{
			{Index: 1, Type: "0x0c", Start: Align, Size: sdPart, FS: "vfat", Label: "BOOT", UUID: vfatUUID(volID)}}},
		{File: "sdcard.img.sparse", Kind: manifest.KindSparse, Role: "sd"},
	}
	for i := range n {
		role, img := fmt.Sprintf("external%d", i+1), fmt.Sprintf("external%d.img", i+1)
		b.m.Roles[role] = img
		arts = append(arts,
			manifest.Artifact{File: img, Kind: manifest.KindDisk, Role: role, Sparse: img + ".sparse", Partitions: []manifest.Partition{
				{Index: 1, Type: "0xfd", Start: Align, Size: memberPart, FS: "linux_raid_member", Label: setName, UUID: a.UUID.String()}}},
			manifest.Artifact{File: img + ".sparse", Kind: manifest.KindSparse, Role: role})
	}
	arts = append(arts,
		manifest.Artifact{File: ext4Name + ".sparse", Kind: manifest.KindSparse, Partitions: []manifest.Partition{
			{Index: 0, Type: "", Start: 0, Size: fsSize, FS: "ext4", Label: "ROOT", UUID: rootUUID}}},
		manifest.Artifact{File: RaidConfigScript, Kind: manifest.KindMetadata})
	return b.addArtifacts(arts...)
}
