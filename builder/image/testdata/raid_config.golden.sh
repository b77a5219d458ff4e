#!/bin/sh
# raid_config.sh - first-boot helper for the RAID set "raid-test" written by
# Pi Image Studio. It
#   1. finds the array 0badc0de:01234567:89abcdef:00112233 (assembling it by UUID if needed) and checks
#      that it is running and clean;
#   2. records it in /etc/mdadm/mdadm.conf (and refreshes the initramfs);
#   3. for RAID1 on disks bigger than the image, grows each member partition,
#      the array and the ext4 filesystem to the smallest member.
# Running it again changes nothing. It only ever touches block devices that
# the running array lists as its members AND whose md superblock carries the
# array UUID above.
set -eu

ARRAY_UUID="0badc0de:01234567:89abcdef:00112233"
LEVEL="RAID1"
DEVICES="2"
SET_NAME="raid-device:0"
CONF=/etc/mdadm/mdadm.conf
STAMP=/var/lib/pistudio/raid-configured

log() { echo "raid_config: $*"; }
die() { echo "raid_config: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
command -v mdadm >/dev/null 2>&1 || die "mdadm is not installed"

uuid_of_md() { mdadm --detail --export "$1" 2>/dev/null | sed -n 's/^MD_UUID=//p'; }
uuid_of_member() { mdadm --examine --export "$1" 2>/dev/null | sed -n 's/^MD_UUID=//p'; }

find_array() {
	for d in /dev/md[0-9]* /dev/md/*; do
		[ -b "$d" ] || continue
		if [ "$(uuid_of_md "$d")" = "$ARRAY_UUID" ]; then
			readlink -f "$d"
			return 0
		fi
	done
	return 1
}

# 1. The array is assembled and clean.
md=$(find_array || true)
if [ -z "$md" ]; then
	log "array $ARRAY_UUID is not running: assembling it by UUID"
	mdadm --assemble --scan --uuid="$ARRAY_UUID" || die "cannot assemble array $ARRAY_UUID"
	md=$(find_array) || die "array $ARRAY_UUID did not appear"
fi
name=${md##*/}
state=$(cat "/sys/block/$name/md/array_state")
case "$state" in
	clean|active|active-idle|write-pending|read-auto) ;;
	*) die "array $md is $state" ;;
esac
degraded=$(cat "/sys/block/$name/md/degraded" 2>/dev/null || echo 0)
if [ "$degraded" != 0 ]; then
	log "WARNING: $md runs degraded ($degraded of $DEVICES members missing)"
fi
sync_action=$(cat "/sys/block/$name/md/sync_action" 2>/dev/null || echo idle)
log "$md: $LEVEL, $DEVICES devices, state $state, sync $sync_action"

# The members, as the array itself lists them, each checked by UUID.
members=""
for m in /sys/block/"$name"/md/dev-*; do
	[ -e "$m" ] || continue
	dev=/dev/${m##*/dev-}
	[ -b "$dev" ] || continue
	[ "$(uuid_of_member "$dev")" = "$ARRAY_UUID" ] || die "$dev is in $md but does not carry UUID $ARRAY_UUID: not touching it"
	members="$members $dev"
done
[ -n "$members" ] || die "no members found for $md"

# 2. Record the array in mdadm.conf.
line="ARRAY /dev/md0 metadata=1.2 UUID=$ARRAY_UUID name=$SET_NAME"
mkdir -p "${CONF%/*}"
touch "$CONF"
if ! grep -q "UUID=$ARRAY_UUID" "$CONF"; then
	echo "$line" >>"$CONF"
	log "recorded the array in $CONF"
	if command -v update-initramfs >/dev/null 2>&1; then
		update-initramfs -u || log "WARNING: update-initramfs failed"
	fi
fi

# 3. RAID1: use all of each member's disk.
if [ "$LEVEL" = RAID1 ]; then
	for dev in $members; do
		part=${dev##*/}
		[ -e "/sys/class/block/$part/partition" ] || continue
		disk=$(basename "$(readlink -f "/sys/class/block/$part/..")")
		num=$(cat "/sys/class/block/$part/partition")
		start=$(cat "/sys/class/block/$part/start")
		psize=$(cat "/sys/class/block/$part/size")
		dsize=$(cat "/sys/block/$disk/size")
		# Only the last partition of its disk can grow.
		if [ $((start + psize + 2048)) -lt "$dsize" ]; then
			if command -v growpart >/dev/null 2>&1; then
				growpart "/dev/$disk" "$num" && log "grew /dev/$disk partition $num"
			elif command -v sfdisk >/dev/null 2>&1; then
				echo ", +" | sfdisk --no-reread -q -N "$num" "/dev/$disk" && partx -u "/dev/$disk" &&
					log "grew /dev/$disk partition $num"
			else
				log "cannot grow /dev/$disk partition $num: neither growpart nor sfdisk is installed"
			fi
		fi
		# Let md see the member's new size.
		echo 0 >"/sys/block/$name/md/dev-$part/size" 2>/dev/null || true
	done
	before=$(cat "/sys/block/$name/size")
	mdadm --grow "$md" --size=max >/dev/null 2>&1 || true
	after=$(cat "/sys/block/$name/size")
	if [ "$after" -gt "$before" ]; then
		log "grew $md from $before to $after sectors"
	fi
	if command -v resize2fs >/dev/null 2>&1; then
		resize2fs "$md" >/dev/null 2>&1 && log "ext4 on $md fills the array"
	fi
fi

mkdir -p "${STAMP%/*}"
touch "$STAMP"
log "done"
