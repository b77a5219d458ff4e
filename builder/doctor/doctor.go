// Package doctor checks that this machine can build a config before a
// build starts: the Debian packages the rpi-image-gen tree lists as its
// dependencies, binfmt for the config's architecture, root or user
// namespaces, free space in the work folder, the per-user cache, and that
// the hosts the build downloads from resolve.
//
// Every check is read-only: dpkg-query, /proc/sys/fs/binfmt_misc, statfs
// and DNS lookups with a short timeout. A failed check says what to do;
// missing Debian packages come with the exact apt-get command line
// (InstallArgv) for the privileged helper or the terminal.
//
// Run is what the CLI (`pistudio doctor`), the build command and the GUI
// call; GetTool clones the tree when none is found.
package doctor

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/builder/runner"
)

// Status is the outcome of one check.
type Status string

// The statuses of a check, from good to bad.
const (
	// OK: nothing to do.
	OK Status = "ok"
	// Warn: the build may work, but the check found something to look at.
	Warn Status = "warn"
	// Fail: a build will fail until the fix is applied.
	Fail Status = "fail"
)

// The IDs of the checks. Network checks are NetworkID+host.
const (
	IDTool       = "tool"
	IDPackages   = "packages"
	IDBinfmt     = "binfmt"
	IDPrivileges = "privileges"
	IDSpace      = "space"
	IDCache      = "cache"
	NetworkID    = "network:"
)

// Check is the result of one check.
type Check struct {
	// ID identifies the check (IDPackages, "network:github.com", ...).
	ID string `json:"id"`
	// Name is a short title for people ("Debian packages").
	Name string `json:"name"`
	// Status is ok, warn or fail.
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what to do; empty when Status is OK.
	Fix string `json:"fix,omitempty"`
	// Packages are the missing Debian packages that fix the check when
	// installed (see InstallArgv and InstallCommand).
	Packages []string `json:"packages,omitempty"`
	// Command is a shell command line that fixes the check, when one does.
	Command string `json:"command,omitempty"`
}

// Resolver looks up host names; *net.Resolver is one. Tests pass a fake.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Options say what to check and replace parts of the machine in tests.
type Options struct {
	// ToolDir is the rpi-image-gen tree; empty means none was found.
	ToolDir string
	// WorkDir is the build's work folder (-B).
	WorkDir string
	// Cache is the per-user cache builds use (Dir empty: none).
	Cache runner.Cache
	// Plan describes the config to build; nil checks the host for a
	// default build (arm64, SBOM on, Debian and Raspberry Pi archives).
	Plan *Plan
	// Stage is what will be built (the space needed depends on it).
	Stage runner.Stage
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// DNSTimeout bounds each lookup; 3 s when zero.
	DNSTimeout time.Duration
	// Installed reports which of pkgs are installed; nil runs dpkg-query.
	Installed func(ctx context.Context, pkgs []string) (map[string]bool, error)
	// Host replaces the machine for the binfmt, privilege and space checks.
	Host runner.Host
	// Progress, when set, is called with each check as it completes.
	Progress func(Check)
	// Skip names checks to leave out: an ID (IDBinfmt, "network:github.com")
	// or "network" for every host.
	Skip []string
}

func (o Options) skipped(id string) bool {
	for _, s := range o.Skip {
		if s == id || (s == "network" && strings.HasPrefix(id, NetworkID)) {
			return true
		}
	}
	return false
}

// Report is the outcome of Run.
type Report struct {
	// Checks in a fixed order: tool, packages, binfmt, privileges, space,
	// cache, then one per host.
	Checks []Check `json:"checks"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.count(Fail) > 0 }

// Warned reports whether any check warned.
func (r Report) Warned() bool { return r.count(Warn) > 0 }

func (r Report) count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Failures returns the failed checks.
func (r Report) Failures() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// MissingPackages returns every Debian package a check wants installed,
// sorted and without duplicates: the list to show before installing.
func (r Report) MissingPackages() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range r.Checks {
		for _, p := range c.Packages {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// String is the report as the CLI prints it: one line per check, the fix
// indented below a failure or warning.
func (r Report) String() string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-22s %s\n", strings.ToUpper(string(c.Status)), c.Name, c.Detail)
		if c.Status != OK && c.Fix != "" {
			fmt.Fprintf(&b, "      fix: %s\n", c.Fix)
		}
		if c.Status != OK && c.Command != "" {
			fmt.Fprintf(&b, "      run: %s\n", c.Command)
		}
	}
	return b.String()
}

// InstallArgv is the command the privileged helper runs to install pkgs:
// apt-get install with no recommends and no questions. Show pkgs to the
// user before running it.
func InstallArgv(pkgs []string) []string {
	return append([]string{"apt-get", "install", "-y", "--no-install-recommends"}, pkgs...)
}

// InstallCommand is the line a user types to install pkgs.
func InstallCommand(pkgs []string) string {
	return "sudo apt-get update && sudo apt-get install -y --no-install-recommends " + strings.Join(pkgs, " ")
}

// Run runs every check. It never fails as a whole: a check that cannot
// run reports Warn or Fail with the reason. ctx bounds the DNS lookups
// and dpkg-query.
func Run(ctx context.Context, o Options) Report {
	o = o.withDefaults()
	plan := DefaultPlan()
	if o.Plan != nil {
		plan = *o.Plan
	}
	var rep Report
	add := func(c Check) {
		if o.skipped(c.ID) {
			return
		}
		rep.Checks = append(rep.Checks, c)
		if o.Progress != nil {
			o.Progress(c)
		}
	}
	add(checkTool(o.ToolDir))
	if !o.skipped(IDPackages) {
		add(checkPackages(ctx, o, plan))
	}
	add(checkBinfmts(o.Host, append([]string{plan.Arch}, plan.ForeignArchs...)))
	add(checkPrivileges(o.Host))
	add(checkSpace(o, plan))
	cacheCheck, cacheComplete := checkCache(o)
	add(cacheCheck)
	if o.skipped("network") {
		return rep
	}
	toolsHere := cacheComplete || runner.WorkHasHostTools(o.ToolDir, o.WorkDir)
	for _, c := range checkHosts(ctx, o, plan, toolsHere) {
		add(c)
	}
	return rep
}

func (o Options) withDefaults() Options {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.DNSTimeout <= 0 {
		o.DNSTimeout = 3 * time.Second
	}
	if o.Installed == nil {
		o.Installed = dpkgInstalled
	}
	o.Host = o.Host.WithDefaults()
	return o
}

// checkHosts resolves the hosts of plan in parallel, in a fixed order.
func checkHosts(ctx context.Context, o Options, plan Plan, toolsCached bool) []Check {
	type want struct{ host, why string }
	var hosts []want
	seen := map[string]bool{}
	addHost := func(h, why string) {
		if h != "" && !seen[h] {
			seen[h] = true
			hosts = append(hosts, want{h, why})
		}
	}
	if !toolsCached {
		addHost("github.com", "the tool's host tools (bdebstrap, genimage, libconfuse) are downloaded from GitHub on the first build")
	}
	for _, h := range plan.Hosts {
		addHost(h, "an apt archive the config's layers install from")
	}
	if plan.SBOM {
		addHost("get.anchore.io", "the SBOM step downloads syft from it")
	}
	out := make([]Check, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = lookup(ctx, o, h.host, h.why, plan.SBOM && h.host == "get.anchore.io")
		}()
	}
	wg.Wait()
	return out
}

func lookup(ctx context.Context, o Options, host, why string, sbom bool) Check {
	c := Check{ID: NetworkID + host, Name: host}
	lctx, cancel := context.WithTimeout(ctx, o.DNSTimeout)
	defer cancel()
	addrs, err := o.Resolver.LookupHost(lctx, host)
	if err == nil && len(addrs) > 0 {
		c.Status, c.Detail = OK, "resolves ("+why+")"
		return c
	}
	c.Status = Fail
	c.Detail = fmt.Sprintf("%s does not resolve: %v; %s", host, err, why)
	switch {
	case sbom:
		c.Fix = "turn SBOM off in the config (sbom: enable: n, the variable IGconf_sbom_enable=n) or connect this machine to the network"
	case host == "github.com":
		c.Fix = "connect this machine to the network for the first build (later builds use the cache), or put the host-tool tarballs into the cache folder"
	default:
		c.Fix = "check the network, DNS or the apt proxy (sys.apt_proxy in the config)"
	}
	return c
}

// ForJob returns base completed for a build of job: its tree, work
// folder, stage and the plan of its config (DefaultPlan when the config's
// layers cannot be resolved; the validation reports that). Stages that
// run no emulation and download nothing (image, clean) skip the binfmt,
// package and network checks. The CLI's build and the GUI's Build button
// call Run with it before starting a job.
func ForJob(job runner.Job, base Options) Options {
	o := base
	o.ToolDir, o.WorkDir, o.Stage = job.ToolDir, job.WorkDir, job.Stage
	o.Skip = append([]string(nil), base.Skip...)
	if job.Stage == runner.StageImage || job.Stage == runner.StageClean {
		o.Skip = append(o.Skip, IDBinfmt, "network", IDPackages)
	}
	if job.ToolDir == "" {
		o.Skip = append(o.Skip, IDTool) // the native image stage runs alone
	}
	if plan, err := PlanFromConfig(job.Config, job.ToolDir, job.SourceDirs, job.Overrides); err == nil {
		o.Plan = &plan
	}
	return o
}
