package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/image/md"
	"github.com/pistudio/pistudio/flash/sparse"
	"github.com/pistudio/pistudio/internal/manifest"
)

type chachaReader struct{ r *rand.ChaCha8 }

func (c chachaReader) Read(p []byte) (int, error) { return c.r.Read(p) }

func fixedRand(seed byte) chachaReader { return chachaReader{rand.NewChaCha8([32]byte{seed})} }

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

const testCmdline = "console=serial0,115200 console=tty1 root=PARTUUID=deadbeef-02 rootfstype=ext4 fsck.repair=yes quiet\n"

// makeRootfs writes a small root filesystem tree.
func makeRootfs(t *testing.T, mdadmConf string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "filesystem")
	rng := rand.New(rand.NewPCG(7, 8))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	files := map[string][]byte{
		"boot/firmware/cmdline.txt":        []byte(testCmdline),
		"boot/firmware/config.txt":         []byte("auto_initramfs=1\narm_64bit=1\n"),
		"boot/firmware/kernel_2712.img":    blob(3 << 20),
		"boot/firmware/overlays/test.dtbo": blob(5000),
		"etc/fstab":                        []byte("proc /proc proc defaults 0 0\n/dev/disk/by-slot/system / ext4 rw 0 1\n"),
		"etc/hostname":                     []byte("raid-device\n"),
		"usr/bin/hello":                    blob(2<<20 + 17),
		"var/lib/empty/.keep":              nil,
	}
	if mdadmConf != "" {
		files["etc/mdadm/mdadm.conf"] = []byte(mdadmConf)
	}
	for p, b := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("hello", filepath.Join(dir, "usr/bin/hi")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// treeSum fingerprints a directory tree (names, modes, contents, links).
func treeSum(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			h.Write([]byte(l))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// extract copies [start, start+size) of img into a new holey file.
func extract(t *testing.T, img string, start, size int64) string {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(t.TempDir(), filepath.Base(img)+fmt.Sprintf(".part%d", start))
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Truncate(size); err != nil {
		t.Fatal(err)
	}
	exts, err := sparse.DataExtents(f, start+size)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exts {
		s, end := max(e.Off, start), min(e.Off+e.Len, start+size)
		if s >= end {
			continue
		}
		b := make([]byte, end-s)
		if _, err := f.ReadAt(b, s); err != nil {
			t.Fatal(err)
		}
		if _, err := o.WriteAt(b, s-start); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkSparseTwins expands every .sparse with simg2img and compares it
// with its .img (or returns the expansion for partition images).
func checkArtifacts(t *testing.T, dir string, m *manifest.Manifest) map[string]string {
	t.Helper()
	expanded := map[string]string{}
	for _, a := range m.Artifacts {
		p := filepath.Join(dir, a.File)
		size, sum, err := hashFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if size != a.Size || sum != a.SHA256 {
			t.Errorf("%s: manifest says %d bytes %s, file is %d bytes %s", a.File, a.Size, a.SHA256, size, sum)
		}
		if a.Kind != manifest.KindSparse {
			continue
		}
		out := filepath.Join(t.TempDir(), strings.TrimSuffix(a.File, ".sparse"))
		run(t, "simg2img", p, out)
		expanded[a.File] = out
		raw := strings.TrimSuffix(p, ".sparse")
		if _, err := os.Stat(raw); err == nil {
			if run(t, "cmp", raw, out) != "" {
				t.Errorf("%s does not expand to %s", a.File, filepath.Base(raw))
			}
		}
		// Our own reader agrees with simg2img.
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		mine := out + ".mine"
		o, _ := os.Create(mine)
		sr, err := sparse.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		o.Truncate(sr.Size())
		f.Seek(0, 0)
		if _, err := sparse.Expand(o, f); err != nil {
			t.Fatalf("%s: %v", a.File, err)
		}
		o.Close()
		f.Close()
		run(t, "cmp", out, mine)
	}
	for role, f := range m.Roles {
		if a := m.Artifact(f); a == nil || a.Kind != manifest.KindDisk || a.Role != role {
			t.Errorf("role %s -> %s is not a disk image of that role", role, f)
		}
	}
	return expanded
}

func debugfsCat(t *testing.T, img, path string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat "+path, img).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

func TestBuildRAID(t *testing.T) {
	needTools(t, "mke2fs", "debugfs", "e2fsck", "mkfs.vfat", "fsck.vfat", "mcopy", "mdadm", "simg2img", "cmp")
	for _, tc := range []struct {
		level string
		n     int
		ext   int64
		conf  string
	}{
		{"RAID1", 2, 72 << 20, ""},
		{"RAID0", 3, 48<<20 + 1000, "HOMEHOST <system>\nARRAY /dev/md0 metadata=1.2 UUID=0badc0de:01234567:89abcdef:00112233 name=stage1:0\n"},
	} {
		t.Run(tc.level, func(t *testing.T) {
			fsDir := makeRootfs(t, tc.conf)
			before := treeSum(t, fsDir)
			out := filepath.Join(t.TempDir(), "image-raid-test")
			var stages []string
			spec := Spec{Layout: manifest.LayoutRAID, Name: "raid-test", Hostname: "raid-device", Level: tc.level, Devices: tc.n,
				SDCardSize: 80 << 20, ExternalSize: tc.ext, Rand: fixedRand(1), Now: func() time.Time { return time.Unix(1800000000, 0) }}
			start := time.Now()
			m, err := Build(context.Background(), spec, fsDir, out, func(p Progress) {
				stages = append(stages, p.Stage)
				if p.Done > p.Total || (p.Stage == "done") != (p.Done == p.Total) {
					t.Errorf("progress %d/%d at stage %s", p.Done, p.Total, p.Stage)
				}
				t.Logf("%6.2fs %s: %s", time.Since(start).Seconds(), p.Stage, p.Message)
			})
			if err != nil {
				t.Fatal(err)
			}
			if treeSum(t, fsDir) != before {
				t.Fatal("Build changed the source root filesystem")
			}
			if len(stages) == 0 || stages[len(stages)-1] != "done" {
				t.Errorf("progress stages %v", stages)
			}
			m2, err := manifest.Read(out)
			if err != nil {
				t.Fatal(err)
			}
			if m2.ArrayUUID != m.ArrayUUID || m2.Level != tc.level || m2.Devices != tc.n || len(m2.Roles) != tc.n+1 {
				t.Fatalf("manifest %+v", m2)
			}
			if tc.conf != "" && m.ArrayUUID != "0badc0de:01234567:89abcdef:00112233" {
				t.Errorf("array UUID %s ignores the stage-1 mdadm.conf", m.ArrayUUID)
			}
			exp := checkArtifacts(t, out, m)

			// SD card: FAT32 boot with the rewritten cmdline.
			sd := m.Artifact("sdcard.img")
			p := sd.Partitions[0]
			if p.Start != Align || p.Type != "0x0c" {
				t.Errorf("sd partition %+v", p)
			}
			boot := extract(t, filepath.Join(out, "sdcard.img"), p.Start, p.Size)
			run(t, "fsck.vfat", "-n", boot)
			cmd := exec.Command("mtype", "-i", boot, "::/cmdline.txt")
			cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
			cl, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			ext4Art := m.Artifact(strings.ToLower(tc.level) + ".ext4.sparse")
			rootUUID := ext4Art.Partitions[0].UUID
			wantCl := "console=serial0,115200 console=tty1 root=UUID=" + rootUUID + " rootfstype=ext4 fsck.repair=yes quiet rootwait\n"
			if string(cl) != wantCl {
				t.Errorf("cmdline.txt = %q, want %q", cl, wantCl)
			}
			mbr := make([]byte, 512)
			f, _ := os.Open(filepath.Join(out, "sdcard.img"))
			f.ReadAt(mbr, 0)
			f.Close()
			if binary.LittleEndian.Uint32(mbr[440:]) == 0 || mbr[510] != 0x55 || mbr[446] != 0x80 || mbr[450] != 0x0C {
				t.Errorf("sd MBR: sig %x boot %x type %x", mbr[440:444], mbr[446], mbr[450])
			}

			// The array's filesystem.
			ext4 := exp[ext4Art.File]
			run(t, "e2fsck", "-fn", ext4)
			if fstab := debugfsCat(t, ext4, "/etc/fstab"); !strings.Contains(fstab, "UUID="+rootUUID+"  /  ext4") ||
				!strings.Contains(fstab, "proc /proc proc") || strings.Contains(fstab, "by-slot") {
				t.Errorf("fstab:\n%s", fstab)
			}
			if conf := debugfsCat(t, ext4, "/etc/mdadm/mdadm.conf"); !strings.Contains(conf, "ARRAY /dev/md0 metadata=1.2 UUID="+m.ArrayUUID) {
				t.Errorf("mdadm.conf:\n%s", conf)
			}
			if ls := run(t, "debugfs", "-R", "ls -l /boot/firmware", ext4); strings.Contains(ls, "config.txt") {
				t.Errorf("/boot/firmware in the root fs is not empty:\n%s", ls)
			}
			hello, _ := os.ReadFile(filepath.Join(fsDir, "usr/bin/hello"))
			if got := debugfsCat(t, ext4, "/usr/bin/hello"); got != string(hello) {
				t.Error("usr/bin/hello differs in the root fs")
			}
			if st := run(t, "debugfs", "-R", "stat /usr/local/sbin/raid_config.sh", ext4); !strings.Contains(st, "Mode:  0755") || !strings.Contains(st, "User:     0") {
				t.Errorf("raid_config.sh in the image:\n%s", st)
			}

			// Members: mdadm agrees, and the data reassembles to the ext4.
			want, err := os.ReadFile(ext4)
			if err != nil {
				t.Fatal(err)
			}
			var memberFiles []*os.File
			var dataOffset int64
			for i := 1; i <= tc.n; i++ {
				a := m.Artifact(fmt.Sprintf("external%d.img", i))
				p := a.Partitions[0]
				if p.Type != "0xfd" || p.UUID != m.ArrayUUID {
					t.Errorf("member partition %+v", p)
				}
				part := extract(t, filepath.Join(out, a.File), p.Start, p.Size)
				ex := run(t, "mdadm", "--examine", part)
				for _, w := range []string{"Array UUID : " + m.ArrayUUID, "Raid Level : " + strings.ToLower(tc.level),
					fmt.Sprintf("Raid Devices : %d", tc.n), "State : clean", "correct", fmt.Sprintf("Device Role : Active device %d", i-1)} {
					if !strings.Contains(ex, w) {
						t.Errorf("member %d: %q missing in\n%s", i, w, ex)
					}
				}
				var off int64
				for _, l := range strings.Split(ex, "\n") {
					if _, err := fmt.Sscanf(strings.TrimSpace(l), "Data Offset : %d sectors", &off); err == nil {
						dataOffset = off * 512
					}
				}
				pf, err := os.Open(part)
				if err != nil {
					t.Fatal(err)
				}
				defer pf.Close()
				memberFiles = append(memberFiles, pf)
			}
			if dataOffset == 0 {
				t.Fatal("no data offset in mdadm --examine output")
			}
			// Flashing the twin writes everything up to the member's data.
			for _, name := range []string{"external1.img.sparse", "sdcard.img.sparse"} {
				f, err := os.Open(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				sr, err := sparse.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				limit := int64(Align)
				if name == "external1.img.sparse" {
					limit += dataOffset
				}
				for {
					c, _, err := sr.Next()
					if err != nil {
						break
					}
					if c.Type == sparse.DontCare && c.Offset < limit {
						t.Errorf("%s: DONT_CARE at %d, below %d", name, c.Offset, limit)
					}
				}
				f.Close()
			}
			got := make([]byte, len(want))
			if tc.level == "RAID1" {
				for i, f := range memberFiles {
					if _, err := f.ReadAt(got, dataOffset); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("member %d does not hold the ext4 image", i)
					}
				}
			} else {
				const c = md.ChunkBytes
				for k := int64(0); k*c < int64(len(want)); k++ {
					f := memberFiles[k%int64(tc.n)]
					if _, err := f.ReadAt(got[k*c:(k+1)*c], dataOffset+(k/int64(tc.n))*c); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(got, want) {
					t.Fatal("RAID0 members do not reassemble to the ext4 image")
				}
			}
			if b, err := exec.Command("sh", "-n", filepath.Join(out, RaidConfigScript)).CombinedOutput(); err != nil {
				t.Errorf("raid_config.sh: %v %s", err, b)
			}
		})
	}
}

func TestBuildRPiOS(t *testing.T) {
	needTools(t, "mke2fs", "debugfs", "e2fsck", "mkfs.vfat", "fsck.vfat", "mcopy", "simg2img", "cmp", "sfdisk")
	fsDir := makeRootfs(t, "")
	out := filepath.Join(t.TempDir(), "out")
	last := Progress{}
	m, err := Build(context.Background(), Spec{Layout: manifest.LayoutRPiOS, Name: "deb12", BootPartPct: 200, RootPartPct: 100, Rand: fixedRand(2)}, fsDir, out,
		func(p Progress) { last = p })
	if last.Stage != "done" || last.Done != last.Total {
		t.Errorf("last progress %+v", last)
	}
	if err != nil {
		t.Fatal(err)
	}
	exp := checkArtifacts(t, out, m)
	img := filepath.Join(out, "deb12.img")
	a := m.Artifact("deb12.img")
	if a == nil || len(a.Partitions) != 2 || m.Roles["sd"] != "deb12.img" {
		t.Fatalf("manifest %+v", m)
	}
	dump := strings.Join(strings.Fields(run(t, "sfdisk", "-d", img)), " ")
	boot, root := a.Partitions[0], a.Partitions[1]
	for _, w := range []string{
		fmt.Sprintf("start= %d, size= %d, type=c, bootable", boot.Start/512, boot.Size/512),
		fmt.Sprintf("start= %d, size= %d, type=83", root.Start/512, root.Size/512),
	} {
		if !strings.Contains(dump, w) {
			t.Errorf("%q missing in\n%s", w, dump)
		}
	}
	if boot.Start%Align != 0 || root.Start%Align != 0 || boot.Size%Align != 0 {
		t.Errorf("partitions not 8 MiB aligned: %+v", a.Partitions)
	}
	run(t, "fsck.vfat", "-n", extract(t, img, boot.Start, boot.Size))
	rootImg := extract(t, img, root.Start, root.Size)
	run(t, "e2fsck", "-fn", rootImg)
	if run(t, "cmp", rootImg, exp["root.ext4.sparse"]) != "" {
		t.Error("root partition differs from root.ext4.sparse")
	}
	if lbl := run(t, "e2label", rootImg); strings.TrimSpace(lbl) != "ROOT" {
		t.Errorf("root label %q", lbl)
	}
	var sig uint32
	fmt.Sscanf(strings.SplitN(strings.SplitN(dump, "label-id: 0x", 2)[1], " ", 2)[0], "%x", &sig)
	if fstab := debugfsCat(t, rootImg, "/etc/fstab"); !strings.Contains(fstab, fmt.Sprintf("PARTUUID=%08x-02  /  ext4", sig)) {
		t.Errorf("fstab (disk signature %08x):\n%s", sig, fstab)
	}
}

func TestBuildTooSmallLeavesNothing(t *testing.T) {
	needTools(t, "mke2fs", "debugfs", "mkfs.vfat", "mcopy")
	fsDir := makeRootfs(t, "")
	// 40 MiB of content cannot fit an array of 24 MiB members.
	if err := os.Truncate(filepath.Join(fsDir, "var/lib/empty/.keep"), 40<<20); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "image-x")
	_, err := Build(context.Background(), Spec{Layout: manifest.LayoutRAID, Name: "x", Level: "RAID1", Devices: 2,
		SDCardSize: 80 << 20, ExternalSize: 24 << 20}, fsDir, out, nil)
	var se *SizeError
	if !errors.As(err, &se) || !errors.Is(err, ErrTooSmall) || se.Need <= se.Have {
		t.Fatalf("err = %v, want a SizeError", err)
	}
	t.Log(err)
	_, err = Build(context.Background(), Spec{Layout: manifest.LayoutRPiOS, Name: "x", RootPartSize: 8 << 20}, fsDir, out, nil)
	if !errors.As(err, &se) || se.Setting != "image.root_part_size" {
		t.Fatalf("err = %v, want a SizeError for image.root_part_size", err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestRewriteCmdline(t *testing.T) {
	cases := []struct{ in, want string }{
		{"console=tty1 root=/dev/mmcblk0p2 rootwait quiet\n", "console=tty1 root=UUID=u rootwait quiet\n"},
		{"console=tty1", "root=UUID=u console=tty1 rootwait\n"},
		{"", "root=UUID=u rootwait\n"},
		{"root=a root=b x", "root=UUID=u x rootwait\n"},
	}
	for _, c := range cases {
		if got := string(rewriteCmdline([]byte(c.in), "UUID=u")); got != c.want {
			t.Errorf("rewriteCmdline(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
