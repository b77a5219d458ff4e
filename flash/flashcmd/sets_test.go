package flashcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/disk/disktest"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/cli"
)

// TestProvisionSetsRefusals: the usage of --sets and --disks, and the
// refusals of several sets, before anything is written.
func TestProvisionSetsRefusals(t *testing.T) {
	t.Parallel()
	mmc := disk.Disk{Name: "mmcblk0", Path: "/dev/mmcblk0", SizeBytes: 16e9, Bus: "mmc", Model: "SD16G", Eligible: true}
	usb := disk.Disk{Name: "sdb", Path: "/dev/sdb", SizeBytes: 32e9, Bus: "usb", Model: "Stick", Eligible: true}
	usb2 := disk.Disk{Name: "sdc", Path: "/dev/sdc", SizeBytes: 64e9, Bus: "usb", Model: "Stick2", Eligible: true}
	usb3 := disk.Disk{Name: "sde", Path: "/dev/sde", SizeBytes: 64e9, Bus: "usb", Model: "Stick3", Eligible: true}
	tiny := disk.Disk{Name: "sdd", Path: "/dev/sdd", SizeBytes: 1 << 20, Bus: "usb", Model: "Tiny", Eligible: true}
	sys := disk.Disk{Name: "sda", Path: "/dev/sda", SizeBytes: 256e9, Bus: "sata", Eligible: false, Reason: "holds the running system (/)"}
	few := fakeProvisionDeps(t, []disk.Disk{usb, usb2, mmc, tiny, sys})
	four := fakeProvisionDeps(t, []disk.Disk{mmc, usb, usb2, usb3, sys})
	set2 := provisionSet(t, 2) // sd + 2 externals
	set1 := provisionSet(t, 1) // sd + 1 external
	for _, tc := range []struct {
		name  string
		s     *system
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"no sets", few, "", []string{set2, "--sets", "0"}, 2, "--sets must be at least 1, got 0"},
		{"--sd for several sets", few, "", []string{set2, "--sets", "2", "--sd", "/dev/sdb"}, 2, "with --sets 2 name each set's disks with --disks"},
		{"--disks and --external", few, "", []string{set2, "--disks", "/dev/sdb", "--external", "/dev/sdc"}, 2, "give it instead of --sd and --external"},
		{"more --disks than sets", few, "", []string{set2, "--sets", "1", "--disks", "/dev/sdb", "--disks", "/dev/sdc"}, 2, "2 --disks given for --sets 1"},
		{"an empty entry", few, "", []string{set2, "--disks", "/dev/sdb,,/dev/sdc"}, 2, "has an empty entry"},
		{"too many disks for a set", four, "", []string{set1, "--disks", "/dev/mmcblk0", "--disks", "/dev/sdb,/dev/sdc,/dev/sde"}, 2,
			"set 2: too many external disks: 2 external disks given, the set has 1"},
		{"too few disks", few, "", []string{set2, "--sets", "2"}, 1,
			"2 sets need 6 disks (each set: an SD card and 2 external disks), but only 4 eligible disks are present: /dev/sdb (Stick, 29.8 GiB), /dev/sdc (Stick2, 59.6 GiB), /dev/mmcblk0 (SD16G, 14.9 GiB), /dev/sdd (Tiny, 1.0 MiB) (1 more disk found is protected); connect 2 more"},
		{"one disk in two sets", four, "", []string{set1, "--disks", "/dev/mmcblk0", "--disks", "mmcblk0"}, 1,
			"set 2: sd: /dev/mmcblk0 is already chosen for sd of set 1"},
		{"yes with a set unnamed", four, "", []string{set1, "--sets", "2", "--yes", "--disks", "/dev/mmcblk0,/dev/sdb"}, 2,
			"set 2: --yes needs every disk named: --yes writes only disks named on the command line, and no disk was given for sd (proposed: /dev/sdc)"},
		{"plans then no", four, "no\n", []string{set1, "--sets", "2"}, 1, "not confirmed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runCmd(t, tc.s.runProvision, tc.stdin, tc.args...)
			if got := cli.ExitCode(err); got != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d err %v, want %d %q\nstdout:\n%s\nstderr:\n%s", got, err, tc.code, tc.want, stdout, stderr)
			}
		})
	}
	// Both plans are shown, then one question naming every disk.
	stdout, _, _ := runCmd(t, four.runProvision, "no\n", set1, "--sets", "2")
	for _, want := range []string{"(1 of 2) Set " + set1, "(2 of 2) Set " + set1, "/dev/mmcblk0 is an SD card slot",
		"Everything on these 4 disks will be replaced: /dev/mmcblk0, /dev/sdc, /dev/sdb, /dev/sde.\nType yes"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

// setLine is what the tests read of a --json line.
type setLine struct {
	Type    string             `json:"type"`
	Set     int                `json:"set"`
	Error   string             `json:"error"`
	Summary *provision.Summary `json:"summary"`
}

// jsonLines reads --json output.
func jsonLines(t *testing.T, out string) []setLine {
	t.Helper()
	var lines []setLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l setLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestProvisionSetsFiles writes two sets to files with --hostname
// 'pi-{n}' --first 7: each SD card gets its own host name, and every JSON
// line names its set. Two sets named alike by a table are refused.
func TestProvisionSetsFiles(t *testing.T) {
	t.Parallel()
	s := fakeProvisionDeps(t, nil)
	set := settingsSet(t, 1)
	out := t.TempDir()
	f := func(name string) string { return filepath.Join(out, name) }
	stdout, stderr, err := runCmd(t, s.runProvision, "", set, "--allow-files", "--disks", f("sd1")+","+f("e1"), "--disks", f("sd2")+","+f("e2"),
		"--yes", "--hostname", "pi-{n}", "--first", "7", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "Set 2: settings (cloudinit, host pi-8) will be written to the SD card ("+f("sd2")+")") {
		t.Errorf("stderr:\n%s", stderr)
	}
	count := map[string]map[int]int{}
	for _, l := range jsonLines(t, stdout) {
		if count[l.Type] == nil {
			count[l.Type] = map[int]int{}
		}
		count[l.Type][l.Set]++
		if l.Summary != nil && (!l.Summary.OK || l.Summary.Number != l.Set || l.Summary.Of != 2) {
			t.Errorf("set %d summary %+v", l.Set, l.Summary)
		}
	}
	if count["plan"][1] != 1 || count["plan"][2] != 1 || count["summary"][1] != 1 || count["summary"][2] != 1 ||
		count["progress"][1] < 2 || count["progress"][2] < 2 || len(count["progress"]) != 2 || len(count["error"]) != 0 {
		t.Errorf("lines by type and set: %v", count)
	}
	for i, sd := range []string{f("sd1"), f("sd2")} {
		got := bootFiles(t, sd, "user-data")["user-data"]
		if want := fmt.Sprintf(`hostname: "pi-%d"`, 7+i); !bytes.Contains(got, []byte(want)) {
			t.Errorf("set %d user-data lacks %s:\n%s", i+1, want, got)
		}
	}
	for _, e := range []string{f("e1"), f("e2")} {
		if !sameBytes(t, e, filepath.Join(set, "external1.img")) {
			t.Errorf("%s is not external1.img", e)
		}
	}

	table := filepath.Join(out, "hosts.csv")
	if err := os.WriteFile(table, []byte("hostname\nkitchen\nkitchen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, s.runProvision, "", set, "--allow-files", "--disks", f("sd3")+","+f("e3"), "--disks", f("sd4")+","+f("e4"), "--yes", "--table", table)
	if cli.ExitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), `targets 1 and 2 would both be named "kitchen"`) {
		t.Errorf("duplicate hostnames: %v", err)
	}
	for _, n := range []string{"sd3", "e3", "sd4", "e4"} {
		if _, err := os.Stat(f(n)); !os.IsNotExist(err) {
			t.Errorf("a refused run created %s", n)
		}
	}
}

// loopCard makes a file of size bytes of 0xee and attaches it.
func loopCard(t *testing.T, size int) (dev, file string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "disk.bin")
	if err := os.WriteFile(file, bytes.Repeat([]byte{0xee}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	return disktest.Attach(t, file).Dev, file
}

// loopSet is one set's loop devices: SD card and external1.
type loopSet struct{ sd, ext, sdFile, extFile string }

func loopSets(t *testing.T, n int) []loopSet {
	var out []loopSet
	for range n {
		var l loopSet
		l.sd, l.sdFile = loopCard(t, 16<<20)
		l.ext, l.extFile = loopCard(t, 8<<20)
		out = append(out, l)
	}
	return out
}

// checkLoopSet checks that a set's disks hold the images and the SD
// card's boot partition the host name.
func checkLoopSet(t *testing.T, set string, l loopSet, host string) {
	t.Helper()
	sd, _ := os.ReadFile(filepath.Join(set, "sdcard.img"))
	card, _ := os.ReadFile(l.sdFile)
	// Outside the boot partition the card is the image.
	if !bytes.Equal(card[5<<20:len(sd)], sd[5<<20:]) {
		t.Errorf("%s: the root partition differs from the image", l.sd)
	}
	if got := bootFiles(t, l.sdFile, "user-data")["user-data"]; !bytes.Contains(got, []byte(`hostname: "`+host+`"`)) {
		t.Errorf("%s user-data lacks %s:\n%s", l.sd, host, got)
	}
	ext, _ := os.ReadFile(filepath.Join(set, "external1.img"))
	disk, _ := os.ReadFile(l.extFile)
	if !bytes.Equal(disk[:len(ext)], ext) {
		t.Errorf("%s does not hold external1.img", l.ext)
	}
}

// TestProvisionSetsLoop writes two RAID sets to loop devices this test
// attaches, through the command line, as root: each SD card gets its own
// host name. Then a write error injected into one set's external disk
// fails that set only: the other is written and verified.
func TestProvisionSetsLoop(t *testing.T) {
	disktest.NeedRoot(t, "sfdisk", "mkfs.vfat", "mke2fs")
	set := settingsSet(t, 1)
	scan := func(images []string) ([]disk.Disk, error) {
		// Read nothing but sysfs: other loop devices are not ours.
		return disk.Scan(disk.ScanOptions{ImagePaths: images, NoProbe: true})
	}
	args := func(ls []loopSet, more ...string) []string {
		a := []string{set, "--sets", "2"}
		for _, l := range ls {
			a = append(a, "--disks", l.sd+","+l.ext)
		}
		return append(append(a, "--hostname", "pi-{n}", "--yes"), more...)
	}

	t.Run("two sets", func(t *testing.T) {
		ls := loopSets(t, 2)
		s := defaultSystem()
		s.prov.scan = scan
		stdout, stderr, err := runCmd(t, s.runProvision, "", args(ls)...)
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
		}
		for i, l := range ls {
			checkLoopSet(t, set, l, fmt.Sprintf("pi-%d", i+1))
		}
		for _, want := range []string{"Set cli-set (1 of 2) written", "Set cli-set (2 of 2) written", "Set:        cli-set (2 of 2)", "written and verified"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
	})

	t.Run("one set fails", func(t *testing.T) {
		ls := loopSets(t, 2)
		injected := errors.New("injected write error")
		s := defaultSystem()
		s.prov.scan = scan
		s.prov.flasher = func(context.Context, bool) (provision.FlashFunc, func() error, error) {
			return func(ctx context.Context, img string, tgt flash.Target, o flash.Options) (*flash.Result, error) {
				if tgt.Path == ls[1].ext {
					return nil, injected
				}
				return helper.Local{}.Flash(ctx, img, tgt, o)
			}, func() error { return nil }, nil
		}
		stdout, stderr, err := runCmd(t, s.runProvision, "", args(ls, "--json")...)
		if cli.ExitCode(err) != 1 {
			t.Fatalf("exit %d (%v)\n%s\n%s", cli.ExitCode(err), err, stdout, stderr)
		}
		sums := map[int]*provision.Summary{}
		var errs []setLine
		for _, l := range jsonLines(t, stdout) {
			switch l.Type {
			case "summary":
				sums[l.Set] = l.Summary
			case "error":
				errs = append(errs, l)
			}
		}
		if len(errs) != 1 || errs[0].Set != 2 || !strings.Contains(errs[0].Error, "external1 ("+ls[1].ext+"): injected write error") {
			t.Errorf("error lines %+v", errs)
		}
		if s1 := sums[1]; s1 == nil || !s1.OK || !s1.Targets[0].Verified || !s1.Targets[1].Verified {
			t.Fatalf("set 1: %+v", s1)
		}
		if s2 := sums[2]; s2 == nil || s2.OK || s2.Targets[0].State != provision.Done || s2.Targets[1].State != provision.Failed {
			t.Errorf("set 2: %+v", s2)
		}
		checkLoopSet(t, set, ls[0], "pi-1")
		// Set 2's card was still written; its external disk was not.
		if got := bootFiles(t, ls[1].sdFile, "user-data")["user-data"]; !bytes.Contains(got, []byte(`hostname: "pi-2"`)) {
			t.Errorf("set 2 user-data:\n%s", got)
		}
		if b, _ := os.ReadFile(ls[1].extFile); !bytes.Equal(b, bytes.Repeat([]byte{0xee}, len(b))) {
			t.Error("the failed disk was written")
		}
	})
}
