// Package image is Pi Image Studio's native image stage: it turns a root
// filesystem tree made by rpi-image-gen's stage 1 (work/chroot-*/filesystem)
// into disk images without root, loop devices or mdadm. It shells out to
// mke2fs, debugfs (e2fsprogs), mkfs.vfat (dosfstools) and mcopy (mtools);
// everything else (MBR, md superblocks, striping, Android sparse) is Go.
// FAT32 is made with mkfs.vfat (-s 1 below 260 MB, else mtools cannot read
// it) and filled with mcopy: for 46 MiB in 201 files that took 0.06 s, while
// go-diskfs v1.9.4 with 8 MiB writes took 2.9 s and left a filesystem
// fsck.vfat complains about (bad ".." entry, FSInfo free count unset).
//
// # Layouts
//
// image-rpios (as rpi-image-gen's layer of that name): <name>.img with an
// MBR (random disk signature, 8 MiB alignment), partition 1 FAT32 type 0x0C
// bootable labelled BOOT holding /boot/firmware, partition 2 ext4 type 0x83
// labelled ROOT holding the rest; plus <name>.img.sparse, boot.vfat.sparse,
// root.ext4.sparse and image.json. The root is named by PARTUUID
// (<disk signature>-02) in cmdline.txt and /etc/fstab.
//
// raid (our own layer, assets/layers/image/raid): the root filesystem lives
// on a Linux md RAID1 or RAID0 array of N external disks, the SD card holds
// only the boot partition.
//
//	sdcard.img          MBR, FAT32 (0x0C, BOOT) from 8 MiB to the end
//	externalI.img       MBR, one partition type 0xFD from 8 MiB to the end,
//	                    an md v1.2 member (role I-1) of the array
//	raidL.ext4.sparse   the array's ext4 filesystem (L = 1 or 0)
//	*.img.sparse        Android sparse twin of every .img
//	raid_config.sh      first-boot helper (also installed in the image)
//	image.json          the manifest.Manifest
//
// The members are written as mdadm 4.2 would create them (see package md):
// same set UUID, per-member device UUID, data offset as mdadm picks it,
// state clean with no resync pending, set name "<hostname>:0". RAID0 uses
// 512 KiB chunks over equal members. Only data extents of the ext4 image are
// copied (SEEK_DATA/SEEK_HOLE): holes stay holes in every file, and every
// .sparse stores them as DONT_CARE (left alone when flashing). Two areas are
// written as explicit zeros (FILL chunks in the .sparse, so flashing writes
// them): the first 8 MiB of every disk (MBR and the gap before the first
// partition, where a stale GPT header or md superblock could otherwise
// survive) and each member's metadata area up to data_offset.
//
// # Booting from the md root: who does what
//
// Stage 1 (the raid layer, run by rpi-image-gen) installs mdadm and
// initramfs-tools and writes /etc/mdadm/mdadm.conf with an ARRAY line for
// /dev/md0 carrying a fresh UUID and name "<hostname>:0", then runs
// update-initramfs, so the initramfs (mdadm's hook copies mdadm.conf into
// it) assembles that array as /dev/md0.
//
// The native stage never changes the stage-1 tree: it builds the ext4 with
// `mke2fs -d` from it and then edits the image only (debugfs, copy-on-write):
//   - it reuses the UUID and name of the ARRAY /dev/md0 line it finds in the
//     tree's mdadm.conf, so the initramfs matches the array; without one it
//     picks a random UUID (the initramfs then still assembles the array,
//     mdadm's default being to start every array it finds, possibly as
//     /dev/md127, and raid_config.sh records it and refreshes the initramfs
//     on first boot);
//   - /etc/mdadm/mdadm.conf gets that ARRAY line (others are kept);
//   - /etc/fstab mounts / by the ext4 UUID and /boot/firmware by the FAT
//     volume id (other lines are kept; md0 has no PARTUUID);
//   - cmdline.txt on the FAT gets root=UUID=<ext4 uuid> and rootwait, every
//     other argument kept;
//   - /boot/firmware is left empty in the root filesystem (its content is on
//     the SD card, mounted there);
//   - /usr/local/sbin/raid_config.sh and a oneshot systemd unit that runs it
//     once (pistudio-raid-config.service) are added.
//
// # Sizes
//
// Sizes come in bytes (rpi-image-gen size syntax is parsed by
// builder.ParseSize). Percentages (image-rpios boot_part_size and
// root_part_size) are taken of the content's size, never below what the
// content needs; an explicit size that cannot hold the content fails with a
// *SizeError saying how much is needed and which setting gives how much.
// Nothing half-written is left: Build writes into a hidden directory beside
// the output directory and renames it into place on success.
package image
