// Package cause picks the one cause of a failed rpi-image-gen run from its
// log, with the advice that fixes it.
//
// The first line that matches a specific rule (host tools or SBOM tool
// download offline, apt mirror unreachable, apt keyring errors, missing
// binfmt, missing host packages, disk full, missing privileges, genimage,
// a variable no layer declares)
// wins. When no specific rule matches, the first generic error line
// ("Error: ...", "E: ...") is the cause. The tool's environment dump
// ("Error: [IGconf_...=... ] (N)") is never a cause.
//
// The CLI, the GUI and the run record all take the cause from here, so
// they show the same words.
package cause

import (
	"bufio"
	"io"
	"regexp"
	"strings"

	"github.com/pistudio/pistudio/builder/config"
)

// Kind classifies a cause.
type Kind string

// The kinds of causes.
const (
	// HostToolsOffline: the first-run download of the tool's host tools
	// (bdebstrap, genimage, libconfuse, zstd) from GitHub failed.
	HostToolsOffline Kind = "host-tools-offline"
	// SBOMOffline: the SBOM step could not download syft.
	SBOMOffline Kind = "sbom-offline"
	// AptOffline: an apt archive could not be reached.
	AptOffline Kind = "apt-offline"
	// AptKeyring: apt refused an archive (signature, keyring, missing package).
	AptKeyring Kind = "apt-keyring"
	// Binfmt: programs of the target architecture cannot run on this host.
	Binfmt Kind = "binfmt"
	// HostPackages: Debian packages the tool needs are not installed.
	HostPackages Kind = "host-packages"
	// DiskFull: a file system ran out of space.
	DiskFull Kind = "disk-full"
	// Privileges: the build needs root or a working user namespace.
	Privileges Kind = "privileges"
	// Genimage: genimage could not assemble the image.
	Genimage Kind = "genimage"
	// Overrides: an override after -- is malformed.
	Overrides Kind = "overrides"
	// UndefinedVariable: a layer's value refers to ${IGconf_...} that no
	// layer of the build declares and the config does not set.
	UndefinedVariable Kind = "undefined-variable"
	// InvalidValue: a variable's value is not one a schema of the tool
	// allows (the image description document's device class).
	InvalidValue Kind = "invalid-value"
	// Generic: an error line no specific rule knows.
	Generic Kind = "error"
	// Runner: a failure of Pi Image Studio itself (not read from the log).
	Runner Kind = "runner"
)

// Cause is why a run failed, and what to do about it.
type Cause struct {
	// Kind classifies the cause.
	Kind Kind `json:"kind"`
	// Summary says in one sentence what went wrong.
	Summary string `json:"summary"`
	// Fix says what to do.
	Fix string `json:"fix"`
	// Packages are Debian packages whose installation fixes the cause.
	Packages []string `json:"packages,omitempty"`
	// Line is the log line the cause was read from (without the log's
	// "[err] " prefix); empty for Runner causes.
	Line string `json:"line,omitempty"`
	// LineNo is Line's 1-based number among the lines fed; 0 for Runner.
	LineNo int `json:"line_no,omitempty"`
}

// String is the summary and the fix on two lines.
func (c Cause) String() string {
	s := c.Summary
	if c.Fix != "" {
		s += "\nfix: " + c.Fix
	}
	return s
}

// SBOMVariable is the variable that turns the tool's SBOM step off.
const SBOMVariable = "IGconf_sbom_enable"

// maxLine is the longest line the rules look at; longer lines are cut.
const maxLine = 4096

type rule struct {
	kind Kind
	re   *regexp.Regexp
	make func(m []string) Cause
}

var (
	envLine   = regexp.MustCompile(`^Error: \[.*\] \(\d+\)$`)
	pkgIntro  = "This can be resolved on Debian systems by installing:"
	pkgListRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*( [a-z0-9][a-z0-9+.-]*)*$`)
)

// pythonPackages maps Python modules the tool imports to Debian packages.
var pythonPackages = map[string]string{
	"debian":     "python3-debian",
	"yaml":       "python3-yaml",
	"ruamel":     "python3-ruamel.yaml",
	"jsonschema": "python3-jsonschema",
}

var rules = []rule{
	{SBOMOffline, regexp.MustCompile(`Could not resolve host:? '?(get\.anchore\.io|toolbox-data\.anchore\.io)|^Error: syft is unusable`), func([]string) Cause {
		return Cause{
			Summary: "The SBOM step downloads syft from get.anchore.io, which cannot be reached.",
			Fix:     "Turn SBOM off in the config (sbom: enable: n, the variable " + SBOMVariable + "=n) or connect this machine to the network, then build again.",
		}
	}},
	{HostToolsOffline, regexp.MustCompile(`Could not resolve host:? '?(github\.com|codeload\.github\.com|objects\.githubusercontent\.com)|no verified source succeeded for (\S+)`), func([]string) Cause {
		return Cause{
			Summary: "rpi-image-gen downloads its host tools (bdebstrap, genimage, libconfuse) from GitHub on its first run, and GitHub cannot be reached.",
			Fix:     "Connect this machine to the network once and build again: Pi Image Studio keeps the downloaded tools in its cache and later builds run offline (IG_OFFLINE=y). Or copy the tarballs into the cache's host-tools folder (pistudio doctor shows it).",
		}
	}},
	{AptOffline, regexp.MustCompile(`Could not resolve '([A-Za-z0-9.-]+)'|Temporary failure resolving '([A-Za-z0-9.-]+)'|Failed to fetch (?:https?://)?([A-Za-z0-9.-]+)`), func(m []string) Cause {
		host := firstNonEmpty(m[1:]...)
		return Cause{
			Summary: "The apt archive " + host + " cannot be reached while building the filesystem.",
			Fix:     "Check the network, DNS or the apt proxy (sys.apt_proxy in the config) and build again.",
		}
	}},
	{AptKeyring, regexp.MustCompile(`NO_PUBKEY ([0-9A-F]+)|signatures couldn't be verified|is not signed|does not have a Release file|Unable to locate package (\S+)|[Kk]eyring \S* ?(?:not found|does not exist)`), func(m []string) Cause {
		if m[2] != "" {
			return Cause{
				Summary: "apt cannot find the package " + m[2] + " in the configured archives.",
				Fix:     "Check the package name in the config's layers and that the archive providing it (and its keyring) is configured, then build again.",
			}
		}
		return Cause{
			Summary: "apt refused an archive: its signature cannot be checked with the keys the build has.",
			Fix:     "Install the archive's keyring (for Debian: sudo apt-get install debian-archive-keyring; for Raspberry Pi archives the tree's keydir must hold raspberrypi-archive-keyring) and build again.",
		}
	}},
	{Binfmt, regexp.MustCompile(`(?i)exec format error|qemu-aarch64(?:-static)?: (?:not found|No such file)|binfmt_misc\S* .*(?:not|missing|unavailable)`), func([]string) Cause {
		return Cause{
			Summary:  "Programs for the image's architecture cannot run on this host: no qemu binfmt handler is registered.",
			Fix:      "Install qemu-user-static and binfmt-support (sudo apt-get install qemu-user-static binfmt-support) and build again.",
			Packages: []string{"qemu-user-static", "binfmt-support"},
		}
	}},
	{HostPackages, regexp.MustCompile(`^Required dependencies \(([a-z]+)\) not installed|^Dependency (\S+) \((\S+)\) is installed, but not found|No module named '([A-Za-z0-9_]+)|^(?:/\S+: )?(?:line \d+: )?([A-Za-z0-9_.+-]+): command not found`), hostPackages},
	{DiskFull, regexp.MustCompile(`No space left on device|[Dd]isk quota exceeded`), func([]string) Cause {
		return Cause{
			Summary: "A file system ran out of space during the build.",
			Fix:     "Free space in the work folder's file system (a build needs about 10 GiB) or choose a work folder on a bigger disk, then build again.",
		}
	}},
	{Privileges, regexp.MustCompile(`unshare.*(?:Operation not permitted|failed)|newuidmap.*(?:failed|not permitted)|(?:must|need to) be (?:run as )?root|mmdebstrap.*(?:root|unshare) mode`), func([]string) Cause {
		return Cause{
			Summary: "The build needs root or working user namespaces (podman unshare), and has neither.",
			Fix:     "Run the build as root (sudo pistudio build ...), or install podman and uidmap and make sure user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1).",
		}
	}},
	// The image's Image Description Provisioning document (image-rpios's
	// post-image step) names a value its schema does not allow:
	// "at $.IGmeta/IGconf_device_class: 'qemu-virt' is not one of ['pi4', ...]".
	{InvalidValue, regexp.MustCompile(`^at \$\.IGmeta/(IGconf_[A-Za-z0-9_]+): '([^']*)' is not one of \[(.*)\]`), invalidValue},
	// mke2fs -d running out of blocks while it copies the root filesystem in.
	{Genimage, regexp.MustCompile(`^mke2fs: Could not allocate block in ext2 filesystem while populating`), func([]string) Cause {
		return Cause{
			Summary: "The root partition is too small for the root filesystem: mke2fs ran out of blocks while copying it in.",
			Fix:     "Raise image.root_part_size in the config (a size such as 2G rather than 100%), then build the image again (-i).",
		}
	}},
	// mcopy filling the FAT that genimage (or the image layer) makes.
	{Genimage, regexp.MustCompile(`^Disk full$`), func([]string) Cause {
		return Cause{
			Summary: "The boot partition (FAT) is too small for the files the build puts on it: mcopy found it full.",
			Fix:     "Raise image.boot_part_size in the config so that everything under /boot/firmware fits (kernel, initramfs, firmware), then build the image again (-i).",
		}
	}},
	{Genimage, regexp.MustCompile(`genimage error \(([^)]*)\)|^ERROR: [a-z0-9-]+\(([^)]*)\): (.*)$`), func(m []string) Cause {
		what := firstNonEmpty(m[1], m[2])
		return Cause{
			Summary: "genimage could not assemble the disk image (" + what + ").",
			Fix:     "The usual cause is a partition too small for its contents: raise image.boot_part_size / image.root_part_size in the config, then build the image again (-i).",
		}
	}},
	{UndefinedVariable, regexp.MustCompile(`Undefined variable '([A-Za-z_][A-Za-z0-9_]*)'`), undefinedVariable},
	// A layer's hook script (sh with set -u) reads a variable nothing set:
	// "./customize10-pmap: 20: IGconf_device_luks2_cipher: parameter not set".
	{UndefinedVariable, regexp.MustCompile(`^(\S+): (?:line )?\d+: (IGconf_[A-Za-z0-9_]+): (?:parameter not set|unbound variable)`), hookVariable},
	{Overrides, regexp.MustCompile(`Overrides must be provided as key=value pairs`), func([]string) Cause {
		return Cause{
			Summary: "An override after -- is not KEY=VALUE.",
			Fix:     "Write overrides as IGconf_section_key=value.",
		}
	}},
}

// undefinedVariable is the cause of rpi-image-gen's "Variable resolution
// failed: Undefined variable 'IGconf_linux_page_size'": a value a layer
// assigns refers to a variable nothing in the build sets.
func undefinedVariable(m []string) Cause {
	return Cause{
		Summary: "A layer of the build refers to the variable " + m[1] + ", but no layer of the config declares it and the config does not set it.",
		Fix:     undefinedFix(m[1]),
	}
}

// configKey is the config's section and key of IGconf_<section>_<key>
// (config.SplitEnvName); ok is false for other names and for a name
// without both.
func configKey(name string) (section, key string, ok bool) {
	section, key, ok = config.SplitEnvName(name)
	return section, key, ok && section != "" && key != ""
}

// undefinedFix says how to give a variable nothing set a value: in the
// config, or by the layer that declares it.
func undefinedFix(name string) string {
	section, key, ok := configKey(name)
	if !ok {
		return "Set " + name + " in the config's env: section, or add the layer that sets it to the build, then build again."
	}
	return "Set it in the config (" + section + ": {" + key + ": ...}), or add the layer that declares it " +
		"(its header has X-Env-VarPrefix: " + section + " and X-Env-Var-" + key + "; pistudio validate names it) " +
		"to the build, then build again."
}

// invalidValue is the cause of a value the image description document's
// schema does not allow.
func invalidValue(m []string) Cause {
	c := Cause{
		Summary: "The image description document (IDP) that the image layer writes accepts only " + m[3] +
			" as " + m[1] + "; the build has '" + m[2] + "'.",
		Fix: undefinedFix(m[1]),
	}
	if section, key, ok := configKey(m[1]); ok {
		c.Fix = "Set it to one of them in the config (" + section + ": {" + key + ": ...}), then build again."
	}
	return c
}

// hookVariable is the cause of a layer hook stopping on a variable that
// nothing set (sh's "parameter not set", bash's "unbound variable"): the
// hook reads it, no layer of the build declares it.
func hookVariable(m []string) Cause {
	return Cause{
		Summary: "The layer hook " + strings.TrimPrefix(m[1], "./") + " reads the variable " + m[2] +
			", but no layer of the config declares it and the config does not set it.",
		Fix: undefinedFix(m[2]),
	}
}

func hostPackages(m []string) Cause {
	c := Cause{
		Summary: "Debian packages rpi-image-gen needs are not installed.",
		Fix:     "Install them (pistudio doctor lists them and the apt-get command), or run the tree's install_deps.sh as root, then build again.",
	}
	switch {
	case m[2] != "":
		c.Summary = "The program " + m[2] + " (package " + m[3] + ") is installed but cannot be found on PATH."
		c.Fix = "Reinstall it (sudo apt-get install --reinstall " + m[3] + ") and build again."
	case m[4] != "":
		if p, ok := pythonPackages[m[4]]; ok {
			c.Summary = "Python cannot import " + m[4] + ": the Debian package " + p + " is missing (or a python3 outside /usr/bin is used)."
			c.Packages = []string{p}
			c.Fix = "sudo apt-get install " + p + ", then build again."
		} else {
			c.Summary = "Python cannot import " + m[4] + "."
		}
	case m[5] != "":
		c.Summary = "The program " + m[5] + " is not installed."
	}
	return c
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

var genericRe = regexp.MustCompile(`^(?:Error|ERROR|E|error|Fatal|FATAL): (.+)$`)

// IsEnvironmentLine reports whether line is the tool's environment dump
// ("Error: [IG_...=... IGconf_...=...] (N)"), which is never a cause.
func IsEnvironmentLine(line string) bool { return envLine.MatchString(clean(line)) }

// Match returns the cause a single log line shows, if it shows one.
// Generic error lines are not matched here; see Finder.
func Match(line string) (Cause, bool) {
	line = clean(line)
	if line == "" || envLine.MatchString(line) || !mayMatch(line) {
		return Cause{}, false
	}
	for _, r := range rules {
		if m := r.re.FindStringSubmatch(line); m != nil {
			c := r.make(m)
			c.Kind, c.Line = r.kind, line
			return c, true
		}
	}
	return Cause{}, false
}

// mayMatch is a cheap filter run before the patterns.
func mayMatch(line string) bool {
	for _, w := range []string{"resolve", "verified source", "syft", "Failed to fetch", "PUBKEY", "signature", "signed",
		"Release file", "locate package", "eyring", "xec format", "qemu-", "binfmt", "Required dependencies",
		"Dependency ", "No module", "not found", "No space", "quota", "unshare", "newuidmap", "root",
		"genimage", "ERROR: ", "Overrides", "Undefined variable", "parameter not set", "unbound variable", "Disk full", "Could not allocate block", "is not one of"} {
		if strings.Contains(line, w) {
			return true
		}
	}
	return false
}

// clean drops the log's stream prefix and surrounding space and cuts
// overlong lines.
func clean(line string) string {
	line = strings.TrimPrefix(line, "[err] ")
	line = strings.TrimSpace(line)
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	return line
}

// Finder reads a run's lines in order and keeps the first cause. The zero
// value is ready. It is not safe for concurrent use.
type Finder struct {
	n        int
	first    *Cause
	generic  *Cause
	wantPkgs int // lines left in which the package list may follow
}

// Line feeds the next line of output (escape codes already stripped; a
// log file's "[err] " prefix is allowed). Lines of Pi Image Studio itself
// ("[pistudio] ...") are counted but never a cause.
func (f *Finder) Line(line string) {
	f.n++
	if strings.HasPrefix(line, "[pistudio] ") {
		return
	}
	line = clean(line)
	if f.wantPkgs > 0 {
		f.wantPkgs--
		if line == pkgIntro {
			f.wantPkgs = 1
			return
		}
		if line != "" && pkgListRe.MatchString(line) && f.wantPkgs < 3 {
			f.first.Packages = strings.Fields(line)
			f.first.Fix = "Install them: sudo apt-get install " + line + " (pistudio doctor can do it), then build again."
			f.wantPkgs = 0
			return
		}
	}
	if f.first != nil {
		return
	}
	if c, ok := Match(line); ok {
		c.LineNo = f.n
		f.first = &c
		if c.Kind == HostPackages && strings.HasPrefix(line, "Required dependencies") {
			f.wantPkgs = 4
		}
		return
	}
	if f.generic == nil && !envLine.MatchString(line) {
		if m := genericRe.FindStringSubmatch(line); m != nil {
			f.generic = &Cause{
				Kind:    Generic,
				Summary: "rpi-image-gen stopped with an error: " + m[1],
				Fix:     "Read the lines above it in the log; fix what they name and build again.",
				Line:    line,
				LineNo:  f.n,
			}
		}
	}
}

// Cause returns the cause found so far: the first specific one, else the
// first generic error line.
func (f *Finder) Cause() (Cause, bool) {
	switch {
	case f.first != nil:
		c := *f.first
		c.Packages = append([]string(nil), c.Packages...)
		return c, true
	case f.generic != nil:
		return *f.generic, true
	}
	return Cause{}, false
}

// FromLog reads a run log (as the runner writes it) and returns its cause.
func FromLog(r io.Reader) (Cause, bool, error) {
	var f Finder
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			f.Line(strings.TrimRight(string(b), "\r\n"))
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			c, ok := f.Cause()
			return c, ok, err
		}
	}
	c, ok := f.Cause()
	return c, ok, nil
}
