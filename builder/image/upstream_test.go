package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// upstreamPipeline runs rpi-image-gen's own parameter assembly and layer
// pipeline (what `rpi-image-gen build` does before it bootstraps anything)
// for config with our layers as a -S source dir. It prints the resolved
// IGconf_raid_* variables.
const upstreamPipeline = `
set -eu
IG=$1; CFG=$2; SRC=$3; W=$4; LEVEL=${5:-}
T=$W/t; mkdir -p $T/dyn/layer
"$IG/bin/ig" env build -c "$CFG" -S "$SRC" -B "$W" > $T/host.json
eval "$("$IG/scripts/host2sh.py" $T/host.json)"
printf 'IGconf_sys_workroot="%s"\n' "$W" > $T/ovr
[ -z "$LEVEL" ] || printf 'IGconf_raid_level=%s\n' "$LEVEL" >> $T/ovr
"$IG/bin/ig" metadata --emit "$IG/registry.defs" > $T/registry.env
"$IG/bin/ig" config --path "$HOST_CONFIG_PATH" "$HOST_CONFIG_FILE" --overrides $T/ovr --write-to $T/user.env >/dev/null
cat $T/registry.env $T/user.env > $T/config.env
cat >> $T/config.env <<EOF
DEB_BUILD_ARCH="amd64"
DEB_BUILD_GNU_TYPE="x86_64-linux-gnu"
DEB_HOST_ARCH="arm64"
DEB_HOST_GNU_TYPE="aarch64-linux-gnu"
TOOLCHAIN_MODE="cross"
IGTOP="$IG"
IGROOT="$IG"
LAYER_HOOKS="$IG/layer-hooks"
RPI_TEMPLATES="$IG/templates/rpi"
DYNROOT="$T/dyn"
EOF
layers="essential"
for k in IGconf_device_layer IGconf_image_layer; do
	layers="$layers $(sed -n "s/^$k=\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" $T/config.env | tail -n1)"
done
layers="$layers $(sed -n 's/^IGconf_layer_[a-z0-9_]*="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' $T/config.env)"
env -i PATH="$IG/bin:$PATH" "$IG/bin/ig" pipeline --env-in $T/config.env --layers $layers \
	--path "DYNlayer=$T/dyn/layer:$HOST_LAYER_PATH" --env-out $T/env.out --plan-out $T/layer.plan >$T/pipeline.log 2>&1 ||
	{ sed 's/\x1b\[[0-9;]*m//g' $T/pipeline.log | grep -E 'Error|FAIL' >&2; exit 1; }
grep '^IGconf_raid_' $T/env.out
grep -c '^raid:' $T/layer.plan
`

// TestRaidLayerUpstreamPipeline is opt-in: set PISTUDIO_UPSTREAM_TREE to an
// rpi-image-gen checkout (it needs python3-yaml and python3-debian). It
// checks that rpi-image-gen's own parameter assembly accepts our raid layer
// from a -S dir with the example config, and rejects a level it does not list.
func TestRaidLayerUpstreamPipeline(t *testing.T) {
	ig := os.Getenv("PISTUDIO_UPSTREAM_TREE")
	if ig == "" {
		t.Skip("set PISTUDIO_UPSTREAM_TREE to an rpi-image-gen checkout to run")
	}
	_, self, _, _ := runtime.Caller(0)
	repo := filepath.Join(filepath.Dir(self), "..", "..")
	cfg := filepath.Join(repo, "assets", "configs", "raid-config.yaml")
	layers := filepath.Join(repo, "assets", "layers")
	run := func(level string) (string, error) {
		cmd := exec.Command("bash", "-c", upstreamPipeline, "_", ig, cfg, layers, t.TempDir(), level)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil {
		t.Fatalf("pipeline: %v\n%s", err, out)
	}
	for _, w := range []string{"IGconf_raid_level=RAID1", "IGconf_raid_devices=2", "IGconf_raid_sdcard_size=200M", "IGconf_raid_external_size=1G"} {
		if !strings.Contains(out, w) {
			t.Errorf("%s missing from the pipeline's environment:\n%s", w, out)
		}
	}
	t.Log(out)
	out, err = run("RAID5")
	t.Log(out)
	if err == nil || !strings.Contains(out, "IGconf_raid_level=RAID5") {
		t.Errorf("RAID5 accepted or not named: %v\n%s", err, out)
	}
}
