package layers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

// TestUpstreamTree is opt-in: set PISTUDIO_UPSTREAM_TREE to an
// rpi-image-gen checkout. Every layer must parse and every shipped config
// (plus our example configs) must validate clean.
func TestUpstreamTree(t *testing.T) {
	dir := os.Getenv("PISTUDIO_UPSTREAM_TREE")
	if dir == "" {
		t.Skip("set PISTUDIO_UPSTREAM_TREE to an rpi-image-gen checkout to run")
	}
	cat, err := LoadCatalog(CatalogOptions{ToolDir: dir, Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range cat.Errors {
		t.Errorf("layer parse error: %v", e)
	}
	// Every file with a header must have produced a layer.
	headers := 0
	for _, top := range LayerDirs {
		filepath.WalkDir(filepath.Join(dir, top), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), "# METABEGIN") {
					headers++
				}
			}
			return nil
		})
	}
	loaded := 0
	for _, l := range append(append([]*Layer(nil), cat.Layers...), cat.Shadowed...) {
		if l.Source != EmbeddedSource {
			loaded++
		}
	}
	if loaded != headers {
		t.Errorf("loaded %d upstream layers, want %d (files with METABEGIN)", loaded, headers)
	}
	for _, w := range cat.Warnings {
		t.Logf("lint: %s", w)
	}
	// The facts the spec states about the real tree.
	for _, n := range []string{"rpi5", "rpi-cm5", "rpi-cm4", "rpi4", "rpi3", "rpizero2w", "image-rpios", "image-rota", "bookworm-minbase", "trixie-minbase", "essential"} {
		if _, ok := cat.Lookup(n); !ok {
			t.Errorf("layer %s missing", n)
		}
	}
	if rp, ok := cat.Lookup("image-rpios"); ok {
		for _, w := range []struct{ name, def, rule string }{
			{"rootfs_type", "ext4", "ext4,btrfs"}, {"boot_part_size", "100%", "size"}, {"root_part_size", "100%", "size"},
			{"disksig", "random", "regex:^(random|0x[0-9a-fA-F]{8})$"}, {"pmap", "clear", "clear,crypt"},
		} {
			v, ok := rp.Var(w.name)
			if !ok || v.Default != w.def || v.ValidText != w.rule || v.EnvName != "IGconf_image_"+w.name {
				t.Errorf("image-rpios %s = %+v, want default %q rule %q", w.name, v, w.def, w.rule)
			}
		}
	}
	if r5, ok := cat.Lookup("rpi5"); ok {
		spec, err := ParseLayer(r5.File, []byte(pi5Header))
		if err != nil {
			t.Fatal(err)
		}
		if r5.Version != spec.Version || strings.Join(r5.Requires, ",") != strings.Join(spec.Requires, ",") ||
			strings.Join(r5.Provides, ",") != strings.Join(spec.Provides, ",") {
			t.Errorf("rpi5 differs from the spec's header: %+v", r5)
		}
	}
	var configs []string
	filepath.WalkDir(filepath.Join(dir, "config"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			configs = append(configs, p)
		}
		return nil
	})
	ours, _ := filepath.Glob("../assets/configs/*.yaml")
	configs = append(configs, ours...)
	if len(configs) == 0 {
		t.Fatal("no configs found")
	}
	for _, p := range configs {
		cfg, err := config.LoadConfig(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		cfg.IncludePath = []string{filepath.Join(dir, "config")}
		if vars, err := cfg.Vars(); err == nil {
			if _, ok := vars["IGconf_device_layer"]; ok && vars["IGconf_image_layer"].Value == "" {
				// config/device/*.yaml are fragments meant to be included:
				// without an image layer rpi-image-gen cannot build them either.
				t.Logf("%s: device fragment without image.layer (meant to be included), skipped", p)
				continue
			}
		}
		for _, pr := range Validate(cfg, cat) {
			t.Errorf("%s", pr)
		}
	}
	upstreamUndefinedRef(t, dir)
	// A real rule from a real layer: image-rpios accepts ext4 and btrfs only.
	src, err := os.ReadFile(filepath.Join(dir, "config", "trixie-minbase.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.ParseConfig(filepath.Join(t.TempDir(), "x.yaml"), src)
	if err != nil {
		t.Fatal(err)
	}
	if !cat.Traits.Has("hw:soc:bcm2712") {
		t.Error("trait registry not loaded")
	}
	if plan, err := ResolveConfig(cfg, cat); err != nil || !plan.HasToken("hw:soc:bcm2712") || !plan.HasToken("hw:device:rpi") {
		t.Errorf("pi5 build must provide hw:soc:bcm2712 through its trait triggers: %v", err)
	}
	// A variable conflict from a real layer: NVMe storage without the trait.
	if err := cfg.Set("device.storage_type", "nvme"); err != nil {
		t.Fatal(err)
	}
	if probs := Validate(cfg, cat); len(probs) != 1 || !strings.Contains(probs[0].String(), "device.storage_type (IGconf_device_storage_type): 'nvme' conflicts with the build: IGconf_device_storage_type == 'nvme' and not has('hw:storage:nvme') (layer rpi5)") {
		t.Errorf("nvme conflict: %v", probs)
	}
	if err := cfg.Set("trait.hw:storage:nvme", "true"); err != nil {
		t.Fatal(err)
	}
	if probs := Validate(cfg, cat); len(probs) != 0 {
		t.Errorf("nvme with the trait set: %v", probs)
	}
	if err := cfg.Delete("device.storage_type"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Delete("trait"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Set("image.rootfs_type", "xfs"); err != nil {
		t.Fatal(err)
	}
	probs := Validate(cfg, cat)
	if len(probs) != 1 || !strings.HasSuffix(probs[0].String(), ": image.rootfs_type (IGconf_image_rootfs_type): 'xfs' is not one of ext4, btrfs (layer image-rpios)") {
		t.Errorf("xfs: %v", probs)
	}
}

// upstreamUndefinedRef: the real image-rpios reads IGconf_linux_page_size
// in its ext4 trigger; a device layer that does not pull in linux-base
// (as the test device qemu-virt once did) makes the build stop with
// "Undefined variable", which validation reports first.
func upstreamUndefinedRef(t *testing.T, dir string) {
	t.Helper()
	src := t.TempDir()
	dev := filepath.Join(src, "device", "bare")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	const header = "# METABEGIN\n# X-Env-Layer-Name: bare-virt\n# X-Env-Layer-Category: device\n# X-Env-Layer-Requires: device-base\n# X-Env-Layer-Provides: device\n# METAEND\n---\nmmdebstrap: {}\n"
	if err := os.WriteFile(filepath.Join(dev, "device.yaml"), []byte(header), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, err := LoadCatalog(CatalogOptions{ToolDir: dir, SourceDirs: []string{src}, Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	const text = "device: {layer: bare-virt, hostname: v}\nimage: {layer: image-rpios, name: v, rootfs_type: %s}\nlayer: {base: debian-trixie-arm64}\n"
	cfg, err := config.ParseConfig("v.yaml", []byte(strings.Replace(text, "%s", "ext4", 1)))
	if err != nil {
		t.Fatal(err)
	}
	probs := Validate(cfg, cat)
	if len(probs) != 1 || !probs[0].InLayer || probs[0].Var != "IGconf_linux_page_size" || probs[0].Layer != "image-rpios" ||
		!strings.HasSuffix(probs[0].File, "image/mbr/simple_dual/image.yaml") || !strings.Contains(probs[0].Msg, "linux-base") {
		t.Errorf("undefined page size: %v", probs)
	}
	for _, fix := range []string{"layer: {linux: linux-base}\n", "linux: {page_size: 4096}\n"} {
		cfg, err := config.ParseConfig("v.yaml", []byte(strings.Replace(text, "%s", "ext4", 1)+fix))
		if err != nil {
			t.Fatal(err)
		}
		if probs := Validate(cfg, cat); len(probs) != 0 {
			t.Errorf("with %s: %v", fix, probs)
		}
	}
	cfg, _ = config.ParseConfig("v.yaml", []byte(strings.Replace(text, "%s", "btrfs", 1)))
	if probs := Validate(cfg, cat); len(probs) != 0 {
		t.Errorf("btrfs: %v", probs)
	}
}
