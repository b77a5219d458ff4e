package firstboot

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// schemaCheck validates cloud-config files with cloud-init's own schema
// (strict) and parses a network-config with its version 2 parser.
const schemaCheck = `
import sys, types
try:
    import configobj
except ImportError:  # only imported by parsers the check does not use
    stub = types.ModuleType('configobj')
    stub.ConfigObj = object
    sys.modules['configobj'] = stub
sys.path.insert(0, sys.argv[1])
import yaml
from cloudinit.config.schema import validate_cloudconfig_schema, get_schema
from cloudinit.net import network_state
validate_cloudconfig_schema(yaml.safe_load(open(sys.argv[2])), get_schema(), strict=True)
network_state.parse_net_config_data(yaml.safe_load(open(sys.argv[3]))["network"])
`

// TestCloudInitSchema checks the rendered seed with cloud-init itself.
// It is opt-in: PISTUDIO_CLOUDINIT_PY names cloud-init's Python package
// directory, e.g. from `apt-get download cloud-init; dpkg -x cloud-init_*.deb
// DIR` the folder DIR/usr/lib/python3/dist-packages (python3-yaml,
// python3-jsonschema and python3-jinja2 installed; python3-configobj
// is not needed).
func TestCloudInitSchema(t *testing.T) {
	pkg := os.Getenv("PISTUDIO_CLOUDINIT_PY")
	if pkg == "" {
		t.Skip("set PISTUDIO_CLOUDINIT_PY to cloud-init's dist-packages directory")
	}
	for name, s := range map[string]Settings{"full": fullSettings(), "open": {Hostname: "h", WifiSSID: "guest", WifiCountry: "DE", WifiHidden: true}} {
		p, err := Render(s, CloudInit, RenderOptions{InstanceID: "i"})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, f := range p.Files {
			if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command("python3", "-c", schemaCheck, pkg, filepath.Join(dir, "user-data"), filepath.Join(dir, "network-config")).CombinedOutput()
		if err != nil {
			t.Errorf("%s: cloud-init refuses the seed: %v\n%s", name, err, out)
		}
	}
}
