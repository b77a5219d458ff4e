# Shared by make test-real (test/real/run.sh) and make test-boot
# (test/boot/run.sh); sourced after the script defines say() and an array
# missing=().

# need_arm64_binfmt adds to missing what qemu-user needs to run arm64
# programs: binfmt_misc mounted and qemu-user-static's arm64 entry enabled.
need_arm64_binfmt() {
	if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
		missing+=("binfmt_misc is not mounted: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc")
	elif ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
		missing+=("qemu-user-static's arm64 binfmt entry is not enabled: update-binfmts --enable qemu-aarch64")
	fi
}

# stop_if_missing lists everything in missing and exits 2, if anything is.
stop_if_missing() {
	[ ${#missing[@]} -gt 0 ] || return 0
	say "cannot run; missing:"
	for m in "${missing[@]}"; do echo "  - $m"; done
	exit 2
}

# fat_of FILE: the mtools image spec of FILE's first partition.
fat_of() {
	local start
	start=$(sfdisk -d "$1" | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | head -n1)
	[ -n "$start" ] || { say "no partition table in $1"; return 1; }
	echo "$1@@$((start * 512))"
}

# fat_bytes FILE: every byte of FILE's first partition, free space too.
fat_bytes() {
	local start psize
	start=$(sfdisk -d "$1" | sed -n 's/.*start= *\([0-9]*\).*/\1/p' | head -n1)
	psize=$(sfdisk -d "$1" | sed -n 's/.*size= *\([0-9]*\).*/\1/p' | head -n1)
	dd if="$1" bs=512 skip="$start" count="$psize" status=none
}
