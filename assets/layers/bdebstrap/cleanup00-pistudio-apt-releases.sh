#!/bin/sh
# Pi Image Studio: keep the InRelease files apt installed this filesystem
# from, before rpi-image-gen's cleanup empties /var/lib/apt/lists. They go
# to <chroot-dir>/apt-releases/ beside the filesystem (never into it);
# pistudio compares them with what the archive serves before it reuses the
# filesystem for a later build of the same inputs.
#
# $1 is the filesystem being built (rpi-image-gen runs the -S dir's
# bdebstrap/cleanup* hooks before its own).
set -eu
fs=$1
dst=${IGconf_target_dir:-$(dirname "$fs")}/apt-releases
rm -rf "$dst"
mkdir -p "$dst"
for f in "$fs"/var/lib/apt/lists/*InRelease "$fs"/var/lib/apt/lists/*_Release; do
	[ -f "$f" ] && cp "$f" "$dst/"
done
exit 0
