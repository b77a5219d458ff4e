package cause

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pistudio/pistudio/builder/config"
)

// envDumpRe matches the lines of the tool's variable listing
// ("IGconf_device_class=pi5", "[SET]  IGconf_image_name=x (layer: y)",
// "[SKIP]  IGconf_x (already set)").
var envDumpRe = regexp.MustCompile(`^(?:\[[A-Z]+\]\s+)?IGconf_[A-Za-z0-9_]+(?:=|\s|$)`)

// isEnvDump reports whether line is part of the tool's environment dump or
// variable listing, which is never a cause. Lines that merely name a
// variable (an error about it) are not.
func isEnvDump(line string) bool {
	line = strings.TrimSpace(strings.TrimPrefix(line, "[err] "))
	return IsEnvironmentLine(line) || envDumpRe.MatchString(line)
}

func TestIsEnvDump(t *testing.T) {
	for line, want := range map[string]bool{
		"Error: [IG_ENABLE_HOST_BDEBSTRAP=y IGconf_device_layer=rpi5] (1)": true,
		"IGconf_device_class=pi5":                                                       true,
		"[SET]  IGconf_image_name=x (layer: image-base)":                                true,
		"  [SKIP]  IGconf_deploy_compression (already set) (layer: deploy-base)":        true,
		"[err] Variable resolution failed: Undefined variable 'IGconf_linux_page_size'": false,
		"Error: pipeline failed":                                                        false,
	} {
		if got := isEnvDump(line); got != want {
			t.Errorf("isEnvDump(%q) = %v, want %v", line, got, want)
		}
	}
}

// TestFromLogRealRuns reads the logs of real failed runs: each has one
// cause, the first real one, never the environment dump.
func TestFromLogRealRuns(t *testing.T) {
	tests := []struct {
		file     string
		want     Kind
		wantLine int
		fixHas   string
		sumHas   string
	}{
		{"full-offline-hosttools.log", HostToolsOffline, 182, "IG_OFFLINE", "GitHub"},
		{"raid-full-offline-sbom.log", SBOMOffline, 399, SBOMVariable, "syft"},
		{"debian-virt-undefined-variable.log", UndefinedVariable, 120, "linux: {page_size: ...}", "IGconf_linux_page_size"},
		{"debian-virt-boot-partition-full.log", Genimage, 504, "boot_part_size", "boot partition (FAT) is too small"},
		{"debian-virt-root-partition-full.log", Genimage, 510, "root_part_size", "root partition is too small"},
		{"debian-virt-idp-device-class.log", InvalidValue, 523, "device: {class: ...}", "has 'qemu-virt'"},
		{"debian-virt-hook-parameter-not-set.log", UndefinedVariable, 414, "device: {luks2_cipher: ...}", "customize10-pmap reads the variable IGconf_device_luks2_cipher"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, ok, err := FromLog(f)
			if err != nil || !ok {
				t.Fatalf("FromLog = %+v, %v, %v", c, ok, err)
			}
			if c.Kind != tc.want || c.LineNo != tc.wantLine || !strings.Contains(c.Fix, tc.fixHas) || !strings.Contains(c.Summary, tc.sumHas) {
				t.Errorf("cause = %+v; want kind %s at line %d with fix naming %s and summary naming %s", c, tc.want, tc.wantLine, tc.fixHas, tc.sumHas)
			}
			if isEnvDump(c.Line) {
				t.Errorf("the environment line was taken as the cause: %.80s", c.Line)
			}
		})
	}
}

// TestFromLogNoCause: a successful run and a run whose reason is only the
// runner's own line have no cause in the tool's output.
func TestFromLogNoCause(t *testing.T) {
	for _, name := range []string{"stage1-debian-ok.log", "raid-image-only-noversion.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if c, ok, err := FromLog(strings.NewReader(string(b))); ok || err != nil {
			t.Errorf("%s: cause %+v, %v; want none", name, c, err)
		}
	}
}

// TestFromLogHandFed covers the causes no real run has shown yet, with
// the surrounding noise of a real log.
func TestFromLogHandFed(t *testing.T) {
	const envDump = "[err] Error: [IG_ENABLE_HOST_BDEBSTRAP=y IGconf_device_layer=rpi5 IGconf_sys_workroot=/w] (1)\n"
	const noise = "[err] dpkg: error processing package sudo (--purge):\n[err]  installed sudo package pre-removal script subprocess returned error exit status 1\n"
	tests := []struct {
		name string
		log  string
		want Kind
		pkgs string
	}{
		{"binfmt", noise + "[err] chroot: failed to run command '/bin/true': Exec format error\n" + envDump, Binfmt, "qemu-user-static binfmt-support"},
		{"host packages", "Required dependencies (build) not installed\n\nThis can be resolved on Debian systems by installing:\nmmdebstrap uidmap dosfstools\n\nScript install_deps.sh can be used for this purpose.\n" + envDump, HostPackages, "mmdebstrap uidmap dosfstools"},
		{"python module", "[err] ModuleNotFoundError: No module named 'debian'\n" + envDump, HostPackages, "python3-debian"},
		{"apt keyring", "[err] W: GPG error: http://deb.debian.org/debian trixie InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 6ED0E7B82643E131\n[err] E: The repository 'http://deb.debian.org/debian trixie InRelease' is not signed.\n" + envDump, AptKeyring, ""},
		{"apt mirror offline", "[err] W: Failed to fetch http://deb.debian.org/debian/dists/trixie/InRelease  Temporary failure resolving 'deb.debian.org'\n" + envDump, AptOffline, ""},
		{"disk full", noise + "[err] tar: ./usr/lib/x: Cannot write: No space left on device\n" + envDump, DiskFull, ""},
		{"not root", "[err] unshare: unshare failed: Operation not permitted\n" + envDump, Privileges, ""},
		{"genimage", "[err] ERROR: hdimage(raid.img): partition root: too big\n" + envDump, Genimage, ""},
		{"generic error", noise + "Error: something else broke\n" + envDump, Generic, ""},
		{"only the environment", envDump, "", ""},
		{"first wins", "[err] unshare: unshare failed: Operation not permitted\n[err] tar: x: Cannot write: No space left on device\n", Privileges, ""},
		{"specific beats earlier generic", "Error: Stage 'x' failed\ncurl: (6) Could not resolve host: github.com\n", HostToolsOffline, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok, err := FromLog(strings.NewReader(tc.log))
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if ok {
					t.Fatalf("cause %+v; want none", c)
				}
				return
			}
			if !ok || c.Kind != tc.want {
				t.Fatalf("cause = %+v, %v; want kind %s", c, ok, tc.want)
			}
			if got := strings.Join(c.Packages, " "); got != tc.pkgs {
				t.Errorf("packages = %q, want %q", got, tc.pkgs)
			}
			if c.Summary == "" || c.Fix == "" {
				t.Errorf("cause without summary or fix: %+v", c)
			}
		})
	}
}

// TestUndefinedVariableKey: the fix names the config key of the variable
// the way the config package maps IGconf_<section>_<key>; a name without
// that shape is set through env:.
func TestUndefinedVariableKey(t *testing.T) {
	for _, name := range []string{"IGconf_linux_page_size", "IGconf_sys_apt_cachedir", "IGconf_abslot_overlay"} {
		c, ok := Match("Variable resolution failed: Undefined variable '" + name + "'")
		section, key, _ := config.SplitEnvName(name)
		if !ok || c.Kind != UndefinedVariable || !strings.Contains(c.Fix, section+": {"+key+": ...}") || !strings.Contains(c.Summary, name) {
			t.Errorf("%s: cause %+v, %v", name, c, ok)
		}
	}
	c, ok := Match("Undefined variable: Undefined variable 'MY_VAR'")
	if !ok || c.Kind != UndefinedVariable || !strings.Contains(c.Fix, "env:") {
		t.Errorf("MY_VAR: cause %+v, %v", c, ok)
	}
}

// TestFinderSkipsOwnLines: the runner's own lines never become a cause.
func TestFinderSkipsOwnLines(t *testing.T) {
	var f Finder
	f.Line("[pistudio] Error: no space left on device")
	f.Line("[pistudio] E: Could not resolve 'deb.debian.org'")
	if c, ok := f.Cause(); ok {
		t.Errorf("cause %+v from the runner's own lines", c)
	}
}

// FuzzFromLog: any bytes give at most one cause, whose line is one of the
// input's lines (cut to maxLine) and whose advice is never empty.
func FuzzFromLog(f *testing.F) {
	for _, name := range []string{"full-offline-hosttools.log", "raid-full-offline-sbom.log", "debian-virt-undefined-variable.log", "debian-virt-hook-parameter-not-set.log", "debian-virt-boot-partition-full.log", "debian-virt-root-partition-full.log", "debian-virt-idp-device-class.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("Required dependencies (build) not installed\n\nThis can be resolved on Debian systems by installing:\nx y\n")
	f.Add("Error: [A=b] (1)\nE: boom\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, ok, err := FromLog(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if c.Summary == "" || c.Fix == "" || c.Kind == "" || c.LineNo < 1 {
			t.Fatalf("incomplete cause %+v", c)
		}
		if envLine.MatchString(c.Line) {
			t.Fatalf("environment line as cause: %q", c.Line)
		}
		if !strings.Contains(s, strings.TrimSpace(strings.TrimPrefix(c.Line, "[err] "))) {
			t.Fatalf("cause line %q is not in the input", c.Line)
		}
	})
}
