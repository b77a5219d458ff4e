package layers

import (
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

// A layer that does not resolve must not hide the mistakes in the values
// of the layers that were found.
func TestValidateKeepsCheckingWhenALayerIsMissing(t *testing.T) {
	cat, err := LoadCatalog(CatalogOptions{ToolDir: "../testdata/tree", Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseConfig("raid.yaml", []byte(`device: {layer: testdev}
image: {layer: raid, name: r, rootfs_type: xfs}
raid:
  level: RAID5
  devices: 9
layer: {base: no-such-base}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range Validate(cfg, cat) {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`unknown layer "no-such-base"`,
		"raid.yaml:2: image.rootfs_type (IGconf_image_rootfs_type): 'xfs'",
		"raid.yaml:4: raid.level (IGconf_raid_level): 'RAID5' is not one of RAID0, RAID1 (layer raid)",
		"raid.yaml:5: raid.devices (IGconf_raid_devices): '9'",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "required by the layer but not set") {
		t.Errorf("partial check reported build-wide requirements:\n%s", all)
	}
}
