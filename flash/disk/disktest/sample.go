package disktest

import "testing"

const gib = 1 << 30

// USBStick is a 32 GB USB stick with a Raspberry Pi OS on it (vfat
// bootfs, ext4 rootfs), known to udev.
func USBStick(name string, minor uint32, parent string) Disk {
	return Disk{
		Name: name, Major: 8, Minor: minor, Sectors: 32e9 / 512, Parent: parent, Removable: true,
		DeviceFiles: map[string]string{"vendor": "SanDisk ", "model": "Ultra Fit       "},
		Udev: map[string]string{"ID_BUS": "usb", "ID_MODEL": "Ultra_Fit", "ID_MODEL_ENC": `Ultra\x20Fit\x20\x20\x20\x20`,
			"ID_SERIAL_SHORT": "4C530001230", "ID_PATH": "pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0"},
		Parts: []Part{
			{Sectors: (512 << 20) / 512, Udev: map[string]string{"ID_FS_TYPE": "vfat", "ID_FS_LABEL": "bootfs", "ID_FS_UUID": "1234-ABCD"}},
			{Sectors: 4 * gib / 512, Udev: map[string]string{"ID_FS_TYPE": "ext4", "ID_FS_LABEL": "rootfs"}},
		},
	}
}

// Sample builds one fake machine with every kind of disk the safety rules
// cover: see the comments inside for each disk's expected classification.
func Sample(t testing.TB) *Tree {
	tr := New(t)
	// USB stick with a Raspberry Pi OS on it, boot partition automounted.
	tr.AddDisk(USBStick("sdb", 16, USBParent))
	tr.Mount("/dev/sdb1", "/media/pi/bootfs", "vfat")
	// SD card in a USB reader that says removable=0 and has no udev record.
	tr.AddDisk(Disk{Name: "sdc", Major: 8, Minor: 32, Sectors: 64e9 / 512, Parent: USBParent2,
		DeviceFiles: map[string]string{"vendor": "Generic", "model": "STORAGE DEVICE"}})
	// Internal SD slot: mmcblk0 on a PCI mmc host, card names itself.
	tr.AddDisk(Disk{Name: "mmcblk0", Major: 179, Minor: 0, Sectors: 31116288, Parent: MMCParent,
		DeviceFiles: map[string]string{"name": "SN32G", "serial": "0x1a2b3c4d"},
		Parts:       []Part{{Sectors: 1048576}, {Sectors: 30000000}}})
	// eMMC boot area listed beside it.
	tr.AddDisk(Disk{Name: "mmcblk0boot0", Major: 179, Minor: 8, Sectors: 8192, Parent: MMCParent, ReadOnly: true})
	// NVMe system disk.
	tr.AddDisk(Disk{Name: "nvme0n1", Major: 259, Minor: 0, Sectors: 1e12 / 512, Parent: NVMeParent,
		DeviceFiles: map[string]string{"model": "Samsung SSD 980 1TB", "serial": "S64ANS0T"},
		Parts:       []Part{{Sectors: 1048576}, {Sectors: 1e12/512 - 2e6}}})
	tr.Mount("/dev/nvme0n1p2", "/", "ext4")
	tr.Mount("/dev/nvme0n1p1", "/boot/efi", "vfat")
	// SATA data disk with /home.
	tr.AddDisk(Disk{Name: "sda", Major: 8, Minor: 0, Sectors: 2e12 / 512, Parent: SATAParent,
		DeviceFiles: map[string]string{"vendor": "ATA", "model": "WDC WD20EZAZ"},
		Udev:        map[string]string{"ID_BUS": "ata", "ID_MODEL": "WDC_WD20EZAZ"},
		Parts:       []Part{{Sectors: 2e12/512 - 4096}}})
	tr.Mount("/dev/sda1", "/home", "ext4")
	// Root on LVM over a SATA disk: sdd2 -> dm-0 (vg-root) mounted at /,
	// dm-1 (vg-swap) used as swap.
	tr.AddDisk(Disk{Name: "sdd", Major: 8, Minor: 48, Sectors: 500e9 / 512, Parent: "pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0",
		DeviceFiles: map[string]string{"model": "Crucial MX500"},
		Parts: []Part{{Sectors: 1048576}, {Sectors: 500e9/512 - 2e6, Holders: []string{"dm-0", "dm-1"},
			Udev: map[string]string{"ID_FS_TYPE": "LVM2_member"}}}})
	tr.AddDisk(Disk{Name: "dm-0", Major: 254, Minor: 0, Sectors: 400e9 / 512, Files: map[string]string{"dm/name": "vg-root", "slaves/.keep": ""}})
	tr.AddDisk(Disk{Name: "dm-1", Major: 254, Minor: 1, Sectors: 8e9 / 512, Files: map[string]string{"dm/name": "vg-swap"}})
	tr.Mount("/dev/mapper/vg-root", "/", "ext4")
	tr.Swap("/dev/dm-1")
	// Loop device on a file.
	tr.AddDisk(Disk{Name: "loop0", Major: 7, Minor: 0, Sectors: 2 * gib / 512, Files: map[string]string{"loop/backing_file": "/home/pi/test.img"}})
	// Unused loop device: not listed.
	tr.AddDisk(Disk{Name: "loop1", Major: 7, Minor: 1, Sectors: 0})
	tr.AddDisk(Disk{Name: "zram0", Major: 253, Minor: 0, Sectors: 8 * gib / 512})
	tr.AddDisk(Disk{Name: "md0", Major: 9, Minor: 0, Sectors: 100 * gib / 512})
	tr.AddDisk(Disk{Name: "sr0", Major: 11, Minor: 0, Sectors: 0, Removable: true,
		Parent: "pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/2:0:0:0", DeviceFiles: map[string]string{"model": "DVD RW"}})
	// Read-only card in a USB reader (write-protect switch).
	tr.AddDisk(Disk{Name: "sde", Major: 8, Minor: 64, Sectors: 16e9 / 512, Parent: "pci0000:00/0000:00:14.0/usb2/2-3/2-3:1.0/host8/target8:0:0/8:0:0:0",
		Removable: true, ReadOnly: true, Udev: map[string]string{"ID_MODEL": "SD_Reader"}})
	// 2 TB USB disk.
	tr.AddDisk(Disk{Name: "sdf", Major: 8, Minor: 80, Sectors: 2e12 / 512, Parent: "pci0000:00/0000:00:14.0/usb3/3-1/3-1:1.0/host9/target9:0:0/9:0:0:0",
		Udev: map[string]string{"ID_MODEL": "Expansion_HDD", "ID_MODEL_ENC": `Expansion\x20HDD`, "ID_VENDOR": "Seagate", "ID_SERIAL_SHORT": "NAAB1234"}})
	// Empty card reader slot.
	tr.AddDisk(Disk{Name: "sdg", Major: 8, Minor: 96, Sectors: 0, Removable: true, Parent: "pci0000:00/0000:00:14.0/usb2/2-4/2-4:1.0/host10/target10:0:0/10:0:0:0"})
	// Swap partition on an otherwise eligible USB disk.
	tr.AddDisk(Disk{Name: "sdh", Major: 8, Minor: 112, Sectors: 64e9 / 512, Parent: "pci0000:00/0000:00:14.0/usb2/2-5/2-5:1.0/host11/target11:0:0/11:0:0:0",
		Parts: []Part{{Sectors: 2 * gib / 512}}})
	tr.Swap("/dev/sdh1")
	return tr
}
