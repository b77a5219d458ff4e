package gui

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/manifest"
)

func writeManifest(t *testing.T, dir string, m manifest.Manifest) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifest.File), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRaidSetLoad(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "image-r")
	roles := map[string]string{"sd": "sdcard.img", "external10": "external10.img", "external2": "external2.img", "external1": "external1.img"}
	var arts []manifest.Artifact
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for role, f := range roles {
		arts = append(arts, manifest.Artifact{File: f, Kind: manifest.KindDisk, Role: role, Size: 4096})
		if err := os.WriteFile(filepath.Join(dir, f), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest(t, dir, manifest.Manifest{Layout: manifest.LayoutRAID, Name: "r", Level: "RAID1", Devices: 3, Roles: roles, Artifacts: arts})
	writeManifest(t, filepath.Join(work, "image-plain"), manifest.Manifest{Layout: manifest.LayoutRPiOS, Name: "p"})
	r := realRaid{}
	if got := r.Sets(work); len(got) != 1 || got[0] != dir {
		t.Fatalf("sets %v", got)
	}
	s, err := r.Plan(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, ro := range s.Roles {
		order = append(order, ro.Role)
		if ro.ArtifactSize == 0 || ro.Artifact == "" {
			t.Errorf("role %+v", ro)
		}
	}
	if strings.Join(order, ",") != "sd,external1,external2,external10" {
		t.Errorf("order %v", order)
	}
	if _, err := r.Plan(filepath.Join(work, "image-plain"), nil); err == nil {
		t.Error("a plain image loads as a RAID set")
	}
}

func TestReadOutputs(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, manifest.Manifest{Layout: manifest.LayoutRAID, Name: "r", Roles: map[string]string{"sd": "sdcard.img"},
		Artifacts: []manifest.Artifact{{File: "sdcard.img", Kind: manifest.KindDisk, Role: "sd"}}})
	res := &runner.Result{State: runner.Succeeded, Artifacts: []runner.Artifact{
		{Path: filepath.Join(dir, "sdcard.img"), Kind: runner.KindDiskImage, Size: 10},
		{Path: filepath.Join(dir, "image.json"), Kind: runner.KindMetadata, Size: 1},
	}}
	out := readOutputs(res)
	if out.raidSet != dir || out.roles[res.Artifacts[0].Path] != "sd" {
		t.Fatalf("%+v", out)
	}
	if !flashable(res.Artifacts[0]) || flashable(res.Artifacts[1]) {
		t.Error("only the disk image is flashable")
	}
	if out := readOutputs(&runner.Result{State: runner.Failed, ExitStatus: 1}); out.raidSet != "" {
		t.Errorf("failed run: %+v", out)
	}
}

func TestRaidPlanAssign(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "image-r")
	roles := map[string]string{"sd": "sdcard.img", "external1": "external1.img", "external2": "external2.img"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var arts []manifest.Artifact
	for role, f := range roles {
		arts = append(arts, manifest.Artifact{File: f, Kind: manifest.KindDisk, Role: role, Size: 4096})
		if err := os.WriteFile(filepath.Join(dir, f), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest(t, dir, manifest.Manifest{Layout: manifest.LayoutRAID, Name: "r", Level: "RAID1", Devices: 2, Roles: roles, Artifacts: arts})
	mk := func(name, bus string, size int64) disk.Disk {
		return disk.Disk{Name: name, Path: "/dev/" + name, SizeBytes: size, Bus: bus, Removable: bus != "nvme", Eligible: bus != "nvme", Model: name}
	}
	disks := []disk.Disk{mk("mmcblk0", "mmc", 32e9), mk("sdb", "usb", 64e9), mk("sdc", "usb", 500e9), mk("nvme0n1", "nvme", 1e12)}
	p, err := planSet(dir, disks)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Roles) != 3 || p.Roles[0].Role != "sd" {
		t.Fatalf("plan %+v", p.Roles)
	}
	if err := p.Ready(); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	checkDistinct(t, p, "/dev/nvme0n1")
	if err := clonePlan(p).Assign("external1", "/dev/nvme0n1"); !errors.Is(err, disk.ErrProtected) {
		t.Errorf("a protected disk: %v", err)
	}
	other := p.Roles[1].Disk.Path
	p2 := clonePlan(p)
	if err := p2.Assign("external2", other); err != nil {
		t.Fatal(err)
	}
	if p2.Roles[2].Disk.Path != other || roleWhy(p2.Roles[2]) != "chosen by you" {
		t.Errorf("choice not recorded: %+v", p2.Roles[2])
	}
	if p2.Roles[1].Disk.Path == other {
		t.Error("two roles share a disk")
	}
	if p.Roles[2].Disk.Path == other {
		t.Error("the plan copied from changed")
	}
}

func TestWorkDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	r := realRunner{}
	tests := []struct{ config, setting, want string }{
		{"/home/pi/cfg/a.yaml", "", filepath.Join(cache, "pistudio", "work", "a")},
		{"/home/pi/cfg/a.yaml", "/srv/w", "/srv/w"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := r.WorkDir(tt.config, tt.setting); got != tt.want {
			t.Errorf("WorkDir(%q, %q) = %q, want %q", tt.config, tt.setting, got, tt.want)
		}
	}
}

// TestRaidAssignKeepsThePlanGiven: Assign returns a new plan and leaves
// the one given (which a confirmation may be listing) as it was; Provision
// refuses a large disk whose typed name is missing, writing nothing.
func TestRaidAssignKeepsThePlanGiven(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "image-r")
	roles := map[string]string{"sd": "sdcard.img", "external1": "external1.img"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var arts []manifest.Artifact
	for role, f := range roles {
		arts = append(arts, manifest.Artifact{File: f, Kind: manifest.KindDisk, Role: role, Size: 4096})
		if err := os.WriteFile(filepath.Join(dir, f), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeManifest(t, dir, manifest.Manifest{Layout: manifest.LayoutRAID, Name: "r", Level: "RAID1", Devices: 1, Roles: roles, Artifacts: arts})
	mk := func(name, bus string, size int64) disk.Disk {
		return disk.Disk{Name: name, Path: "/dev/" + name, SizeBytes: size, Bus: bus, Removable: true, Eligible: true, Model: name,
			NeedsTypedConfirm: size > disk.TypedConfirmBytes}
	}
	r := realRaid{w: &writer{}}
	p, err := r.Plan(dir, []disk.Disk{mk("fakemmc0", "mmc", 32e9), mk("fakeusb1", "usb", 64e9), mk("fakeusb2", "usb", 500e9)})
	if err != nil {
		t.Fatal(err)
	}
	before := p.Roles[1].Disk.Path
	other := "/dev/fakeusb1"
	if before == other {
		other = "/dev/fakeusb2"
	}
	p2 := clonePlan(p)
	if err := p2.Assign("external1", other); err != nil {
		t.Fatal(err)
	}
	if p.Role("external1").Disk.Path != before || p2.Roles[1].Disk.Path != other {
		t.Errorf("the plan given changed: %s, new plan %s", p.Role("external1").Disk.Path, p2.Roles[1].Disk.Path)
	}
	big := clonePlan(p)
	if err := big.Assign("external1", "/dev/fakeusb2"); err != nil {
		t.Fatal(err)
	}
	_, err = r.Provision(context.Background(), big, provision.Options{NoVerify: true, Confirmations: map[string]string{"/dev/fakeusb2": "fakeusb1"}})
	if !errors.Is(err, provision.ErrNotConfirmed) {
		t.Errorf("error %v, want a refusal for the unconfirmed disk", err)
	}
}

// TestResultHash checks that a write names its SHA-256 when it was
// computed and its XXH3-128 otherwise, for one disk and for a RAID target.
func TestResultHash(t *testing.T) {
	for _, tc := range []struct {
		name         string
		xxh3, sha256 string
		want         string
	}{
		{"xxh3 only", "00112233445566778899aabbccddeeff", "", "xxh3:00112233445566778899aabbccddeeff"},
		{"sha256 too", "00112233445566778899aabbccddeeff", "ab12", "sha256:ab12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resultHash(&flash.Result{XXH3: tc.xxh3, SHA256: tc.sha256}); got != tc.want {
				t.Errorf("flash: %q, want %q", got, tc.want)
			}
			r := provision.Result{XXH3: tc.xxh3, SHA256: tc.sha256}
			if got := r.Hash(); got != tc.want {
				t.Errorf("provision: %q, want %q", got, tc.want)
			}
		})
	}
}

// checkDistinct checks that every role has its own disk, with a reason,
// and none has the protected one.
func checkDistinct(t *testing.T, p *provision.Plan, protected string) {
	t.Helper()
	used := map[string]bool{}
	for _, a := range p.Roles {
		if a.Disk == nil || used[a.Disk.Path] || a.Disk.Path == protected || roleWhy(a) == "" {
			t.Errorf("assignment %+v", a)
			continue
		}
		used[a.Disk.Path] = true
	}
}
