package flashcmd

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/manifest"
	"github.com/pistudio/pistudio/internal/units"
)

const provisionUsage = "SETDIR [--sets N] [--sd DEV] [--external DEV[,DEV...]] [--disks SD,EXT[,EXT...]]... [--no-verify] [--skip-holes] [--allow-unmount] [--allow-loop] [--yes] [--json] " + settingsUsage

func init() {
	register(func(s *system) cli.Command {
		return cli.Command{
			Name:    "provision",
			Usage:   provisionUsage,
			Summary: "write a RAID image set (SD card and external disks) in one go, in parallel; --sets N writes N copies at once",
			Run:     s.runProvision,
		}
	})
}

// provisionDeps are what runProvision reaches the system through (tests swap them).
type provisionDeps struct {
	scan func(images []string) ([]disk.Disk, error)
	// flasher returns the write function for device targets (nil: write
	// in-process) and a function releasing it; allowLoop is --allow-loop.
	flasher func(ctx context.Context, allowLoop bool) (provision.FlashFunc, func() error, error)
}

func defaultProvisionDeps() provisionDeps {
	return provisionDeps{
		scan: func(images []string) ([]disk.Disk, error) {
			return disk.Scan(disk.ScanOptions{ImagePaths: images})
		},
		flasher: func(ctx context.Context, allowLoop bool) (provision.FlashFunc, func() error, error) {
			if helper.InProcess() {
				// provision.Run writes in-process, decoding each image once.
				return nil, func() error { return nil }, nil
			}
			fl, err := helper.New(ctx)
			if err != nil {
				return nil, nil, err
			}
			if c, ok := fl.(*helper.Client); ok {
				c.AllowLoop = allowLoop
			}
			return fl.Flash, fl.Close, nil
		},
	}
}

// jsonLine is one line of --json output; Set numbers the set (from 1)
// the line is about.
type jsonLine struct {
	Type string `json:"type"`
	Set  int    `json:"set,omitempty"`
	*provision.Event
	Plan    *provision.Plan    `json:"plan,omitempty"`
	Summary *provision.Summary `json:"summary,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// provisionArgs are the parsed command line of provision.
type provisionArgs struct {
	settings *settingsFlags
	setDir   string
	// req is what --sd and --external name (one set), with --yes and
	// --allow-files.
	req provision.Request
	// groups are the --disks given, one set each: the SD card, then the
	// externals; "" leaves a role to the proposal.
	groups [][]string
	// sets is the number of sets to write.
	sets   int
	opts   provision.Options
	asJSON bool
	// allowLoop is --allow-loop: write loop devices of another user's file.
	allowLoop bool
}

// afterFunc writes a set's first-boot settings once a role is written
// (provision.Options.After).
type afterFunc = func(ctx context.Context, role string, target flash.Target) error

func (s *system) runProvision(ctx context.Context, env *cli.Env, args []string) error {
	a, err := parseProvision(env, args)
	if err != nil {
		return err
	}
	msg := env.Stdout
	if a.asJSON {
		msg = env.Stderr
	}
	ss, err := s.planProvision(a)
	if err != nil {
		return err
	}
	printPlans(env, msg, a.asJSON, ss)
	if err := ss.Ready(); err != nil {
		return err
	}
	reqs := a.requests()
	if err := ss.CheckYes(reqs); err != nil {
		return cli.Usagef("provision", "%v", err)
	}
	// With --yes the disks named on the command line are the confirmation.
	typed := ss.Named(reqs)
	afters, err := s.sdSettings(env, a, ss)
	if err != nil {
		return err
	}
	if ss.DiskCount() > 0 && !a.req.Yes {
		if typed, err = confirmSets(env, msg, ss); err != nil {
			return err
		}
	}
	return s.runSets(ctx, env, a, ss, typed, afters)
}

// printPlans shows each set's plan: to msg for people, and as JSON lines.
func printPlans(env *cli.Env, msg io.Writer, asJSON bool, ss *provision.Sets) {
	n := len(ss.Plans)
	for i, p := range ss.Plans {
		if asJSON {
			env.Stdout.Write(mustJSON(jsonLine{Type: "plan", Set: i + 1, Plan: p}))
		}
		if n > 1 {
			if i > 0 {
				fmt.Fprintln(msg)
			}
			fmt.Fprintf(msg, "(%d of %d) ", i+1, n)
		}
		fmt.Fprint(msg, p.String())
	}
}

// sdSettings prepares the first-boot settings for each set's SD card:
// the set's image.json names the reader, {n} in a pattern counts the sets
// from --first, a table gives one row per set; the files are written once
// a card is written and verified. It returns each set's
// provision.Options.After, or nil when no settings were asked for.
func (s *system) sdSettings(env *cli.Env, a *provisionArgs, ss *provision.Sets) ([]afterFunc, error) {
	if !a.settings.requested() {
		return nil, nil
	}
	var sdImage string
	targets := make([]*manyTarget, len(ss.Plans))
	for i, p := range ss.Plans {
		ra := p.Role(provision.RoleSD)
		if ra == nil || ra.Disk == nil {
			return nil, cli.Exit(2, errors.New("the set has no SD card to write settings to"))
		}
		sdImage = filepath.Join(p.Set, ra.Artifact)
		t := &manyTarget{path: ra.Disk.Path, disk: *ra.Disk, isDev: !ra.IsFile()}
		if t.isDev && !helper.InProcess() {
			return nil, cli.Exit(2, errors.New("writing first-boot settings to a disk needs root here: run the command with sudo"))
		}
		targets[i] = t
	}
	if err := attachSettings(env, sdImage, targets, a.settings); err != nil {
		return nil, err
	}
	afters := make([]afterFunc, len(targets))
	for i, t := range targets {
		if len(targets) == 1 {
			fmt.Fprintf(env.Stderr, "Settings (%s) will be written to the SD card (%s)\n", t.payload.Format, t.path)
		} else {
			host := ""
			if t.settings.Hostname != "" {
				host = ", host " + t.settings.Hostname
			}
			fmt.Fprintf(env.Stderr, "Set %d: settings (%s%s) will be written to the SD card (%s)\n", i+1, t.payload.Format, host, t.path)
		}
		afters[i] = func(ctx context.Context, role string, target flash.Target) error {
			if role != provision.RoleSD {
				return nil
			}
			return s.applySettings(ctx, t, sdImage)
		}
	}
	return afters, nil
}

// parseProvision reads the flags; --allow-files is for scripts and tests:
// it is accepted but not listed.
func parseProvision(env *cli.Env, args []string) (*provisionArgs, error) {
	a := &provisionArgs{}
	var rest []string
	for _, arg := range args {
		if arg == "--allow-files" || arg == "-allow-files" {
			a.req.AllowFiles = true
			continue
		}
		rest = append(rest, arg)
	}
	fs := cli.NewFlagSet("provision")
	fs.IntVar(&a.sets, "sets", 0, "write N copies of the set at once, each on disks of its own (default: one per --disks, else 1); {n} in the settings counts the sets")
	fs.StringVar(&a.req.SD, "sd", "", "the disk for the SD card role (e.g. /dev/mmcblk0), for one set (several: --disks)")
	var externals, groups cli.StringList
	fs.Var(&externals, "external", "the disks for external1, external2, ... in order (comma-separated or repeated), for one set (several: --disks)")
	fs.Var(&groups, "disks", "one set's disks, comma-separated: its SD card, then external1, external2, ... (- leaves a role to the proposal); give it once per set, set 1 first")
	fs.BoolVar(&a.opts.NoVerify, "no-verify", false, "do not read the written data back")
	fs.BoolVar(&a.opts.SkipHoles, "skip-holes", false, "write only the images' data (their sparse twins): faster, but empty ranges keep the disks' old bytes")
	fs.BoolVar(&a.opts.AllowUnmount, "allow-unmount", false, "unmount the disks' mounted partitions")
	fs.BoolVar(&a.allowLoop, "allow-loop", false, "write loop devices whose backing file belongs to another user")
	fs.BoolVar(&a.req.Yes, "yes", false, "do not ask for confirmation (every disk of every set must be named)")
	fs.BoolVar(&a.asJSON, "json", false, "print the plans, progress and the summaries as JSON lines, each with its set's number")
	a.settings = addSettingsFlags(fs)
	pos, err := cli.ParseInterspersed(fs, env, provisionUsage, rest)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, cli.Usagef("provision", "expected one SETDIR, got %d arguments", len(pos))
	}
	a.setDir = pos[0]
	a.req.Externals = provision.SplitList(externals)
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "sets" })
	if err := a.setSets(given, groups); err != nil {
		return nil, err
	}
	return a, nil
}

// setSets reads --disks and checks it against --sets (given: the flag was
// set), --sd and --external.
func (a *provisionArgs) setSets(given bool, groups []string) error {
	for _, g := range groups {
		var one []string
		for _, d := range strings.Split(g, ",") {
			switch d = strings.TrimSpace(d); d {
			case "":
				return cli.Usagef("provision", "--disks %q has an empty entry (- leaves a role to the proposal)", g)
			case "-":
				d = ""
			}
			one = append(one, d)
		}
		a.groups = append(a.groups, one)
	}
	oneSet := a.req.SD != "" || len(a.req.Externals) > 0
	switch {
	case given && a.sets < 1:
		return cli.Usagef("provision", "--sets must be at least 1, got %d", a.sets)
	case !given:
		a.sets = max(1, len(a.groups))
	}
	switch {
	case len(a.groups) > 0 && oneSet:
		return cli.Usagef("provision", "--disks names whole sets: give it instead of --sd and --external")
	case len(a.groups) > a.sets:
		return cli.Usagef("provision", "%d --disks given for --sets %d: give --disks once per set", len(a.groups), a.sets)
	case a.sets > 1 && oneSet:
		return cli.Usagef("provision", "--sd and --external name the disks of one set: with --sets %d name each set's disks with --disks SD,EXT1,... (once per set, set 1 first)", a.sets)
	}
	return nil
}

// requests returns what the command line names for each set, set 1 first.
func (a *provisionArgs) requests() []provision.Request {
	if len(a.groups) == 0 {
		return []provision.Request{a.req}
	}
	out := make([]provision.Request, len(a.groups))
	for i, g := range a.groups {
		out[i] = provision.Request{SD: g[0], Externals: g[1:], AllowFiles: a.req.AllowFiles, Yes: a.req.Yes}
	}
	return out
}

// planProvision proposes disks for the roles of every set and applies
// what the user named, mapping refusals to exit statuses.
func (s *system) planProvision(a *provisionArgs) (*provision.Sets, error) {
	m, err := manifest.Read(a.setDir)
	if err != nil {
		return nil, cli.Exit(2, err)
	}
	var images []string
	for _, art := range m.Artifacts {
		images = append(images, filepath.Join(a.setDir, art.File))
	}
	disks, err := s.prov.scan(images)
	if err != nil {
		return nil, fmt.Errorf("listing disks: %w", err)
	}
	ss, err := provision.ProposeSets(m, a.setDir, disks, a.sets)
	if err != nil {
		return nil, cli.Exit(2, err)
	}
	var re *provision.RoleError
	switch err := ss.Apply(a.requests()); {
	case err == nil:
		return ss, nil
	case errors.Is(err, provision.ErrTooManyExternals), errors.Is(err, provision.ErrTooManySets):
		return nil, cli.Usagef("provision", "%v", err)
	case errors.As(err, &re) && re.File:
		return nil, cli.Exit(2, err)
	default:
		return nil, cli.Exit(1, err)
	}
}

// runSets writes the sets and reports how each went.
func (s *system) runSets(ctx context.Context, env *cli.Env, a *provisionArgs, ss *provision.Sets, typed []map[string]string, afters []afterFunc) error {
	if ss.DiskCount() > 0 {
		fl, release, err := s.prov.flasher(ctx, a.allowLoop)
		if err != nil {
			return err
		}
		defer release()
		a.opts.Flash = fl
	}
	pr := newSetPrinter(env, a.asJSON, ss)
	sums, err := provision.RunSets(ctx, ss, func(n int) provision.Options {
		o := a.opts
		o.Confirmations = typed[n-1]
		if afters != nil {
			o.After = afters[n-1]
		}
		o.Progress = func(e provision.Event) { pr.event(n, e) }
		return o
	})
	pr.end()
	var se *provision.SetsError
	if errors.As(err, &se) && se.Of == 1 {
		// One set fails as it always did: with its own *SetError.
		err = se.Failed[0].Err
	}
	return reportSets(env, a.asJSON, sums, err)
}

// reportSets prints each set's summary; any failed set makes the command
// fail after all are reported.
func reportSets(env *cli.Env, asJSON bool, sums []*provision.Summary, err error) error {
	if !asJSON {
		for _, sum := range sums {
			printSummary(env, sum)
		}
		if errors.Is(err, flash.ErrMounted) {
			return fmt.Errorf("%w (use --allow-unmount)", err)
		}
		return err
	}
	for i, sum := range sums {
		if sum != nil {
			env.Stdout.Write(mustJSON(jsonLine{Type: "summary", Set: i + 1, Summary: sum}))
		}
	}
	if err == nil {
		return nil
	}
	var se *provision.SetsError
	switch {
	case errors.As(err, &se):
		for _, f := range se.Failed {
			env.Stdout.Write(mustJSON(jsonLine{Type: "error", Set: f.Set, Error: f.Err.Error()}))
		}
	case len(sums) == 1:
		env.Stdout.Write(mustJSON(jsonLine{Type: "error", Set: 1, Error: err.Error()}))
	default:
		env.Stdout.Write(mustJSON(jsonLine{Type: "error", Error: err.Error()}))
	}
	return cli.Exit(cli.ExitCode(err), nil)
}

func printSummary(env *cli.Env, sum *provision.Summary) {
	if sum == nil {
		return
	}
	fmt.Fprint(env.Stdout, "\n"+sum.String())
	if sum.OK {
		fmt.Fprint(env.Stdout, "\nLabels (print and stick one on each disk):\n\n"+sum.Labels())
	}
	for _, r := range sum.Targets {
		for _, w := range r.Warnings {
			fmt.Fprintf(env.Stderr, "warning: %s: %s\n", r.Role, w)
		}
	}
}

// confirmSets asks once before writing: "yes" for every disk of every set
// (all named), then the name of every disk larger than
// disk.TypedConfirmBytes. It returns the typed names by role for each set,
// for provision.Options.Confirmations.
func confirmSets(env *cli.Env, w io.Writer, ss *provision.Sets) ([]map[string]string, error) {
	in := bufio.NewReader(env.Stdin)
	ask := func(q string) (string, error) {
		fmt.Fprint(w, q)
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the answer: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
	notConfirmed := cli.Exit(1, errors.New("not confirmed: nothing was written"))
	var devs []string
	for _, p := range ss.Plans {
		for _, ra := range p.Roles {
			if !ra.IsFile() {
				devs = append(devs, ra.Disk.Path)
			}
		}
	}
	these := fmt.Sprintf("these %d disks", len(devs))
	if len(devs) == 1 {
		these = "this disk"
	}
	ans, err := ask(fmt.Sprintf("Everything on %s will be replaced: %s.\nType yes to write them: ", these, strings.Join(devs, ", ")))
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(ans, "yes") {
		fmt.Fprintln(w)
		return nil, notConfirmed
	}
	typed := make([]map[string]string, len(ss.Plans))
	for i, p := range ss.Plans {
		typed[i] = map[string]string{}
		for _, ra := range p.Roles {
			d := ra.Disk
			if ra.IsFile() || !d.NeedsTypedConfirm {
				continue
			}
			ans, err := ask(fmt.Sprintf("%s is larger than %s: type its name (%s) to write it: ", d.Path, units.Decimal(disk.TypedConfirmBytes), d.Name))
			if err != nil {
				return nil, err
			}
			if !d.ConfirmedBy(ans) {
				fmt.Fprintln(w)
				return nil, notConfirmed
			}
			typed[i][ra.Role] = ans
		}
	}
	return typed, nil
}

// setPrinter shows the progress of the sets: JSON lines, a redrawn status
// line on a terminal, or a line every few seconds otherwise. With several
// sets a target is shown as "2:external1" (set 2's external1).
type setPrinter struct {
	*printer
	multi  bool
	keys   []string
	state  map[string]provision.Event
	totals []provision.Total // each set's latest
	last   time.Time
	pmu    sync.Mutex
}

func newSetPrinter(env *cli.Env, asJSON bool, ss *provision.Sets) *setPrinter {
	sp := &setPrinter{printer: newPrinter(env, asJSON), multi: len(ss.Plans) > 1,
		state: map[string]provision.Event{}, totals: make([]provision.Total, len(ss.Plans))}
	for i, p := range ss.Plans {
		for _, ra := range p.Roles {
			sp.keys = append(sp.keys, sp.key(i+1, ra.Role))
		}
	}
	return sp
}

// key names role of set n in the status line.
func (sp *setPrinter) key(n int, role string) string {
	if sp.multi {
		return fmt.Sprintf("%d:%s", n, role)
	}
	return role
}

func (sp *setPrinter) event(n int, e provision.Event) {
	sp.pmu.Lock()
	defer sp.pmu.Unlock()
	if sp.json {
		sp.env.Stdout.Write(mustJSON(jsonLine{Type: "progress", Set: n, Event: &e}))
		return
	}
	sp.state[sp.key(n, e.Role)] = e
	sp.totals[n-1] = e.Total
	final := e.State == provision.Done || e.State == provision.Failed || e.State == provision.Cancelled
	every := 5 * time.Second
	if sp.tty {
		every = 250 * time.Millisecond
	}
	if !final && time.Since(sp.last) < every {
		return
	}
	sp.last = time.Now()
	if final && e.Error != "" {
		sp.endLine()
		who := e.Role
		if sp.multi {
			who = fmt.Sprintf("set %d %s", n, e.Role)
		}
		fmt.Fprintf(sp.env.Stderr, "%s (%s) failed: %s\n", who, e.Disk, e.Error)
	}
	line := sp.status()
	if sp.tty {
		fmt.Fprintf(sp.env.Stderr, "\r%-100s", line)
		sp.drawn = true
	} else {
		fmt.Fprintln(sp.env.Stderr, line)
	}
}

// status is the status line: the total over every set, then each target.
func (sp *setPrinter) status() string {
	var done, total int64
	for _, t := range sp.totals {
		done, total = done+t.Done, total+t.Total
	}
	parts := []string{fmt.Sprintf("total %5.1f%%", percent(done, total))}
	for _, k := range sp.keys {
		s, ok := sp.state[k]
		switch {
		case !ok:
			parts = append(parts, k+" waiting")
		case s.State == provision.Writing || s.State == provision.Verifying:
			parts = append(parts, fmt.Sprintf("%s %s %.0f%% %s/s", k, s.State, percent(s.Progress.Done, s.Progress.Total), flash.HumanBytes(int64(s.Progress.BytesPerSec))))
		default:
			parts = append(parts, k+" "+string(s.State))
		}
	}
	return strings.Join(parts, " | ")
}

func percent(done, total int64) float64 {
	if total <= 0 {
		return 100
	}
	return 100 * float64(done) / float64(total)
}

func (sp *setPrinter) endLine() {
	if sp.tty && sp.drawn {
		fmt.Fprintln(sp.env.Stderr)
		sp.drawn = false
	}
}

func (sp *setPrinter) end() {
	sp.pmu.Lock()
	defer sp.pmu.Unlock()
	sp.endLine()
}
