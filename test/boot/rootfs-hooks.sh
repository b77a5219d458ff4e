#!/bin/sh
# mmdebstrap customize hook for make test-boot: $1 is the arm64 rootfs.
# Boots in qemu -M virt from the FAT boot partition's vmlinuz/initrd.img and
# cmdline.txt. The first-boot reader (cloud-init with its NoCloud seed on
# the FAT) comes from our layer's own hooks, which ran before this one.
set -eu
R=$1

# Kernel and initramfs onto the boot partition, now and after every update.
mkdir -p "$R/boot/firmware" "$R/etc/initramfs/post-update.d"
cat >"$R/etc/initramfs/post-update.d/zz-boot-firmware" <<'EOC'
#!/bin/sh
set -e
[ -n "$1" ] && [ -f "/boot/vmlinuz-$1" ] || exit 0
cp "/boot/vmlinuz-$1" /boot/firmware/vmlinuz
cp "${2:-/boot/initrd.img-$1}" /boot/firmware/initrd.img
EOC
chmod 0755 "$R/etc/initramfs/post-update.d/zz-boot-firmware"
for k in "$R"/boot/vmlinuz-*; do
	v=${k##*/vmlinuz-}
	cp "$k" "$R/boot/firmware/vmlinuz"
	cp "$R/boot/initrd.img-$v" "$R/boot/firmware/initrd.img"
done
echo "console=ttyAMA0 root=/dev/vda2 rootfstype=ext4 fsck.repair=yes rootwait" >"$R/boot/firmware/cmdline.txt"
echo "boot-test" >"$R/etc/hostname"

# What the guest sees after cloud-init's final stage, on the console; then
# power off so that the test can read the FAT.
cat >"$R/usr/local/sbin/boot-test-report" <<'EOC'
#!/bin/sh
echo "REPORT hostname=$(hostname)"
echo "REPORT timezone=$(cat /etc/timezone 2>/dev/null) localtime=$(readlink /etc/localtime)"
echo "REPORT locale=$(grep -h '^LANG=' /etc/default/locale 2>/dev/null | head -n1)"
echo "REPORT locales=$(locale -a 2>/dev/null | tr '\n' ' ')"
getent passwd | awk -F: '$3 >= 1000 && $3 < 60000 {print $1 ":" $6}' | while IFS=: read -r u h; do
	if [ -s "$h/.ssh/authorized_keys" ]; then
		grep -v '^#' "$h/.ssh/authorized_keys" | grep . | while read -r line; do
			echo "REPORT user=$u key=$(echo "$line" | ssh-keygen -lf - | cut -d' ' -f2)"
		done
	else
		echo "REPORT user=$u key=none"
	fi
done
getent shadow | awk -F: '$2 ~ /^\$/ {print "REPORT password=" $1 " " substr($2, 1, 3)}'
echo "REPORT wifi=$(sed -n '/access-points:/{n;s/^ *//;s/:.*//;p}' /etc/netplan/*.yaml 2>/dev/null | head -n1)"
echo "REPORT scrub=$(systemctl show -p ConditionResult --value pistudio-firstboot-scrub.service) $(systemctl show -p Result --value pistudio-firstboot-scrub.service)"
echo "REPORT cloud-init: $(cloud-init status 2>/dev/null | tr '\n' ' ')"
echo "REPORT seed files: $(ls /boot/firmware | tr '\n' ' ')"
echo "REPORT done"
sync
systemctl --no-block poweroff
EOC
chmod 0755 "$R/usr/local/sbin/boot-test-report"
cat >"$R/etc/systemd/system/boot-test-report.service" <<'EOC'
[Unit]
Description=Report the first-boot settings on the console (test image)
After=multi-user.target cloud-final.service pistudio-firstboot-scrub.service
Wants=cloud-final.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/boot-test-report
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOC
mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/boot-test-report.service "$R/etc/systemd/system/multi-user.target.wants/boot-test-report.service"
# A root without password is not needed; keep the image's root locked.
