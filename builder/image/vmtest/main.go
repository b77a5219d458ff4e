// Command vmtest prepares the RAID sets that `make test-vm` boots: a small
// root filesystem tree with a random blob, built natively as a RAID1 set of
// two members and a RAID0 set of three. It prints the blob's path inside the
// root filesystem and its SHA-256, which the booted kernel must reproduce
// from the assembled array.
//
// Usage: go run ./builder/image/vmtest -out DIR
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pistudio/pistudio/builder/image"
	"github.com/pistudio/pistudio/internal/manifest"
)

// BlobPath is the file the VM hashes.
const BlobPath = "/usr/share/vmtest/blob"

func main() {
	out := flag.String("out", "", "output `DIR`")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: vmtest -out DIR")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "vmtest:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	root := filepath.Join(out, "rootfs")
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	blob := make([]byte, 3<<20+12345)
	if _, err := rand.Read(blob); err != nil {
		return err
	}
	files := map[string][]byte{
		"boot/firmware/cmdline.txt": []byte("console=serial0,115200 console=tty1 root=PARTUUID=00000000-02 rootwait\n"),
		"boot/firmware/config.txt":  []byte("auto_initramfs=1\n"),
		"etc/hostname":              []byte("vmtest\n"),
		BlobPath[1:]:                blob,
	}
	for p, b := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return err
		}
	}
	for _, s := range []image.Spec{
		{Layout: manifest.LayoutRAID, Name: "raid1", Hostname: "vmtest", Level: "RAID1", Devices: 2, SDCardSize: 80 << 20, ExternalSize: 64 << 20},
		{Layout: manifest.LayoutRAID, Name: "raid0", Hostname: "vmtest", Level: "RAID0", Devices: 3, SDCardSize: 80 << 20, ExternalSize: 48 << 20},
	} {
		if _, err := image.Build(context.Background(), s, root, filepath.Join(out, s.Name), nil); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(blob)
	fmt.Printf("%s %s\n", BlobPath, hex.EncodeToString(sum[:]))
	return nil
}
