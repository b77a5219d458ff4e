// Package firstboot writes settings (hostname, user, SSH keys, Wi-Fi,
// locale, keyboard, timezone) onto the FAT boot partition of a freshly
// written disk, in the format the image's first-boot reader understands.
//
// The model is one Settings struct whose fields validate on their own
// (CheckField, Settings.Validate); a Format names a reader ("cloudinit",
// "rpi-preseed", "systemd", the names Raspberry Pi Imager uses for
// init_format) and Detect tells which one an image file carries, or why
// none is known. Render turns Settings into the reader's files (a
// Payload), Apply writes a Payload into the boot partition of a disk or
// an image file without mounting it and reads it back. Expand gives each
// of several targets its own Settings (a pattern such as "pi-{n}", or a
// CSV of per-target values), and Profiles keeps named settings in the
// user's config dir with secrets stored only hashed.
//
// Secrets never reach the FAT in plain text: a password is hashed on the
// host (SHA-512 crypt, line breaks stripped first), a Wi-Fi passphrase is
// stored as its derived key (PBKDF2-HMAC-SHA1, the 64-hex-digit PSK) and
// the cloud-init files ask the image to overwrite the seed after its
// first boot.
package firstboot
