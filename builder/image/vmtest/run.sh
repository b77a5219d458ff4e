#!/usr/bin/env bash
# make test-vm: boot Debian's own kernel under qemu (software emulation) with
# the external disk images of natively built RAID sets attached, let the
# kernel's md driver assemble the array from our v1.2 superblocks (through
# sysfs: new_array, metadata_version 1.2, new_dev, array_state; md reads and
# checks every superblock itself), mount the ext4 and hash a file. The hash
# must match the file the set was built from.
#
# Cases: RAID1 with 2 members, RAID1 degraded (1 of 2), RAID0 with 3 members.
# The kernel .deb is fetched once with `apt-get download` into .cache/vm.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
CACHE=${VM_CACHE:-$ROOT/.cache/vm}
TIMEOUT=${VM_TIMEOUT:-120}
GO=${GO:-go}
export PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

for t in qemu-system-x86_64 busybox cpio gzip depmod dpkg apt-get apt-cache timeout "$GO"; do
	command -v "$t" >/dev/null || { echo "test-vm: $t is required (see TEST_PKGS in the Makefile)"; exit 2; }
done
BUSYBOX=$(command -v busybox)
if ! file -L "$BUSYBOX" 2>/dev/null | grep -q static && [ -x /bin/busybox ]; then BUSYBOX=/bin/busybox; fi

mkdir -p "$CACHE"
# 1. The Debian kernel, cached.
if ! ls "$CACHE"/kernel/boot/vmlinuz-* >/dev/null 2>&1; then
	kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1; }
	pkg=$(kernel_pkg)
	if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq && pkg=$(kernel_pkg)
	fi
	[ -n "$pkg" ] || { echo "test-vm: cannot resolve linux-image-amd64 (apt-get update?)"; exit 2; }
	echo "test-vm: fetching $pkg"
	(cd "$CACHE" && apt-get download "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
	rm -rf "$CACHE/kernel"
	dpkg -x "$CACHE/$pkg"_*.deb "$CACHE/kernel"
fi
VMLINUZ=$(ls "$CACHE"/kernel/boot/vmlinuz-* | head -n1)
KVER=${VMLINUZ##*/vmlinuz-}
KMOD=$CACHE/kernel/lib/modules/$KVER
[ -f "$KMOD/modules.dep" ] || depmod -b "$CACHE/kernel" "$KVER"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pistudio-vm.XXXXXX")
trap '[ -n "${VM_KEEP:-}" ] && echo "test-vm: kept $WORK" || rm -rf "$WORK"' EXIT

# 2. The RAID sets.
echo "test-vm: building RAID sets"
read -r FILE WANT < <(cd "$ROOT" && GOFLAGS=-buildvcs=false "$GO" run ./builder/image/vmtest -out "$WORK/sets")

# 3. A busybox initramfs with the md, ext4 and virtio modules, plus the
# host's mdadm, sfdisk, partx and resize2fs (with their libraries) and the
# RAID1 set's raid_config.sh, for the first-boot grow case.
IR=$WORK/initramfs
mkdir -p "$IR/bin" "$IR/lib/modules/$KVER"
cp "$BUSYBOX" "$IR/bin/busybox"
want="virtio_pci virtio_blk crc32c_generic ext4 md-mod raid0 raid1"
for m in $want; do
	line=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$KMOD/modules.dep") || { echo "test-vm: module $m not in $KVER"; exit 2; }
	for f in ${line%%:*} ${line#*:}; do
		mkdir -p "$IR/lib/modules/$KVER/$(dirname "$f")"
		cp "$KMOD/$f" "$IR/lib/modules/$KVER/$f"
		case $f in
			*.xz) xz -d -f "$IR/lib/modules/$KVER/$f" ;;
			*.zst) zstd -q -d --rm -f "$IR/lib/modules/$KVER/$f" ;;
		esac
	done
done
cp "$KMOD"/modules.builtin* "$KMOD/modules.order" "$IR/lib/modules/$KVER/" 2>/dev/null || true
depmod -b "$IR" "$KVER"
for t in mdadm sfdisk partx resize2fs; do
	bin=$(command -v $t) || { echo "test-vm: $t is required"; exit 2; }
	mkdir -p "$IR/usr/sbin"
	cp "$bin" "$IR/usr/sbin/$t"
	for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
		mkdir -p "$IR$(dirname "$lib")"
		cp -L "$lib" "$IR$lib"
	done
done
cp "$WORK/sets/raid1/raid_config.sh" "$IR/raid_config.sh"
cat >"$IR/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /mnt
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in virtio_pci virtio_blk crc32c_generic ext4 md_mod raid0 raid1; do
	modprobe $m || echo "VMTEST modprobe $m failed"
done
i=0
while [ ! -e /sys/class/block/vda1 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
file=$(sed -n 's/.*vmtest.file=\([^ ]*\).*/\1/p' /proc/cmdline)
echo md0 >/sys/module/md_mod/parameters/new_array
md=/sys/block/md0/md
echo 1.2 >$md/metadata_version
for p in /sys/class/block/vd?1; do
	echo "$(cat $p/dev)" >$md/new_dev || echo "VMTEST kernel rejected ${p##*/}"
done
echo active >$md/array_state || echo "VMTEST kernel could not run the array"
cat /proc/mdstat
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mode=$(sed -n 's/.*vmtest.mode=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ "$mode" = grow ]; then
	mkdir -p /run/mdadm /etc/mdadm /var/lib /tmp
	mount -t ext4 /dev/md0 /mnt
	mdb=$(cat /sys/block/md0/size); fsb=$(df -k /mnt | awk 'NR==2 {print $2}')
	sh /raid_config.sh >/tmp/run1 2>&1; rc1=$?
	sed 's/^/VMTEST run1: /' /tmp/run1
	sh /raid_config.sh >/tmp/run2 2>&1; rc2=$?
	sed 's/^/VMTEST run2: /' /tmp/run2
	mda=$(cat /sys/block/md0/size); fsa=$(df -k /mnt | awk 'NR==2 {print $2}')
	echo "VMTEST-GROW rc1=$rc1 rc2=$rc2 md_before=$mdb md_after=$mda fs_before=$fsb fs_after=$fsa conf_arrays=$(grep -c '^ARRAY' /etc/mdadm/mdadm.conf) second_run_grew=$(grep -c grew /tmp/run2)"
	umount /mnt
fi
sum=none
if mount -t ext4 -o ro /dev/md0 /mnt; then
	sum=$(sha256sum "/mnt$file" | cut -d' ' -f1)
	umount /mnt
fi
echo "VMTEST-RESULT level=$(cat $md/level) disks=$(cat $md/raid_disks) state=$(cat $md/array_state) degraded=$(cat $md/degraded 2>/dev/null || echo 0) resync_start=$(cat $md/resync_start) sync=$(cat $md/sync_action 2>/dev/null || echo none) sha256=$sum"
poweroff -f
EOF
chmod 755 "$IR/init"
(cd "$IR" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initrd.gz"


fail=0
# case NAME EXPECT(regex over the result line) DISK...
vmcase() {
	local name=$1 expect=$2
	shift 2
	local args=() d
	for d in "$@"; do args+=(-drive "file=$d,format=raw,if=virtio"); done
	local must_log=${MUST_LOG:-}
	local start=$SECONDS
	local log=$WORK/$name.log
	timeout "$TIMEOUT" qemu-system-x86_64 -nographic -no-reboot -snapshot -m 512 -smp 1 -accel tcg \
		-kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 vmtest.file=$FILE vmtest.mode=${VM_MODE:-check}" \
		"${args[@]}" </dev/null >"$log" 2>&1 || true
	local res
	res=$(tr -d '\r' <"$log" | grep '^VMTEST-RESULT' | tail -n1 || true)
	if [ -n "$res" ] && echo "$res" | grep -Eq "$expect" && echo "$res" | grep -q "sha256=$WANT" &&
		{ [ -z "$must_log" ] || tr -d '\r' <"$log" | grep -q "$must_log"; }; then
		echo "PASS $name ($((SECONDS - start))s): ${res#VMTEST-RESULT }"
	else
		echo "FAIL $name ($((SECONDS - start))s): ${res:-no result line}"
		tr -d '\r' <"$log" | grep -E 'VMTEST|md|raid|EXT4|error' | tail -n 25 | sed 's/^/    /'
		fail=1
	fi
}
S=$WORK/sets
vmcase raid1-2 'level=raid1 disks=2 state=(clean|active) degraded=0 resync_start=none' "$S/raid1/external1.img" "$S/raid1/external2.img"
vmcase raid1-degraded 'level=raid1 disks=2 state=(clean|active) degraded=1' "$S/raid1/external1.img"
vmcase raid0-3 'level=raid0 disks=3 state=(clean|active)' "$S/raid0/external1.img" "$S/raid0/external2.img" "$S/raid0/external3.img"
# First boot on disks bigger than the image: raid_config.sh grows the
# member partitions, the array and the mounted ext4; a second run changes
# nothing.
cp --sparse=always "$S/raid1/external1.img" "$WORK/big1.img"
cp --sparse=always "$S/raid1/external2.img" "$WORK/big2.img"
truncate -s 96M "$WORK/big1.img" "$WORK/big2.img"
VM_MODE=grow vmcase raid1-grow 'level=raid1 disks=2 state=(clean|active)' "$WORK/big1.img" "$WORK/big2.img"
grow=$(tr -d '\r' <"$WORK/raid1-grow.log" | grep '^VMTEST-GROW' | tail -n1 || true)
read -r rc1 rc2 mdb mda fsb fsa arrays grew2 < <(echo "$grow" | sed 's/[a-z_0-9]*=//g; s/^VMTEST-GROW //') || true
if [ "${rc1:-x}" = 0 ] && [ "${rc2:-x}" = 0 ] && [ "${mda:-0}" -gt "${mdb:-0}" ] && [ "${fsa:-0}" -gt "${fsb:-0}" ] &&
	[ "${arrays:-x}" = 1 ] && [ "${grew2:-x}" = 0 ]; then
	echo "PASS raid1-grow raid_config.sh: ${grow#VMTEST-GROW }"
else
	echo "FAIL raid1-grow raid_config.sh: ${grow:-no grow line}"
	tr -d '\r' <"$WORK/raid1-grow.log" | grep 'VMTEST run' | sed 's/^/    /'
	fail=1
fi

# A member whose superblock checksum no longer matches must be refused by
# the kernel (the array then runs degraded on the good member).
cp --sparse=always "$S/raid1/external2.img" "$WORK/bad2.img"
printf 'X' | dd of="$WORK/bad2.img" bs=1 seek=$((8 * 1024 * 1024 + 4096 + 0x30)) conv=notrunc status=none
MUST_LOG="VMTEST kernel rejected vdb1" vmcase raid1-bad-checksum 'level=raid1 disks=2 state=(clean|active) degraded=1' \
	"$S/raid1/external1.img" "$WORK/bad2.img"
if [ $fail != 0 ]; then
	echo "test-vm: FAIL"
	exit 1
fi
echo "test-vm: PASS"
