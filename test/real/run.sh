#!/usr/bin/env bash
# make test-real: real rpi-image-gen builds through `pistudio build`, then a
# boot of the RAID set in qemu-system-aarch64 -M virt with the image's own
# kernel, initramfs and cmdline.txt.
#
#   1. checks what a build without network needs (see README, "Real builds")
#   2. builds test/real/configs/raid-virt.yaml (our raid layout on Debian
#      trixie arm64 with the qemu-virt test device): a full build (with
#      --rebuild: it builds its filesystem whatever the work folder holds),
#      the same full build again (it must reuse that filesystem: nothing it
#      reads changed), -f --rebuild (stage 1 again with the caches of the
#      first), then -i
#   3. builds test/real/configs/debian-virt.yaml (image-rpios, Debian only)
#      with a full build (REAL_SKIP_DEBIAN=1 skips it), then again (it must
#      reuse the filesystem: the tool runs only its image stage)
#   4. boots the RAID set twice on copies of its images: both members on
#      disks 512 MiB bigger than the image (raid_config.sh grows the array),
#      then the SD card with one member only (degraded); each boot must reach
#      the login prompt
#
# Environment:
#   PISTUDIO_UPSTREAM_TREE  rpi-image-gen checkout at v2.8.0 (required)
#   REAL_WORK               work folder (default .cache/real); its work/cache
#                           holds the host-tool tarballs, apt-cache the .debs
#   REAL_STEPS              steps to run (default "full again f i debian debian-again boot")
#   REAL_BOOT_TIMEOUT       seconds per boot (default 1500)
#   PISTUDIO                a pistudio binary to use instead of building one
#
# Every build runs niced (nice -n 10) and as root. Nothing but files under
# REAL_WORK is written; no block device is opened.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/test/real
REAL_WORK=${REAL_WORK:-$ROOT/.cache/real}
WORK=$REAL_WORK/work
STEPS=${REAL_STEPS:-full again f i debian debian-again boot}
[ -n "${REAL_SKIP_DEBIAN:-}" ] && STEPS=${STEPS//debian-again/} && STEPS=${STEPS//debian/}
BOOT_TIMEOUT=${REAL_BOOT_TIMEOUT:-1500}
TREE=${PISTUDIO_UPSTREAM_TREE:-}
WANT_REV=262d4df5a9f9d4133370465399a7958a7c22cdc7 # v2.8.0
export PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin
export GENIMAGE_VER=19 IG_OFFLINE=y PIP_NO_DEPS=1

say() { echo "test-real: $*"; }
# shellcheck source=test/lib/arm64.sh
. "$ROOT/test/lib/arm64.sh"
has_step() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }

# 1. Preconditions: collect everything missing, then stop once.
missing=()
[ "$(id -u)" = 0 ] || missing+=("run as root (rpi-image-gen builds the rootfs as root): sudo make test-real")
if [ -z "$TREE" ]; then
	missing+=("PISTUDIO_UPSTREAM_TREE is not set: point it at an rpi-image-gen checkout of v2.8.0 (README, \"Real builds\")")
elif [ ! -x "$TREE/rpi-image-gen" ]; then
	missing+=("$TREE/rpi-image-gen does not exist: PISTUDIO_UPSTREAM_TREE must be an rpi-image-gen checkout")
else
	rev=$(git -C "$TREE" rev-parse HEAD 2>/dev/null || echo unknown)
	[ "$rev" = "$WANT_REV" ] || missing+=("$TREE is at $rev, not v2.8.0 ($WANT_REV): git -C $TREE checkout v2.8.0")
	# The host tools the tree builds on its first run, from its cache.
	for meta in "$TREE"/package/bdebstrap/bdebstrap-0.7.0.meta "$TREE"/package/genimage/genimage-$GENIMAGE_VER.meta "$TREE"/package/libconfuse/libconfuse-3.3.meta; do
		[ -f "$meta" ] || { missing+=("$meta is missing from the tree"); continue; }
		read -r name sum url < <(grep -v '^#' "$meta" | grep . | head -n1)
		f=$WORK/cache/$name
		if [ ! -f "$f" ]; then
			missing+=("host-tool tarball $f is missing (made from $url; README, \"Real builds\")")
		elif [ "$(sha256sum "$f" | cut -d' ' -f1)" != "${sum#sha256:}" ]; then
			missing+=("$f does not match ${sum} from $meta")
		fi
	done
	# The tree's own dependency list (name, or tool:package / ::package).
	pkgs=$(grep -v '^#' "$TREE/depends" | grep . | awk -F: '{print $NF}')
fi
pkgs="${pkgs:-} python3-ruamel.yaml qemu-user-static binfmt-support arch-test qemu-system-arm mtools fdisk e2fsprogs"
nopkg=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || nopkg="$nopkg $p"
done
[ -z "$nopkg" ] || missing+=("Debian packages missing: apt-get install$nopkg")
need_arm64_binfmt
stop_if_missing

mkdir -p "$WORK" "$REAL_WORK/apt-cache" "$REAL_WORK/logs"
TIMES=$REAL_WORK/times.txt
PIST=${PISTUDIO:-$REAL_WORK/pistudio}
if [ -z "${PISTUDIO:-}" ]; then
	say "building pistudio"
	(cd "$ROOT" && GOFLAGS=-buildvcs=false nice -n 10 go build -o "$PIST" .)
fi

# build NAME CONFIG [FLAGS...]: one timed pistudio build, logged.
build() {
	local name=$1 cfg=$2
	shift 2
	local log=$REAL_WORK/logs/$name.log t0 t1 rc=0
	say "build $name: $cfg $* (log $log)"
	t0=$(date +%s)
	nice -n 10 "$PIST" build -c "$cfg" --rpi-image-gen "$TREE" -S "$HERE/layers" -B "$WORK" "$@" \
		-- IGconf_sys_apt_cachedir="$REAL_WORK/apt-cache" >"$log" 2>&1 || rc=$?
	t1=$(date +%s)
	printf '%s\t%s\t%ds\texit %d\n' "$(date -u +%FT%TZ)" "$name" $((t1 - t0)) "$rc" | tee -a "$TIMES"
	if [ "$rc" != 0 ]; then
		say "build $name failed (exit $rc); the end of its log:"
		tail -n 30 "$log"
		exit 1
	fi
}

# 2./3. The builds.
# again NAME CONFIG: the same full build again. Nothing its filesystem
# build reads changed, so it must reuse the filesystem (and say so), else
# the log says why not.
again() {
	build "$1" "$2"
	if ! grep -q 'filesystem: reusing chroot-' "$REAL_WORK/logs/$1.log"; then
		say "$1 did not reuse the filesystem of the build before:"
		grep 'filesystem: ' "$REAL_WORK/logs/$1.log" || true
		exit 1
	fi
	grep 'filesystem: ' "$REAL_WORK/logs/$1.log" | sed 's/^/  /'
}

has_step full && build raid-full "$HERE/configs/raid-virt.yaml" --rebuild
has_step again && again raid-again "$HERE/configs/raid-virt.yaml"
has_step f && build raid-f "$HERE/configs/raid-virt.yaml" -f --rebuild
has_step i && build raid-i "$HERE/configs/raid-virt.yaml" -i
has_step debian && build debian-full "$HERE/configs/debian-virt.yaml" --rebuild
has_step debian-again && again debian-again "$HERE/configs/debian-virt.yaml"
has_step boot || exit 0

# 4. Boot the RAID set.
SET=$WORK/image-raid-virt
for f in sdcard.img external1.img external2.img; do
	[ -f "$SET/$f" ] || { say "$SET/$f is missing: run the builds first (REAL_STEPS)"; exit 1; }
done
BOOT=$REAL_WORK/boot
rm -rf "$BOOT" && mkdir -p "$BOOT"

# The card's boot partition (first partition): its kernel, initramfs and
# cmdline.txt, read with mtools from the image file.
fat=$(fat_of "$SET/sdcard.img") || exit 1
for f in vmlinuz initrd.img cmdline.txt; do
	mcopy -n -i "$fat" "::$f" "$BOOT/$f" || { say "the card's boot partition has no $f (qemu-virt layer)"; exit 1; }
done
cmdline=$(tr -d '\n' <"$BOOT/cmdline.txt")
say "cmdline.txt: $cmdline"

# boot NAME EXPECT... -- DISKS...: boot until every EXPECT line (extended
# regex) has appeared on the console, or fail after BOOT_TIMEOUT seconds.
boot() {
	local name=$1
	shift
	local expect=() disks=() args=() i=0
	while [ "$1" != -- ]; do expect+=("$1"); shift; done
	shift
	disks=("$@")
	for d in "${disks[@]}"; do
		args+=(-drive "if=none,format=raw,id=d$i,file=$d" -device "virtio-blk-device,drive=d$i")
		i=$((i + 1))
	done
	local console=$BOOT/$name.console
	say "boot $name: ${disks[*]##*/}"
	local t0
	t0=$(date +%s)
	: >"$console"
	nice -n 10 qemu-system-aarch64 -M virt -cpu cortex-a57 -m 1024 -smp 1 -nographic -no-reboot \
		-kernel "$BOOT/vmlinuz" -initrd "$BOOT/initrd.img" \
		-append "$cmdline systemd.journald.forward_to_console=1 panic=-1" \
		-nic none "${args[@]}" </dev/null >"$console" 2>&1 &
	local qpid=$!
	local ok=0
	while kill -0 "$qpid" 2>/dev/null && [ $(($(date +%s) - t0)) -lt "$BOOT_TIMEOUT" ]; do
		ok=1
		for e in "${expect[@]}"; do grep -Eaq "$e" "$console" || { ok=0; break; }; done
		[ "$ok" = 1 ] && break
		sleep 5
	done
	kill "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	local dt=$(($(date +%s) - t0))
	if [ "$ok" != 1 ]; then
		say "boot $name: FAILED after ${dt}s; missing console lines:"
		for e in "${expect[@]}"; do grep -Eaq "$e" "$console" || echo "  - $e"; done
		say "the end of the console ($console):"
		tail -n 40 "$console" | tr -d '\r'
		return 1
	fi
	printf '%s\tboot-%s\t%ds\tok\n' "$(date -u +%FT%TZ)" "$name" "$dt" | tee -a "$TIMES"
	say "boot $name: console lines:"
	for e in "${expect[@]}"; do grep -Ea "$e" "$console" | head -n 2 | tr -d '\r' | sed 's/^/  /'; done
}

# Copies of the set for both boots, taken now (a later -i rewrites the set).
cp --sparse=always "$SET/sdcard.img" "$BOOT/sd-a.img"
cp --sparse=always "$SET/sdcard.img" "$BOOT/sd-b.img"
cp --sparse=always "$SET/external1.img" "$BOOT/ext1-b.img"
for n in 1 2; do
	cp --sparse=always "$SET/external$n.img" "$BOOT/ext$n-a.img"
	truncate -s +512M "$BOOT/ext$n-a.img"
done

# The two boots run side by side (one emulated CPU each).
# Both members, each on a disk 512 MiB bigger than its image: the initramfs
# assembles md0 from both, raid_config.sh grows the members and the array.
boot both \
	'md/raid1:md0: active with 2 out of 2 mirrors' \
	'raid_config: grew /dev/md0' \
	'login:' \
	-- "$BOOT/sd-a.img" "$BOOT/ext1-a.img" "$BOOT/ext2-a.img" &
p1=$!
# One member only: md0 starts degraded and the system still comes up.
boot degraded \
	'md/raid1:md0: active with 1 out of 2 mirrors' \
	'login:' \
	-- "$BOOT/sd-b.img" "$BOOT/ext1-b.img" &
p2=$!
fails=0
wait $p1 || fails=$((fails + 1))
wait $p2 || fails=$((fails + 1))

[ "$fails" = 0 ] || { say "$fails boot(s) failed"; exit 1; }
say "ok; times in $TIMES, consoles in $BOOT"
