#!/bin/sh
# mmdebstrap essential hook for make test-boot: $1 is the arm64 rootfs,
# before the kernel is installed. Its initramfs holds only what a qemu virt
# machine needs to mount the root (virtio-mmio/-pci block, ext4) instead of
# most of the kernel's modules: made under qemu-user emulation, the full
# initramfs is what takes longest in the whole rootfs build.
set -eu
R=$1
mkdir -p "$R/etc/initramfs-tools/conf.d"
cat >"$R/etc/initramfs-tools/conf.d/90-boot-test.conf" <<'EOC'
MODULES=list
COMPRESS=gzip
EOC
mkdir -p "$R/usr/share/initramfs-tools/modules.d"
cat >"$R/usr/share/initramfs-tools/modules.d/boot-test" <<'EOC'
virtio_mmio
virtio_pci
virtio_blk
ext4
EOC
