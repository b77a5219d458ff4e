#!/usr/bin/env bash
# make test-boot: the first-boot settings written by `pistudio flash` take
# effect in a real arm64 Debian booted in qemu-system-aarch64 -M virt.
#
#   1. rootfs: Debian bookworm arm64 made with mmdebstrap under qemu-user
#      (cached in BOOT_CACHE/rootfs): Debian's kernel, systemd, and our
#      shipped first-boot reader layer (assets/layers/layer/firstboot/
#      cloudinit.yaml: its packages and customize hooks, passed to
#      mmdebstrap as rpi-image-gen's bdebstrap passes a layer's); the
#      kernel and initramfs are copied onto the boot partition and a
#      cmdline.txt for ttyAMA0 is written; a unit prints what the guest
#      sees after cloud-init's final stage and the layer's scrub (REPORT
#      lines) and powers off
#   2. image: `pistudio image` (native image-rpios: MBR, FAT BOOT + ext4 ROOT)
#   3. two loop devices attached by this script to files it creates
#   4. `pistudio flash IMAGE LOOP1 LOOP2 --hostname 'pi-{n}' --user U
#      --ssh-key FILE --timezone TZ --locale L --yes` (the issue 15 settings);
#      each card is then copied to a file and the loop devices detached
#   5. each card file boots with its own vmlinuz, initrd.img and cmdline.txt
#      (read from its FAT); the console must show hostname pi-1 / pi-2, the
#      user with the key, timezone and locale; after the guest powers off the
#      FAT must no longer hold the seed's key
#
# Environment: BOOT_CACHE (default .cache/boot), BOOT_TIMEOUT seconds per
# boot (default 1800), PISTUDIO (a binary instead of building one).
# Only loop devices this script attached are opened; they are detached on
# exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/test/boot
CACHE=${BOOT_CACHE:-$ROOT/.cache/boot}
TIMEOUT=${BOOT_TIMEOUT:-1800}
STEPS=${BOOT_STEPS:-rootfs image flash boot}
SUITE=bookworm
USER_NAME=piuser
TZ_WANT=Europe/Berlin
LOCALE_WANT=de_DE.UTF-8
export PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "test-boot: $*"; }
# shellcheck source=test/lib/arm64.sh
. "$ROOT/test/lib/arm64.sh"
has_step() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }

missing=()
[ "$(id -u)" = 0 ] || missing+=("run as root (mmdebstrap, loop devices): sudo make test-boot")
for t in mmdebstrap qemu-system-aarch64 mcopy mtype sfdisk losetup ssh-keygen truncate; do
	command -v "$t" >/dev/null || missing+=("$t (see ARM64_PKGS in the Makefile)")
done
need_arm64_binfmt
stop_if_missing
mkdir -p "$CACHE"
TIMES=$CACHE/times.txt
PIST=${PISTUDIO:-$CACHE/pistudio}
if [ -z "${PISTUDIO:-}" ]; then
	say "building pistudio"
	(cd "$ROOT" && GOFLAGS=-buildvcs=false nice -n 10 go build -o "$PIST" .)
fi
stamp() { printf '%s\t%s\t%ds\n' "$(date -u +%FT%TZ)" "$1" "$2" | tee -a "$TIMES"; }

# 1. The rootfs, cached: rebuilt when its hooks change.
ROOTFS=$CACHE/rootfs
LAYER=$ROOT/assets/layers/layer/firstboot/cloudinit.yaml
key=$(cat "$HERE/rootfs-hooks.sh" "$HERE/initramfs-conf.sh" "$LAYER" | sha256sum | cut -c1-16)
if has_step rootfs && [ "$(cat "$ROOTFS.stamp" 2>/dev/null)" != "$key" ]; then
	say "building the arm64 rootfs with mmdebstrap (under emulation; 10-30 minutes)"
	rm -rf "$ROOTFS" "$ROOTFS.tmp" "$ROOTFS.stamp"
	t0=$(date +%s)
	# The reader layer's packages and customize hooks, as bdebstrap hands a
	# layer's mmdebstrap section to mmdebstrap.
	python3 - "$LAYER" "$CACHE/layer" <<'EOP'
import sys, yaml
doc = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d][0]["mmdebstrap"]
open(sys.argv[2] + ".packages", "w").write(",".join(doc.get("packages", [])))
open(sys.argv[2] + ".hooks", "w").write("\0".join(doc.get("customize-hooks", [])))
EOP
	layer_hooks=()
	while IFS= read -r -d '' h; do layer_hooks+=(--customize-hook="$h"); done < <(cat "$CACHE/layer.hooks"; printf '\0')
	nice -n 10 mmdebstrap --arch=arm64 --variant=minbase \
		--include="linux-image-arm64,udev,systemd-sysv,dbus,fdisk,cloud-guest-utils,$(cat "$CACHE/layer.packages")" \
		--aptopt='APT::Install-Recommends "false"' \
		--essential-hook="sh $HERE/initramfs-conf.sh \"\$1\"" \
		"${layer_hooks[@]}" \
		--customize-hook="sh $HERE/rootfs-hooks.sh \"\$1\"" \
		"$SUITE" "$ROOTFS.tmp" >"$CACHE/mmdebstrap.log" 2>&1 ||
		{ say "mmdebstrap failed; the end of $CACHE/mmdebstrap.log:"; tail -n 30 "$CACHE/mmdebstrap.log"; exit 1; }
	mv "$ROOTFS.tmp" "$ROOTFS"
	echo "$key" >"$ROOTFS.stamp"
	stamp rootfs $(($(date +%s) - t0))
fi
[ -f "$ROOTFS.stamp" ] || { say "no rootfs in $ROOTFS (BOOT_STEPS without rootfs?)"; exit 1; }

# 2. The image.
IMGDIR=$CACHE/image
IMG=$IMGDIR/boot-test.img
if has_step image; then
	rm -rf "$IMGDIR"
	t0=$(date +%s)
	"$PIST" image -c "$HERE/config.yaml" --fs "$ROOTFS" -o "$IMGDIR"
	stamp image $(($(date +%s) - t0))
fi
[ -f "$IMG" ] || { say "no image $IMG"; exit 1; }

BOOT=$CACHE/run
rm -rf "$BOOT" && mkdir -p "$BOOT"

# boot NAME CARD EXPECT...: boot CARD with the kernel, initramfs and
# cmdline.txt on its FAT until the guest powers off (the report unit does)
# or TIMEOUT; then every EXPECT (extended regex) must be on the console.
boot() {
	local name=$1 card=$2
	shift 2
	local fat console=$BOOT/$name.console t0 qpid dt e bad=0
	fat=$(fat_of "$card")
	for f in vmlinuz initrd.img cmdline.txt; do
		mcopy -n -i "$fat" "::$f" "$BOOT/$name.$f" || { say "$card: the boot partition has no $f"; return 1; }
	done
	local cmdline
	cmdline=$(tr -d '\n' <"$BOOT/$name.cmdline.txt")
	say "boot $name: cmdline.txt: $cmdline"
	t0=$(date +%s)
	nice -n 10 qemu-system-aarch64 -M virt -cpu cortex-a57 -m 1024 -smp 1 -nographic -no-reboot \
		-kernel "$BOOT/$name.vmlinuz" -initrd "$BOOT/$name.initrd.img" -append "$cmdline panic=-1" \
		-nic none -drive "if=none,format=raw,id=d0,file=$card" -device virtio-blk-device,drive=d0 \
		</dev/null >"$console" 2>&1 &
	qpid=$!
	while kill -0 "$qpid" 2>/dev/null && [ $(($(date +%s) - t0)) -lt "$TIMEOUT" ]; do sleep 5; done
	kill "$qpid" 2>/dev/null && say "boot $name: still running after ${TIMEOUT}s, stopped"
	wait "$qpid" 2>/dev/null || true
	dt=$(($(date +%s) - t0))
	say "boot $name: ${dt}s; REPORT lines:"
	grep -a 'REPORT' "$console" | tr -d '\r' | sed 's/^/  /'
	for e in "$@"; do
		grep -Eaq "$e" "$console" || { say "boot $name: missing on the console: $e"; bad=1; }
	done
	if [ "$bad" = 1 ]; then
		say "the end of the console ($console):"
		tail -n 40 "$console" | tr -d '\r'
		return 1
	fi
	stamp "boot-$name" "$dt"
}

# 4. Flash two cards with per-card settings.
has_step flash || exit 0

ssh-keygen -q -t ed25519 -N '' -C "test-boot@pistudio" -f "$BOOT/id_test"
KEYBODY=$(cut -d' ' -f2 "$BOOT/id_test.pub")
KEYFP=$(ssh-keygen -lf "$BOOT/id_test.pub" | cut -d' ' -f2)
# The fingerprint as an extended regex (base64 holds + and /).
KEYFP_RE=$(printf '%s' "$KEYFP" | sed 's/[][\\.*^$+?(){}|]/\\&/g')

# Secrets that must never reach a card in plain text.
PASSWORD="pistudio-test-$RANDOM-pw"
PSK="pistudio-test-$RANDOM-psk"
WIFI_SSID=lab-net
printf '%s\n' "$PASSWORD" >"$BOOT/password"
printf '%s\n' "$PSK" >"$BOOT/psk"

LOOPS=()
cleanup() {
	for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null || true; done
}
trap cleanup EXIT
size=$(stat -c %s "$IMG")
for n in 1 2; do
	truncate -s 0 "$BOOT/disk$n.raw"
	truncate -s $((size + 64 * 1024 * 1024)) "$BOOT/disk$n.raw"
	l=$(losetup -f --show "$BOOT/disk$n.raw")
	case $l in /dev/loop[0-9]*) ;; *) say "losetup returned $l"; exit 1 ;; esac
	LOOPS+=("$l")
done
say "loop devices: ${LOOPS[*]}"
t0=$(date +%s)
"$PIST" flash "$IMG" "${LOOPS[@]}" --hostname 'pi-{n}' --user "$USER_NAME" \
	--password-file "$BOOT/password" --ssh-key "$BOOT/id_test.pub" \
	--wifi-ssid "$WIFI_SSID" --wifi-psk-file "$BOOT/psk" --wifi-country DE \
	--timezone "$TZ_WANT" --locale "$LOCALE_WANT" --yes
stamp flash-2 $(($(date +%s) - t0))
for n in 1 2; do
	dd if="${LOOPS[$((n - 1))]}" of="$BOOT/card$n.img" bs=4M conv=sparse status=none
	losetup -d "${LOOPS[$((n - 1))]}"
done
LOOPS=()
rm -f "$BOOT"/disk?.raw

# 5. Boot each card.
fails=0
for n in 1 2; do
	card=$BOOT/card$n.img
	fat=$(fat_of "$card")
	if ! mtype -i "$fat" ::user-data 2>/dev/null | grep -q "$KEYBODY"; then
		say "card $n: the FAT holds no user-data with the key before boot"
		fails=$((fails + 1))
		continue
	fi
	# What the seed holds instead of the secrets: the password's hash and
	# the Wi-Fi key derived from the passphrase; the plain text never.
	hash=$(mtype -i "$fat" ::user-data | sed -n 's/^ *passwd: "\(.*\)"$/\1/p')
	wkey=$(mtype -i "$fat" ::network-config 2>/dev/null | sed -n 's/^ *password: "\(.*\)"$/\1/p')
	if [ -z "$hash" ] || [ -z "$wkey" ]; then
		say "card $n: the seed holds no password hash ($hash) or no derived Wi-Fi key ($wkey)"
		fails=$((fails + 1))
		continue
	fi
	if fat_bytes "$card" | grep -aqF -e "$PASSWORD" -e "$PSK"; then
		say "card $n: the FAT holds the password or the Wi-Fi passphrase in plain text"
		fails=$((fails + 1))
		continue
	fi
	boot "card$n" "$card" \
		"REPORT hostname=pi-$n\b" \
		"REPORT user=$USER_NAME key=$KEYFP_RE" \
		"REPORT timezone=$TZ_WANT" \
		"REPORT password=$USER_NAME \\\$(y|6)\\\$" \
		"REPORT wifi=\"?$WIFI_SSID" \
		"REPORT scrub=yes success" \
		"REPORT locale=LANG=\"?$LOCALE_WANT" \
		'REPORT done' || { fails=$((fails + 1)); continue; }
	# The seed's secrets are gone from the FAT (overwritten in place).
	if fat_bytes "$card" | grep -aqF -e "$KEYBODY" -e "$hash" -e "$wkey"; then
		say "card $n: the FAT still holds the seed's key, password hash or Wi-Fi key after first boot"
		fails=$((fails + 1))
	else
		say "card $n: the FAT holds no copy of the seed's key, password hash or Wi-Fi key after first boot"
	fi
done
[ "$fails" = 0 ] || { say "$fails card(s) failed"; exit 1; }
say "ok; times in $TIMES, consoles in $BOOT"
