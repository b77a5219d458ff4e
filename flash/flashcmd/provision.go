package flashcmd

import (
	"bufio"
	"context"
	"errors"
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

const provisionUsage = "SETDIR [--sd DEV] [--external DEV[,DEV...]] [--no-verify] [--skip-holes] [--allow-unmount] [--allow-loop] [--yes] [--json] " + settingsUsage

func init() {
	register(func(s *system) cli.Command {
		return cli.Command{
			Name:    "provision",
			Usage:   provisionUsage,
			Summary: "write a RAID image set (SD card and external disks) in one go, in parallel",
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

// jsonLine is one line of --json output.
type jsonLine struct {
	Type string `json:"type"`
	*provision.Event
	Plan    *provision.Plan    `json:"plan,omitempty"`
	Summary *provision.Summary `json:"summary,omitempty"`
	Error   string             `json:"error,omitempty"`
}

// provisionArgs are the parsed command line of provision.
type provisionArgs struct {
	settings *settingsFlags
	setDir   string
	req      provision.Request
	opts     provision.Options
	asJSON   bool
	// allowLoop is --allow-loop: write loop devices of another user's file.
	allowLoop bool
}

func (s *system) runProvision(ctx context.Context, env *cli.Env, args []string) error {
	a, err := parseProvision(env, args)
	if err != nil {
		return err
	}
	msg := env.Stdout
	if a.asJSON {
		msg = env.Stderr
	}
	p, err := s.planProvision(a)
	if err != nil {
		return err
	}
	if a.asJSON {
		env.Stdout.Write(mustJSON(jsonLine{Type: "plan", Plan: p}))
	}
	fmt.Fprint(msg, p.String())
	if err := p.Ready(); err != nil {
		return err
	}
	if err := p.CheckYes(a.req); err != nil {
		return cli.Usagef("provision", "%v", err)
	}
	// With --yes the disks named on the command line are the confirmation.
	a.opts.Confirmations = p.Named(a.req)
	if err := s.sdSettings(env, a, p); err != nil {
		return err
	}
	if p.DiskCount() > 0 && !a.req.Yes {
		if a.opts.Confirmations, err = confirmPlan(env, msg, p, p.DiskCount()); err != nil {
			return err
		}
	}
	return s.runPlan(ctx, env, a, p)
}

// sdSettings prepares the first-boot settings for the SD card role: the
// set's image.json names the reader; the files are written once the card
// is written and verified.
func (s *system) sdSettings(env *cli.Env, a *provisionArgs, p *provision.Plan) error {
	if !a.settings.requested() {
		return nil
	}
	var sdImage string
	t := &manyTarget{}
	for _, ra := range p.Roles {
		if ra.Role == provision.RoleSD && ra.Disk != nil {
			sdImage = filepath.Join(p.Set, ra.Artifact)
			t.path, t.disk, t.isDev = ra.Disk.Path, *ra.Disk, !ra.IsFile()
		}
	}
	if sdImage == "" {
		return cli.Exit(2, errors.New("the set has no SD card to write settings to"))
	}
	if t.isDev && !helper.InProcess() {
		return cli.Exit(2, errors.New("writing first-boot settings to a disk needs root here: run the command with sudo"))
	}
	if err := attachSettings(env, sdImage, []*manyTarget{t}, a.settings); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "Settings (%s) will be written to the SD card (%s)\n", t.payload.Format, t.path)
	a.opts.After = func(ctx context.Context, role string, target flash.Target) error {
		if role != provision.RoleSD {
			return nil
		}
		return s.applySettings(ctx, t, sdImage)
	}
	return nil
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
	fs.StringVar(&a.req.SD, "sd", "", "the disk for the SD card role (e.g. /dev/mmcblk0)")
	var externals cli.StringList
	fs.Var(&externals, "external", "the disks for external1, external2, ... in order (comma-separated or repeated)")
	fs.BoolVar(&a.opts.NoVerify, "no-verify", false, "do not read the written data back")
	fs.BoolVar(&a.opts.SkipHoles, "skip-holes", false, "write only the images' data (their sparse twins): faster, but empty ranges keep the disks' old bytes")
	fs.BoolVar(&a.opts.AllowUnmount, "allow-unmount", false, "unmount the disks' mounted partitions")
	fs.BoolVar(&a.allowLoop, "allow-loop", false, "write loop devices whose backing file belongs to another user")
	fs.BoolVar(&a.req.Yes, "yes", false, "do not ask for confirmation")
	fs.BoolVar(&a.asJSON, "json", false, "print the plan, progress and the summary as JSON lines")
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
	return a, nil
}

// planProvision proposes disks for the set's roles and applies what the
// user named, mapping refusals to exit statuses.
func (s *system) planProvision(a *provisionArgs) (*provision.Plan, error) {
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
	p, err := provision.Propose(m, a.setDir, disks)
	if err != nil {
		return nil, cli.Exit(2, err)
	}
	var re *provision.RoleError
	switch err := p.Apply(a.req); {
	case err == nil:
		return p, nil
	case errors.Is(err, provision.ErrTooManyExternals):
		return nil, cli.Usagef("provision", "%v", err)
	case errors.As(err, &re) && re.File:
		return nil, cli.Exit(2, err)
	default:
		return nil, cli.Exit(1, err)
	}
}

// runPlan writes the set and reports how it went.
func (s *system) runPlan(ctx context.Context, env *cli.Env, a *provisionArgs, p *provision.Plan) error {
	if p.DiskCount() > 0 {
		fl, release, err := s.prov.flasher(ctx, a.allowLoop)
		if err != nil {
			return err
		}
		defer release()
		a.opts.Flash = fl
	}
	pr := newSetPrinter(env, a.asJSON, p)
	a.opts.Progress = pr.event
	sum, err := provision.Run(ctx, p, a.opts)
	pr.end()
	if a.asJSON {
		if sum != nil {
			env.Stdout.Write(mustJSON(jsonLine{Type: "summary", Summary: sum}))
		}
		if err != nil {
			env.Stdout.Write(mustJSON(jsonLine{Type: "error", Error: err.Error()}))
			return cli.Exit(cli.ExitCode(err), nil)
		}
		return nil
	}
	printSummary(env, sum)
	if errors.Is(err, flash.ErrMounted) {
		return fmt.Errorf("%w (use --allow-unmount)", err)
	}
	return err
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

// confirmPlan asks before writing: "yes" for the set, and the name of every
// disk larger than disk.TypedConfirmBytes. It returns the typed names by
// role, for provision.Options.Confirmations.
func confirmPlan(env *cli.Env, w io.Writer, p *provision.Plan, nDisks int) (map[string]string, error) {
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
	ans, err := ask(fmt.Sprintf("Everything on these %d disks will be replaced. Type yes to write them: ", nDisks))
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(ans, "yes") {
		fmt.Fprintln(w)
		return nil, notConfirmed
	}
	typed := map[string]string{}
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
		typed[ra.Role] = ans
	}
	return typed, nil
}

// setPrinter shows the progress of a set: JSON lines, a redrawn status
// line on a terminal, or a line every few seconds otherwise.
type setPrinter struct {
	*printer
	roles []string
	state map[string]provision.Event
	last  time.Time
	pmu   sync.Mutex
}

func newSetPrinter(env *cli.Env, asJSON bool, p *provision.Plan) *setPrinter {
	sp := &setPrinter{printer: newPrinter(env, asJSON), state: map[string]provision.Event{}}
	for _, ra := range p.Roles {
		sp.roles = append(sp.roles, ra.Role)
	}
	return sp
}

func (sp *setPrinter) event(e provision.Event) {
	sp.pmu.Lock()
	defer sp.pmu.Unlock()
	if sp.json {
		sp.env.Stdout.Write(mustJSON(jsonLine{Type: "progress", Event: &e}))
		return
	}
	sp.state[e.Role] = e
	final := e.State == provision.Done || e.State == provision.Failed || e.State == provision.Cancelled
	every := 5 * time.Second
	if sp.tty {
		every = 250 * time.Millisecond
	}
	if !final && time.Since(sp.last) < every {
		return
	}
	sp.last = time.Now()
	pct := func(done, total int64) float64 {
		if total <= 0 {
			return 100
		}
		return 100 * float64(done) / float64(total)
	}
	parts := []string{fmt.Sprintf("total %5.1f%%", pct(e.Total.Done, e.Total.Total))}
	for _, r := range sp.roles {
		s, ok := sp.state[r]
		switch {
		case !ok:
			parts = append(parts, r+" waiting")
		case s.State == provision.Writing || s.State == provision.Verifying:
			parts = append(parts, fmt.Sprintf("%s %s %.0f%% %s/s", r, s.State, pct(s.Progress.Done, s.Progress.Total), flash.HumanBytes(int64(s.Progress.BytesPerSec))))
		default:
			parts = append(parts, r+" "+string(s.State))
		}
	}
	line := strings.Join(parts, " | ")
	if final && e.Error != "" {
		sp.endLine()
		fmt.Fprintf(sp.env.Stderr, "%s (%s) failed: %s\n", e.Role, e.Disk, e.Error)
	}
	if sp.tty {
		fmt.Fprintf(sp.env.Stderr, "\r%-100s", line)
		sp.drawn = true
	} else {
		fmt.Fprintln(sp.env.Stderr, line)
	}
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
