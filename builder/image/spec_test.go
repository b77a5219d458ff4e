package image

import (
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

func TestImageSpec(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       Spec
		err        string
	}{
		{"raid defaults", "device: {hostname: h}\nimage: {layer: raid, name: r}\n",
			Spec{Layout: "raid", Name: "r", Hostname: "h", RootfsType: "ext4", Level: "RAID1", Devices: 2, SDCardSize: 200 << 20, ExternalSize: 1 << 30}, ""},
		{"raid set", "image: {layer: raid, name: r}\nraid: {level: RAID0, devices: 3, sdcard_size: 100M, external_size: 2G}\n",
			Spec{Layout: "raid", Name: "r", RootfsType: "ext4", Level: "RAID0", Devices: 3, SDCardSize: 100 << 20, ExternalSize: 2 << 30}, ""},
		{"rpios", "image: {layer: image-rpios, name: n, boot_part_size: 200%, root_part_size: 1G}\n",
			Spec{Layout: "image-rpios", Name: "n", RootfsType: "ext4", BootPartPct: 200, RootPartSize: 1 << 30}, ""},
		{"other layer", "image: {layer: image-rota, name: n}\n", Spec{}, "raid and image-rpios only"},
		{"variable", "image: {layer: raid, name: '${X}'}\n", Spec{}, "literal"},
		{"bad size", "image: {layer: raid, name: r}\nraid: {external_size: 1X}\n", Spec{}, "invalid size"},
		{"pct not allowed", "image: {layer: raid, name: r}\nraid: {sdcard_size: 50%}\n", Spec{}, "percentage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := config.ParseConfig("c.yaml", []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := SpecFromConfig(cfg)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Layout != c.want.Layout || got.Name != c.want.Name || got.Hostname != c.want.Hostname || got.Level != c.want.Level ||
				got.Devices != c.want.Devices || got.SDCardSize != c.want.SDCardSize || got.ExternalSize != c.want.ExternalSize ||
				got.BootPartPct != c.want.BootPartPct || got.RootPartSize != c.want.RootPartSize || got.RootfsType != c.want.RootfsType {
				t.Fatalf("spec = %+v, want %+v", got, c.want)
			}
		})
	}
}
