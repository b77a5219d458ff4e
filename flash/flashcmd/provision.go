package flashcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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

const provisionUsage = "SETDIR [--sd DEV] [--external DEV[,DEV...]] [--no-verify] [--skip-holes] [--allow-unmount] [--allow-loop] [--yes] [--json]"

func init() {
	register(cli.Command{
		Name:    "provision",
		Usage:   provisionUsage,
		Summary: "write a RAID image set (SD card and external disks) in one go, in parallel",
		Run:     runProvision,
	})
}

// provisionDeps are what runProvision reaches the system through (tests swap them).
type provisionDeps struct {
	scan func(images []string) ([]disk.Disk, error)
	// flasher returns the write function for device targets (nil: write
	// in-process) and a function releasing it; allowLoop is --allow-loop.
	flasher func(ctx context.Context, allowLoop bool) (provision.FlashFunc, func() error, error)
}

var provDeps = provisionDeps{
	scan: func(images []string) ([]disk.Disk, error) {
		return disk.Scan(disk.ScanOptions{ImagePaths: images})
	},
	flasher: func(ctx context.Context, allowLoop bool) (provision.FlashFunc, func() error, error) {
		if os.Geteuid() == 0 {
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

// jsonLine is one line of --json output.
type jsonLine struct {
	Type string `json:"type"`
	*provision.Event
	Plan    *provision.Plan    `json:"plan,omitempty"`
	Summary *provision.Summary `json:"summary,omitempty"`
	Error   string             `json:"error,omitempty"`
}

func runProvision(ctx context.Context, env *cli.Env, args []string) error {
	// --allow-files is for scripts and tests: it is accepted but not listed.
	allowFiles := false
	var rest []string
	for _, a := range args {
		if a == "--allow-files" || a == "-allow-files" {
			allowFiles = true
			continue
		}
		rest = append(rest, a)
	}
	fs := cli.NewFlagSet("provision")
	sd := fs.String("sd", "", "the disk for the SD card role (e.g. /dev/mmcblk0)")
	var externals cli.StringList
	fs.Var(&externals, "external", "the disks for external1, external2, ... in order (comma-separated or repeated)")
	noVerify := fs.Bool("no-verify", false, "do not read the written data back")
	skipHoles := fs.Bool("skip-holes", false, "write only the images' data (their sparse twins): faster, but empty ranges keep the disks' old bytes")
	allowUnmount := fs.Bool("allow-unmount", false, "unmount the disks' mounted partitions")
	allowLoop := fs.Bool("allow-loop", false, "write loop devices whose backing file belongs to another user")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	asJSON := fs.Bool("json", false, "print the plan, progress and the summary as JSON lines")
	pos, err := cli.ParseInterspersed(fs, env, provisionUsage, rest)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("provision", "expected one SETDIR, got %d arguments", len(pos))
	}
	setDir := pos[0]
	var ext []string
	for _, e := range externals {
		for _, d := range strings.Split(e, ",") {
			if d = strings.TrimSpace(d); d != "" {
				ext = append(ext, d)
			}
		}
	}
	msg := env.Stdout
	if *asJSON {
		msg = env.Stderr
	}
	m, err := manifest.Read(setDir)
	if err != nil {
		return cli.Exit(2, err)
	}
	var images []string
	for _, a := range m.Artifacts {
		images = append(images, filepath.Join(setDir, a.File))
	}
	disks, err := provDeps.scan(images)
	if err != nil {
		return fmt.Errorf("listing disks: %w", err)
	}
	p, err := provision.Propose(m, setDir, disks)
	if err != nil {
		return cli.Exit(2, err)
	}
	var nExt []string
	for _, ra := range p.Roles {
		if strings.HasPrefix(ra.Role, provision.RoleExternalPrefix) {
			nExt = append(nExt, ra.Role)
		}
	}
	if len(ext) > len(nExt) {
		return cli.Usagef("provision", "%d external disks given, the set has %d external roles", len(ext), len(nExt))
	}
	assign := func(role, dev string) error {
		st, err := os.Stat(dev)
		known := false
		for _, d := range p.Disks() {
			known = known || d.Path == dev || d.Name == dev
		}
		switch {
		case err == nil && st.Mode().IsRegular() && !allowFiles:
			return cli.Exit(2, fmt.Errorf("%s: %s is a regular file, not a disk", role, dev))
		case err == nil && st.Mode().IsRegular(), errors.Is(err, os.ErrNotExist) && !known && allowFiles:
			if err := p.AssignFile(role, dev); err != nil {
				return cli.Exit(2, fmt.Errorf("%s: %w", role, err))
			}
			return nil
		}
		if err := p.Assign(role, dev); err != nil {
			return cli.Exit(1, fmt.Errorf("%s: %w", role, err))
		}
		return nil
	}
	if *sd != "" {
		if err := assign(provision.RoleSD, *sd); err != nil {
			return err
		}
	}
	for i, d := range ext {
		if err := assign(nExt[i], d); err != nil {
			return err
		}
	}
	if *asJSON {
		env.Stdout.Write(mustJSON(jsonLine{Type: "plan", Plan: p}))
	}
	fmt.Fprint(msg, p.String())
	if err := p.Ready(); err != nil {
		return err
	}
	nDisks := 0
	for _, ra := range p.Roles {
		if !ra.IsFile() {
			nDisks++
		}
		// No disk is written unasked: --yes covers only disks the user named.
		if *yes && !ra.Chosen {
			return cli.Usagef("provision", "--yes writes only disks named on the command line, and no disk was given for %s (proposed: %s); name it, or leave out --yes to confirm the proposal", ra.Role, ra.Disk.Path)
		}
	}
	// With --yes the disks named on the command line are the confirmation.
	typed := map[string]string{}
	if *sd != "" {
		typed[provision.RoleSD] = *sd
	}
	for i, d := range ext {
		typed[nExt[i]] = d
	}
	if nDisks > 0 && !*yes {
		var err error
		if typed, err = confirmPlan(env, msg, p, nDisks); err != nil {
			return err
		}
	}
	opts := provision.Options{NoVerify: *noVerify, AllowUnmount: *allowUnmount, SkipHoles: *skipHoles, Confirmations: typed}
	if nDisks > 0 {
		fl, release, err := provDeps.flasher(ctx, *allowLoop)
		if err != nil {
			return err
		}
		defer release()
		opts.Flash = fl
	}
	pr := newSetPrinter(env, *asJSON, p)
	opts.Progress = pr.event
	sum, err := provision.Run(ctx, p, opts)
	pr.end()
	if *asJSON {
		if sum != nil {
			env.Stdout.Write(mustJSON(jsonLine{Type: "summary", Summary: sum}))
		}
		if err != nil {
			env.Stdout.Write(mustJSON(jsonLine{Type: "error", Error: err.Error()}))
			return cli.Exit(cli.ExitCode(err), nil)
		}
		return nil
	}
	if sum != nil {
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
	if errors.Is(err, flash.ErrMounted) {
		return fmt.Errorf("%w (use --allow-unmount)", err)
	}
	return err
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
