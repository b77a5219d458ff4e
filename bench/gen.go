package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// The inputs are generated from fixed seeds, so every run (and every
// machine) measures the same bytes. Data blocks mix incompressible bytes
// (like the compressed files, firmware and binaries of an OS image),
// text-like bytes (configs, scripts, docs) and written zeros; between the
// data extents the images have holes, as images made by genimage or the
// native stage do.

// content fills buffers with the mix of an OS image's data.
type content struct {
	rng  *rand.Rand
	cha  *rand.ChaCha8
	word [][]byte
}

func newContent(seed uint64) *content {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	c := &content{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cha: rand.NewChaCha8(s)}
	for _, w := range []string{
		"the", "of", "and", "lib", "usr", "share", "debian", "arm64", "package", "install", "config",
		"systemd", "service", "kernel", "module", "firmware", "raspberry", "pi", "boot", "root",
		"#include", "<stdio.h>", "return", "if", "else", "for", "while", "static", "const", "struct",
		"0x00", "0xff", "=", "{", "}", ";", "\n", "\n", "\n", "\t", "  ", "/etc/", "README", "Copyright",
		"GNU", "General", "Public", "License", "version", "2", "3", "http://www.debian.org/", "echo",
		"fi", "then", "done", "do", "case", "esac", "local", "$1", "\"$@\"", "exit", "1", "0",
	} {
		c.word = append(c.word, []byte(w+" "))
	}
	return c
}

// random fills p with incompressible bytes.
func (c *content) random(p []byte) { c.cha.Read(p) }

// text fills p with text-like bytes (compresses about 4:1).
func (c *content) text(p []byte) {
	i := 0
	for i < len(p) {
		w := c.word[c.rng.IntN(len(c.word))]
		i += copy(p[i:], w)
	}
}

// block fills a 64 KiB block: 40% random, 50% text, 10% zeros.
func (c *content) block(p []byte) {
	switch r := c.rng.IntN(10); {
	case r < 4:
		c.random(p)
	case r < 9:
		c.text(p)
	default:
		clear(p)
	}
}

const genBlock = 64 << 10

// genImage writes a raw disk image of size bytes holding about data bytes
// of data in extents of 256 KiB to 24 MiB, holes between them, and an MBR.
func genImage(path string, size, data int64, seed uint64) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	c := newContent(seed)
	// An MBR: a FAT32 boot partition at 8 MiB and a Linux partition after it.
	mbr := make([]byte, 512)
	binary.LittleEndian.PutUint32(mbr[440:], uint32(seed))
	part := func(i int, typ byte, start, n int64) {
		e := mbr[446+16*i:]
		e[4] = typ
		binary.LittleEndian.PutUint32(e[8:], uint32(start/512))
		binary.LittleEndian.PutUint32(e[12:], uint32(n/512))
	}
	bootEnd := int64(8<<20) + max(size/16, 64<<20)
	part(0, 0x0C, 8<<20, bootEnd-(8<<20))
	part(1, 0x83, bootEnd, size-bootEnd)
	mbr[446] = 0x80
	mbr[510], mbr[511] = 0x55, 0xAA
	if _, err := f.WriteAt(mbr, 0); err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	pos, left := int64(8<<20), data-512
	for left > 0 && pos < size {
		n := (256<<10 + c.rng.Int64N(24<<20)) &^ (genBlock - 1)
		n = min(n, left, size-pos)
		n = (n + genBlock - 1) &^ (genBlock - 1)
		if pos+n > size {
			n = (size - pos) &^ (genBlock - 1)
			if n == 0 {
				break
			}
		}
		for done := int64(0); done < n; {
			m := min(int64(len(buf)), n-done)
			for i := int64(0); i < m; i += genBlock {
				c.block(buf[i : i+genBlock])
			}
			if _, err := f.WriteAt(buf[:m], pos+done); err != nil {
				return err
			}
			done += m
		}
		pos += n
		left -= n
		// The hole after it keeps the data spread over the whole image.
		if left > 0 {
			space := size - pos
			avg := float64(n) * float64(space-left) / float64(left)
			h := int64(avg*(0.5+c.rng.Float64())) &^ (genBlock - 1)
			pos += max(0, min(h, space-left))
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// genRootfs writes a root filesystem tree of about total bytes into dir:
// boot/firmware with a kernel, an initramfs, device trees and overlays,
// /etc with the files the image stage edits, and a /usr of files with a
// long-tailed size distribution (median ~5 KiB, up to 8 MiB).
func genRootfs(dir string, total int64, seed uint64) error {
	stamp := dir + ".done"
	if _, err := os.Stat(stamp); err == nil {
		return nil
	}
	os.RemoveAll(dir)
	c := newContent(seed)
	var written int64
	write := func(rel string, n int64, random float64) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		buf := make([]byte, min(n, genBlock))
		for left := n; left > 0; {
			m := min(left, int64(len(buf)))
			if c.rng.Float64() < random {
				c.random(buf[:m])
			} else {
				c.text(buf[:m])
			}
			w.Write(buf[:m])
			left -= m
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		written += n
		return f.Close()
	}
	text := func(rel, s string) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(s), 0o644)
	}
	fw := "boot/firmware/"
	if err := text(fw+"cmdline.txt", "console=serial0,115200 console=tty1 root=PARTUUID=00000000-02 rootfstype=ext4 fsck.repair=yes rootwait\n"); err != nil {
		return err
	}
	if err := text(fw+"config.txt", "arm_64bit=1\ndtparam=audio=on\ncamera_auto_detect=1\ndisplay_auto_detect=1\nauto_initramfs=1\n"); err != nil {
		return err
	}
	bootScale := float64(total) / float64(300<<20)
	files := []struct {
		name   string
		size   int64
		random float64
	}{
		{"kernel8.img", 9 << 20, 0.95}, {"kernel_2712.img", 9 << 20, 0.95},
		{"initramfs8", 11 << 20, 1}, {"start4.elf", 2 << 20, 0.9}, {"fixup4.dat", 5 << 10, 0.5},
	}
	for _, f := range files {
		if err := write(fw+f.name, max(int64(float64(f.size)*bootScale), 4096), f.random); err != nil {
			return err
		}
	}
	for i := 0; i < 24; i++ {
		if err := write(fmt.Sprintf("%sbcm27%02d-rpi-%d.dtb", fw, i, i), 40<<10+c.rng.Int64N(40<<10), 0.5); err != nil {
			return err
		}
	}
	for i := 0; i < 160; i++ {
		if err := write(fmt.Sprintf("%soverlays/ov%03d.dtbo", fw, i), 1<<10+c.rng.Int64N(6<<10), 0.5); err != nil {
			return err
		}
	}
	for rel, s := range map[string]string{
		"etc/fstab":    "proc /proc proc defaults 0 0\nPARTUUID=00000000-01 /boot/firmware vfat defaults 0 2\nPARTUUID=00000000-02 / ext4 defaults,noatime 0 1\n",
		"etc/hostname": "pi\n", "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
		"etc/mdadm/mdadm.conf": "HOMEHOST <system>\n",
	} {
		if err := text(rel, s); err != nil {
			return err
		}
	}
	dirs := []string{"usr/lib/aarch64-linux-gnu", "usr/bin", "usr/sbin", "usr/share/doc", "usr/share/locale",
		"usr/lib/python3/dist-packages", "usr/lib/firmware", "usr/lib/modules/6.6.51+rpt-rpi-v8/kernel/drivers",
		"usr/share/man/man1", "var/lib/dpkg/info", "etc/systemd/system", "usr/include"}
	for i := 0; written < total; i++ {
		d := dirs[c.rng.IntN(len(dirs))]
		sub := fmt.Sprintf("%s/d%02d", d, c.rng.IntN(30))
		size := int64(math.Exp(8.5 + 1.8*c.rng.NormFloat64()))
		size = min(max(size, 16), 8<<20, total-written+16)
		random := 0.2
		if d == "usr/lib/aarch64-linux-gnu" || d == "usr/bin" || d == "usr/lib/firmware" || d == "usr/lib/modules/6.6.51+rpt-rpi-v8/kernel/drivers" {
			random = 0.6
		}
		rel := fmt.Sprintf("%s/f%05d", sub, i)
		if err := write(rel, size, random); err != nil {
			return err
		}
		if i%25 == 0 {
			os.Symlink(filepath.Base(rel), filepath.Join(dir, rel+".link"))
		}
	}
	return os.WriteFile(stamp, nil, 0o644)
}

// genLines writes n log lines shaped like rpi-image-gen's output: apt and
// mmdebstrap lines, colour-coded [SET] lines, progress lines redrawn with
// carriage returns, and stage headers.
func genLines(path string, n int, seed uint64) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(seed, 7))
	pkgs := []string{"libc6", "libssl3", "systemd", "raspi-firmware", "linux-image-rpi-v8", "python3.11", "mdadm", "initramfs-tools", "libstdc++6", "coreutils"}
	for i := 0; i < n; i++ {
		p := pkgs[rng.IntN(len(pkgs))]
		switch r := rng.IntN(100); {
		case r < 60:
			fmt.Fprintf(w, "Get:%d http://deb.debian.org/debian bookworm/main arm64 %s arm64 %d.%d.%d-%d [%d kB]\n", i, p, rng.IntN(9), rng.IntN(20), rng.IntN(9), rng.IntN(5), rng.IntN(9000))
		case r < 85:
			fmt.Fprintf(w, "Setting up %s:arm64 (%d.%d-%d) ...\n", p, rng.IntN(9), rng.IntN(99), rng.IntN(9))
		case r < 93:
			fmt.Fprintf(w, "\033[32m[SET]\033[0m IGconf_%s_%d=%d\n", p, i, rng.IntN(1000))
		case r < 99:
			fmt.Fprintf(w, "Progress: [ %d%%]\r\033[K  %s unpacked\n", rng.IntN(100), p)
		default:
			fmt.Fprintf(w, "\n\033[1m==> stage_%d\033[0m\n", i)
			i++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
