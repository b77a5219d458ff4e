package adapt

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/assets"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/gui/backend"
	"github.com/pistudio/pistudio/internal/manifest"
)

func TestRaidLayerVarsFromEmbeddedCatalog(t *testing.T) {
	t.Setenv("PISTUDIO_RPI_IMAGE_GEN", "")
	t.Setenv("PATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	cat, err := Configs{}.Catalog("")
	if err != nil {
		t.Fatal(err)
	}
	l, ok := cat.Lookup("raid")
	if !ok {
		t.Fatal("raid layer missing")
	}
	if l.Category != backend.CategoryImage {
		t.Errorf("category %q", l.Category)
	}
	vars := map[string]backend.Var{}
	for _, v := range l.Vars {
		vars[v.Key] = v
	}
	tests := []struct {
		key  string
		kind backend.VarKind
		good string
		bad  string
	}{
		{"raid.level", backend.KindEnum, "RAID0", "RAID5"},
		{"raid.devices", backend.KindInt, "4", "12"},
		{"raid.sdcard_size", -1, "200M", "lots"}, // size, or a regex of sizes
	}
	for _, tt := range tests {
		v, ok := vars[tt.key]
		if !ok {
			t.Errorf("%s missing", tt.key)
			continue
		}
		if (tt.kind >= 0 && v.Kind != tt.kind) || v.Desc == "" || v.Check == nil {
			t.Errorf("%s: kind %v desc %q check %v", tt.key, v.Kind, v.Desc, v.Check != nil)
			continue
		}
		if err := v.Check(tt.good); err != nil {
			t.Errorf("%s rejects %q: %v", tt.key, tt.good, err)
		}
		if err := v.Check(tt.bad); err == nil {
			t.Errorf("%s accepts %q", tt.key, tt.bad)
		}
	}
	if got := vars["raid.level"].Choices; strings.Join(got, ",") != "RAID0,RAID1" {
		t.Errorf("choices %v", got)
	}
}

func TestConfigEditKeepsComments(t *testing.T) {
	b, err := assets.Config("raid-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	c := Configs{}
	d, err := c.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Get("raid.level"); v != "RAID1" {
		t.Fatalf("raid.level = %q", v)
	}
	if err := d.Set("raid.devices", "3"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.yaml")
	text, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(out, text); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(b), "devices: 2 ", "devices: 3 ", 1)
	if string(got) != want {
		t.Errorf("saved:\n%s\nwant:\n%s", got, want)
	}
	if _, err := c.New(); err != nil {
		t.Fatal(err)
	}
}

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
	r := Raid{}
	if got := r.Sets(work); len(got) != 1 || got[0] != dir {
		t.Fatalf("sets %v", got)
	}
	s, err := r.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, ro := range s.Roles {
		order = append(order, ro.Role)
		if ro.Size == 0 || filepath.Dir(ro.Image) != dir {
			t.Errorf("role %+v", ro)
		}
	}
	if strings.Join(order, ",") != "sd,external1,external2,external10" {
		t.Errorf("order %v", order)
	}
	if _, err := r.Load(filepath.Join(work, "image-plain")); err == nil {
		t.Error("a plain image loads as a RAID set")
	}
}

func TestFinishedEvent(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, manifest.Manifest{Layout: manifest.LayoutRAID, Name: "r", Roles: map[string]string{"sd": "sdcard.img"},
		Artifacts: []manifest.Artifact{{File: "sdcard.img", Kind: manifest.KindDisk, Role: "sd"}}})
	ev := finished(&runner.Result{State: runner.Succeeded, Artifacts: []runner.Artifact{
		{Path: filepath.Join(dir, "sdcard.img"), Kind: runner.KindDiskImage, Size: 10},
		{Path: filepath.Join(dir, "image.json"), Kind: runner.KindMetadata, Size: 1},
	}})
	if ev.Outcome != backend.Succeeded || ev.RaidSet != dir || len(ev.Artifacts) != 2 {
		t.Fatalf("%+v", ev)
	}
	if a := ev.Artifacts[0]; !a.Flashable || a.Role != "sd" {
		t.Errorf("disk image %+v", a)
	}
	if ev.Artifacts[1].Flashable {
		t.Error("metadata is flashable")
	}
	if ev := finished(&runner.Result{State: runner.Failed, ExitStatus: 1}); ev.Outcome != backend.Failed || ev.Err == nil {
		t.Errorf("failed run: %+v", ev)
	}
	if ev := finished(&runner.Result{State: runner.Cancelled}); ev.Outcome != backend.Cancelled {
		t.Errorf("cancelled run: %+v", ev)
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
	mk := func(name, bus string, size int64) backend.Disk {
		d := disk.Disk{Name: name, Path: "/dev/" + name, SizeBytes: size, Bus: bus, Removable: bus != "nvme", Eligible: bus != "nvme", Model: name}
		return convertDisk(d)
	}
	disks := []backend.Disk{mk("mmcblk0", "mmc", 32e9), mk("sdb", "usb", 64e9), mk("sdc", "usb", 500e9), mk("nvme0n1", "nvme", 1e12)}
	r := Raid{w: &writer{}}
	set, err := r.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(set, disks)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Assignments) != 3 || p.Assignments[0].Role.Role != "sd" {
		t.Fatalf("plan %+v", p.Assignments)
	}
	if err := r.Ready(p); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	used := map[string]bool{}
	for _, a := range p.Assignments {
		if a.Disk == "" || used[a.Disk] || a.Disk == "/dev/nvme0n1" || a.Why == "" {
			t.Errorf("assignment %+v", a)
		}
		used[a.Disk] = true
	}
	if _, err := r.Assign(p, "external1", "/dev/nvme0n1"); err == nil {
		t.Error("a protected disk was accepted")
	}
	other := p.Assignments[1].Disk
	p2, err := r.Assign(p, "external2", other)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Assignments[2].Disk != other || p2.Assignments[2].Why != "chosen by you" {
		t.Errorf("choice not recorded: %+v", p2.Assignments[2])
	}
	if p2.Assignments[1].Disk == other {
		t.Error("two roles share a disk")
	}
}

func TestWorkDir(t *testing.T) {
	r := Runner{}
	tests := []struct{ config, setting, want string }{
		{"/home/pi/cfg/a.yaml", "", "/home/pi/cfg/work"},
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
	mk := func(name, bus string, size int64) backend.Disk {
		d := disk.Disk{Name: name, Path: "/dev/" + name, SizeBytes: size, Bus: bus, Removable: true, Eligible: true, Model: name,
			NeedsTypedConfirm: size > disk.TypedConfirmBytes}
		return convertDisk(d)
	}
	r := Raid{w: &writer{}}
	set, err := r.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Plan(set, []backend.Disk{mk("fakemmc0", "mmc", 32e9), mk("fakeusb1", "usb", 64e9), mk("fakeusb2", "usb", 500e9)})
	if err != nil {
		t.Fatal(err)
	}
	before := p.Assignments[1].Disk
	other := "/dev/fakeusb1"
	if before == other {
		other = "/dev/fakeusb2"
	}
	p2, err := r.Assign(p, "external1", other)
	if err != nil {
		t.Fatal(err)
	}
	pp, _ := provPlan(p)
	if pp.Role("external1").Disk.Path != before || p2.Assignments[1].Disk != other {
		t.Errorf("the plan given changed: %s, new plan %s", pp.Role("external1").Disk.Path, p2.Assignments[1].Disk)
	}
	big, err := r.Assign(p, "external1", "/dev/fakeusb2")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Provision(context.Background(), big, false, map[string]string{"/dev/fakeusb2": "fakeusb1"}, func(backend.TargetProgress) {})
	if !errors.Is(err, provision.ErrNotConfirmed) {
		t.Errorf("error %v, want a refusal for the unconfirmed disk", err)
	}
}
