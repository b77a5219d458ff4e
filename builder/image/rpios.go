package image

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pistudio/pistudio/internal/manifest"
)

// rpios writes the image-rpios layout: <name>.img with an MBR (8 MiB
// alignment), a bootable FAT32 partition (type 0x0C, label BOOT) and an ext4
// root partition (type 0x83, label ROOT), plus sparse twins.
func (b *builder) rpios() error {
	s := b.spec
	b.steps = 13
	bootDir, bootC, rootC, err := b.measureTree()
	if err != nil {
		return err
	}
	bootSize, err := s.sizeFor("boot partition", "image.boot_part_size", s.BootPartSize, s.BootPartPct, bootC.Bytes, vfatNeed(bootC))
	if err != nil {
		return err
	}
	rootSize, err := s.sizeFor("root filesystem", "image.root_part_size", s.RootPartSize, s.RootPartPct, rootC.Bytes, ext4Need(rootC))
	if err != nil {
		return err
	}
	bootSize, rootSize = alignUp(bootSize, Align), alignUp(rootSize, Align)
	if total := Align + bootSize + rootSize; total > MaxDiskBytes {
		e := s.sizeErr("disk image (boot + root partitions)", "image.root_part_size", 0, total)
		e.Max = MaxDiskBytes
		return e
	}
	sig, volID, rootUUID, err := b.diskIDs()
	if err != nil {
		return err
	}
	partUUID := func(i int) string { return fmt.Sprintf("PARTUUID=%08x-%02d", sig, i) }

	b.report("boot", "writing boot.vfat (%s)", human(bootSize))
	cmdline := rewriteCmdline(b.readRoot("boot/firmware/cmdline.txt"), partUUID(2))
	if err := makeVFAT(b.ctx, filepath.Join(b.tmp, "boot.vfat"), bootSize, "BOOT", volID, bootDir,
		map[string][]byte{"cmdline.txt": cmdline}); err != nil {
		return err
	}
	b.report("root", "writing root.ext4 (%s)", human(rootSize))
	edits := []rootEdit{{Path: "/etc/fstab", Mode: 0o644,
		Data: rewriteFstab(b.readRoot("etc/fstab"), partUUID(2), partUUID(1))}}
	if err := makeExt4(b.ctx, filepath.Join(b.tmp, "root.ext4"), rootSize, "ROOT", rootUUID, b.fsDir, edits, []string{"boot/firmware"}); err != nil {
		return err
	}

	img := s.Name + ".img"
	b.report("disk", "writing %s", img)
	parts := []mbrPart{{Type: 0x0C, Boot: true, Start: Align, Size: bootSize}, {Type: 0x83, Start: Align + bootSize, Size: rootSize}}
	f, err := createImage(filepath.Join(b.tmp, img), Align+bootSize+rootSize)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeMBR(f, sig, parts); err != nil {
		return err
	}
	for i, name := range []string{"boot.vfat", "root.ext4"} {
		w := offsetWriter{f, parts[i].Start}
		if _, err := copyData(b.ctx, filepath.Join(b.tmp, name), func(p []byte, off int64) error {
			_, err := w.WriteAt(p, off)
			return err
		}); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, n := range [][2]string{{img, img + ".sparse"}, {"boot.vfat", "boot.vfat.sparse"}, {"root.ext4", "root.ext4.sparse"}} {
		if err := b.writeSparse(n[0], n[1]); err != nil {
			return err
		}
	}
	for _, n := range []string{"boot.vfat", "root.ext4"} {
		if err := os.Remove(filepath.Join(b.tmp, n)); err != nil {
			return err
		}
	}
	b.m = &manifest.Manifest{Layout: manifest.LayoutRPiOS, Name: s.Name, Roles: map[string]string{"sd": img}}
	partitions := []manifest.Partition{
		{Index: 1, Type: "0x0c", Start: parts[0].Start, Size: parts[0].Size, FS: "vfat", Label: "BOOT", UUID: vfatUUID(volID)},
		{Index: 2, Type: "0x83", Start: parts[1].Start, Size: parts[1].Size, FS: "ext4", Label: "ROOT", UUID: rootUUID},
	}
	return b.addArtifacts(
		manifest.Artifact{File: img, Kind: manifest.KindDisk, Role: "sd", Sparse: img + ".sparse", Partitions: partitions},
		manifest.Artifact{File: img + ".sparse", Kind: manifest.KindSparse, Role: "sd"},
		manifest.Artifact{File: "boot.vfat.sparse", Kind: manifest.KindSparse, Partitions: partitions[:1]},
		manifest.Artifact{File: "root.ext4.sparse", Kind: manifest.KindSparse, Partitions: partitions[1:]},
	)
}
