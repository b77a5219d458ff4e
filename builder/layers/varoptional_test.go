package layers

import (
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

// X-Env-VarOptional-Valid is checked when the variable is set: our raid
// layer restricts IGconf_image_rootfs_type to ext4 that way.
func TestValidateVarOptional(t *testing.T) {
	cat, err := LoadCatalog(CatalogOptions{ToolDir: "../testdata/tree", Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	const cfgText = "device:\n  layer: testdev\n  hostname: h\nimage:\n  layer: raid\n  name: r\n  rootfs_type: %s\n"
	cfg, err := config.ParseConfig("raid.yaml", []byte(strings.Replace(cfgText, "%s", "xfs", 1)))
	if err != nil {
		t.Fatal(err)
	}
	probs := Validate(cfg, cat)
	found := false
	for _, p := range probs {
		if p.Var == "IGconf_image_rootfs_type" && p.Layer == "raid" {
			found = true
			want := "raid.yaml:7: image.rootfs_type (IGconf_image_rootfs_type): 'xfs' does not match ^ext4$ (rule regex:^ext4$) (layer raid)"
			if p.String() != want || p.Value != "xfs" || p.Rule != "regex:^ext4$" {
				t.Errorf("problem = %s\nwant      %s", p, want)
			}
		}
	}
	if !found {
		t.Fatalf("xfs on raid not reported: %v", probs)
	}
	ok, _ := config.ParseConfig("raid.yaml", []byte(strings.Replace(cfgText, "%s", "ext4", 1)))
	for _, p := range Validate(ok, cat) {
		if p.Layer == "raid" {
			t.Errorf("ext4: %s", p)
		}
	}
	// Unset is fine; an override is checked.
	unset, _ := config.ParseConfig("raid.yaml", []byte("device:\n  layer: testdev\n  hostname: h\nimage:\n  layer: raid\n  name: r\n"))
	for _, p := range Validate(unset, cat) {
		if p.Layer == "raid" {
			t.Errorf("unset: %s", p)
		}
	}
	probs = ValidateOverrides(unset, cat, []string{"IGconf_image_rootfs_type=btrfs"})
	found = false
	for _, p := range probs {
		if p.Var == "IGconf_image_rootfs_type" && p.Layer == "raid" && p.File == config.OverrideFile && p.Value == "btrfs" {
			found = true
		}
	}
	if !found {
		t.Errorf("override btrfs not reported: %v", probs)
	}
}

// The raid layer's sizes refuse percentages (the native stage cannot use
// them) at validation time.
func TestValidateRaidSizeNoPercent(t *testing.T) {
	cat, err := LoadCatalog(CatalogOptions{ToolDir: "../testdata/tree", Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	for value, bad := range map[string]bool{"50%": true, "0": true, "200M": false, "4096s": false, "1G": false} {
		cfg, err := config.ParseConfig("raid.yaml", []byte("device: {layer: testdev, hostname: h}\nimage: {layer: raid, name: r}\nraid:\n  sdcard_size: "+value+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, p := range Validate(cfg, cat) {
			if p.Var == "IGconf_raid_sdcard_size" {
				got = true
				if p.Line != 4 {
					t.Errorf("%s: %s", value, p)
				}
			}
		}
		if got != bad {
			t.Errorf("sdcard_size %s: reported %v, want %v", value, got, bad)
		}
	}
}
