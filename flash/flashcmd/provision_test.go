package flashcmd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/manifest"
)

// provisionSet writes a RAID set of random images with image.json.
func provisionSet(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	m := manifest.Manifest{Layout: manifest.LayoutRAID, Name: "cli-set", Level: "RAID1", Devices: n,
		ArrayUUID: "0badc0de:01234567:89abcdef:00112233", Roles: map[string]string{}}
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	add := func(role, file string) {
		b := make([]byte, 3<<20)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[510], b[511] = 0x55, 0xaa
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		m.Roles[role] = file
		m.Artifacts = append(m.Artifacts, manifest.Artifact{File: file, Kind: manifest.KindDisk, Role: role, Size: int64(len(b)), SHA256: hex.EncodeToString(h[:])})
	}
	add("sd", "sdcard.img")
	for i := 1; i <= n; i++ {
		add(fmt.Sprintf("external%d", i), fmt.Sprintf("external%d.img", i))
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifest.File), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeProvisionDeps is the machine with the disk scan swapped for a fixed
// list and every device write refused.
func fakeProvisionDeps(t *testing.T, disks []disk.Disk) *system {
	s := defaultSystem()
	s.prov = provisionDeps{
		scan: func([]string) ([]disk.Disk, error) { return disks, nil },
		flasher: func(context.Context, bool) (provision.FlashFunc, func() error, error) {
			return nil, nil, errors.New("test: no device writes")
		},
	}
	return s
}

func sameBytes(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func TestProvisionFilesJSON(t *testing.T) {
	t.Parallel()
	s := fakeProvisionDeps(t, nil)
	set := provisionSet(t, 2)
	out := t.TempDir()
	sd, e1, e2 := filepath.Join(out, "sd.bin"), filepath.Join(out, "e1.bin"), filepath.Join(out, "e2.bin")
	stdout, stderr, err := runCmd(t, s.runProvision, "", set, "--allow-files", "--sd", sd, "--external", e1+","+e2, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	types := map[string]int{}
	var sum *provision.Summary
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var l struct {
			Type    string             `json:"type"`
			Role    string             `json:"role"`
			State   string             `json:"state"`
			Summary *provision.Summary `json:"summary"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		types[l.Type]++
		if l.Type == "progress" && l.Role == "" {
			t.Errorf("progress without role: %s", sc.Text())
		}
		if l.Summary != nil {
			sum = l.Summary
		}
	}
	if types["plan"] != 1 || types["progress"] < 3 || types["summary"] != 1 || types["error"] != 0 {
		t.Errorf("line types %v", types)
	}
	if sum == nil || !sum.OK || len(sum.Targets) != 3 {
		t.Fatalf("summary %+v", sum)
	}
	for target, img := range map[string]string{sd: "sdcard.img", e1: "external1.img", e2: "external2.img"} {
		if !sameBytes(t, target, filepath.Join(set, img)) {
			t.Errorf("%s differs from %s", target, img)
		}
	}
}

func TestProvisionTextAndLabels(t *testing.T) {
	t.Parallel()
	s := fakeProvisionDeps(t, nil)
	set := provisionSet(t, 1)
	out := t.TempDir()
	stdout, _, err := runCmd(t, s.runProvision, "", "--allow-files", "--sd", filepath.Join(out, "a"), set, "--external", filepath.Join(out, "b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + stdout)
	for _, want := range []string{"sd ", "external1", "Set cli-set written", "Labels", "Array UUID: 0badc0de:01234567:89abcdef:00112233", "array member 1 of 1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestProvisionRefusals(t *testing.T) {
	usb := disk.Disk{Name: "sdb", Path: "/dev/sdb", SizeBytes: 32e9, Bus: "usb", Model: "Stick", Eligible: true}
	usb2 := disk.Disk{Name: "sdc", Path: "/dev/sdc", SizeBytes: 64e9, Bus: "usb", Model: "Stick2", Eligible: true}
	mmc := disk.Disk{Name: "mmcblk0", Path: "/dev/mmcblk0", SizeBytes: 16e9, Bus: "mmc", Model: "SD16G", Eligible: true}
	tiny := disk.Disk{Name: "sdd", Path: "/dev/sdd", SizeBytes: 1 << 20, Bus: "usb", Model: "Tiny", Eligible: true}
	sys := disk.Disk{Name: "sda", Path: "/dev/sda", SizeBytes: 256e9, Bus: "sata", Eligible: false, Reason: "holds the running system (/)"}
	s := fakeProvisionDeps(t, []disk.Disk{usb, usb2, mmc, tiny, sys})
	set := provisionSet(t, 2)
	file := filepath.Join(t.TempDir(), "f.bin")
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"plan then no", "no\n", []string{set}, 1, "not confirmed"},
		{"plan then eof", "", []string{set}, 1, "not confirmed"},
		{"file without the flag", "", []string{set, "--sd", set + "/sdcard.img"}, 2, "is a regular file, not a disk"},
		{"too small", "", []string{set, "--external", "/dev/sdd"}, 1, "/dev/sdd holds only 1048576 bytes"},
		{"protected", "", []string{set, "--sd", "sda"}, 1, "running system"},
		{"unknown disk", "", []string{set, "--sd", "/dev/sdz"}, 1, "disk not found"},
		{"twice", "", []string{set, "--sd", "/dev/sdb", "--external", "/dev/sdb"}, 1, "already chosen for sd"},
		{"too many externals", "", []string{set, "--external", "/dev/sdb,/dev/sdc,/dev/sdd"}, 2, "3 external disks given, the set has 2"},
		{"no set", "", []string{filepath.Join(set, "nope")}, 2, "not an image set"},
		{"two sets", "", []string{set, set}, 2, "expected one SETDIR"},
		{"confirmed but no helper", "yes\n", []string{set, "--json"}, 1, "no device writes"},
		{"onto the set itself", "", []string{set, "--allow-files", "--sd", filepath.Join(set, "external1.img")}, 2, "own file external1.img"},
		{"yes without naming every disk", "", []string{set, "--yes", "--sd", "/dev/mmcblk0", "--external", "/dev/sdb"}, 2, "no disk was given for external2 (proposed: /dev/sdc)"},
		{"file then no", "no\n", []string{set, "--allow-files", "--sd", file}, 1, "not confirmed"},
		{"not ready", "", []string{set, "--sd", "/dev/sdc", "--external", "/dev/sdb"}, 1, "external2: no free disk is big enough"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, s.runProvision, tc.stdin, tc.args...)
			if got := cli.ExitCode(err); got != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d err %v, want %d %q\nstdout:\n%s\nstderr:\n%s", got, err, tc.code, tc.want, stdout, stderr)
			}
		})
	}
	// The plan is shown before the question, with a reason for each disk.
	stdout, _, _ := runCmd(t, s.runProvision, "no\n", set)
	for _, want := range []string{"/dev/mmcblk0 is an SD card slot", "external1", "/dev/sdb (Stick) is the smallest free USB disk that fits", "Type yes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a refused run created a target file")
	}
}

func TestProvisionHelpHidesAllowFiles(t *testing.T) {
	stdout, _, err := runCmd(t, defaultSystem().runProvision, "", "--help")
	if !errors.Is(err, cli.ErrHelp) || strings.Contains(stdout, "allow-files") || !strings.Contains(stdout, "--external") && !strings.Contains(stdout, "-external") {
		t.Errorf("help %v:\n%s", err, stdout)
	}
}

// TestProvisionLoopDevices writes a set to loop devices this test attaches,
// through the command line, as root.
func TestProvisionLoopDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s := defaultSystem()
	// Read nothing but sysfs: other loop devices on this machine are not ours.
	s.prov.scan = func(images []string) ([]disk.Disk, error) {
		return disk.Scan(disk.ScanOptions{ImagePaths: images, NoProbe: true})
	}
	set := provisionSet(t, 2)
	var devs, files []string
	for i := 0; i < 3; i++ {
		f := filepath.Join(t.TempDir(), "disk.bin")
		if err := os.WriteFile(f, bytes.Repeat([]byte{0xee}, 8<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		dev := disktest.Attach(t, f).Dev
		devs, files = append(devs, dev), append(files, f)
	}
	stdout, stderr, err := runCmd(t, s.runProvision, "", set, "--sd", devs[0], "--external", devs[1]+","+devs[2], "--yes")
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}
	for i, img := range []string{"sdcard.img", "external1.img", "external2.img"} {
		want, _ := os.ReadFile(filepath.Join(set, img))
		got, _ := os.ReadFile(files[i])
		if !bytes.Equal(got[:len(want)], want) {
			t.Errorf("%s does not hold %s", devs[i], img)
		}
		if tail := got[len(got)-1<<20:]; !bytes.Equal(tail, make([]byte, len(tail))) {
			t.Errorf("%s: the last MiB was not wiped", devs[i])
		}
	}
	if !strings.Contains(stdout, "written and verified") {
		t.Errorf("output:\n%s", stdout)
	}
}
