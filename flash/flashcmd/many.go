package flashcmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/units"
)

// flashFlags are the flags every flash shares.
type flashFlags struct {
	noVerify, withSHA, yes, allowUnmount, allowLoop, asJSON bool
}

// manyTarget is one target of a multi-target flash.
type manyTarget struct {
	path     string
	isDev    bool
	disk     disk.Disk
	settings *firstboot.Settings
	payload  *firstboot.Payload
	applied  *firstboot.Applied
}

// errSomeFailed is the exit of a multi-target flash in which a target failed.
var errSomeFailed = errors.New("not every target was written")

// flashMany writes image to every target at once (one decode), each
// guarded, verified and reported on its own, then writes each target's
// first-boot settings when asked.
func (s *system) flashMany(ctx context.Context, env *cli.Env, image string, paths []string, ff flashFlags, sf *settingsFlags) error {
	info, err := source.Inspect(image)
	if err != nil {
		return cli.Exit(2, err)
	}
	msg := env.Stdout
	if ff.asJSON {
		msg = env.Stderr
	}
	targets, err := s.planTargets(image, info, paths)
	if err != nil {
		return err
	}
	if err := attachSettings(env, image, targets, sf); err != nil {
		return err
	}
	printManyPlan(msg, image, info, targets)
	if err := confirmMany(env, msg, targets, ff.yes); err != nil {
		return err
	}
	outs, err := s.flash.writeMany(ctx, image, targets, ff, newManyPrinter(env, ff.asJSON))
	if err != nil {
		return err
	}
	return reportMany(env, ff.asJSON, targets, outs)
}

// planTargets checks each path: a block device that passes the guard and
// holds the image, or a regular (or new) file; and no two on one medium.
func (s *system) planTargets(image string, info *source.Info, paths []string) ([]*manyTarget, error) {
	if err := s.flash.distinct(append([]string{image}, paths...)); err != nil {
		return nil, cli.Exit(2, err)
	}
	var out []*manyTarget
	for _, p := range paths {
		t := &manyTarget{path: p}
		st, statErr := os.Stat(p)
		t.isDev = statErr == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
		if statErr == nil && !t.isDev && !st.Mode().IsRegular() {
			return nil, cli.Exit(2, fmt.Errorf("%s is neither a block device nor a regular file", p))
		}
		if t.isDev {
			d, err := s.flash.checkPath(p, image)
			if err != nil {
				return nil, err
			}
			if info.Size > d.SizeBytes {
				return nil, &flash.TooSmallError{Path: d.Path, ImageSize: info.Size, DeviceSize: d.SizeBytes}
			}
			t.disk = d
		}
		out = append(out, t)
	}
	var disks []disk.Disk
	for _, t := range out {
		if t.isDev {
			disks = append(disks, t.disk)
		}
	}
	// The disks' own identities: one WWN, or one serial at one size, is
	// one medium even under two device nodes.
	if err := disk.CheckDistinct(disks); err != nil {
		return nil, cli.Exit(2, err)
	}
	return out, nil
}

// attachSettings renders each target's settings when any were asked for.
func attachSettings(env *cli.Env, image string, targets []*manyTarget, sf *settingsFlags) error {
	if sf == nil || !sf.requested() {
		return nil
	}
	rd, err := sf.reader(image)
	if err != nil {
		return err
	}
	per, err := sf.perTarget(env, len(targets))
	if err != nil {
		return err
	}
	for i, t := range targets {
		p, err := firstboot.Render(per[i], rd.Format, firstboot.RenderOptions{})
		if err != nil {
			return cli.Exit(2, fmt.Errorf("%s: %w", t.path, err))
		}
		t.settings, t.payload = &per[i], p
	}
	return nil
}

func printManyPlan(w io.Writer, image string, info *source.Info, targets []*manyTarget) {
	fmt.Fprintf(w, "Image:  %s (%s, %s expanded, %s to write)\n", image, info.Format, flash.HumanBytes(info.Size), flash.HumanBytes(info.DataSize))
	for i, t := range targets {
		line := fmt.Sprintf("Target %d: %s", i+1, t.path)
		if t.isDev {
			line += fmt.Sprintf("  %s  %s  %s", describeDisk(t.disk), units.Decimal(t.disk.SizeBytes), orDash(t.disk.Bus))
		} else {
			line += "  (file)"
		}
		if t.payload != nil {
			line += fmt.Sprintf("  settings: %s", t.payload.Format)
			if t.settings.Hostname != "" {
				line += ", host " + t.settings.Hostname
			}
			for _, f := range t.payload.Skipped {
				line += fmt.Sprintf(" (%s not supported by the format)", f)
			}
		}
		fmt.Fprintln(w, line)
	}
}

// confirmMany asks once for all disks ("yes"), and for the name of each
// disk large enough to need it typed. --yes covers every disk named.
func confirmMany(env *cli.Env, w io.Writer, targets []*manyTarget, yes bool) error {
	var devs []string
	for _, t := range targets {
		if t.isDev {
			devs = append(devs, t.disk.Path)
		}
	}
	if yes || len(devs) == 0 {
		return nil
	}
	in := bufio.NewReader(env.Stdin)
	ask := func(q string) (string, error) {
		fmt.Fprint(w, q)
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the answer: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
	no := cli.Exit(1, errors.New("not confirmed: nothing was written"))
	fmt.Fprintf(w, "Everything on %s will be replaced.\n", strings.Join(devs, ", "))
	ans, err := ask("Continue? [y/N] ")
	if err != nil {
		return err
	}
	if !strings.EqualFold(ans, "y") && !strings.EqualFold(ans, "yes") {
		fmt.Fprintln(w)
		return no
	}
	for _, t := range targets {
		if !t.isDev || !t.disk.NeedsTypedConfirm {
			continue
		}
		ans, err := ask(fmt.Sprintf("%s is larger than %s: type its name (%s) to continue: ", t.disk.Path, units.Decimal(disk.TypedConfirmBytes), t.disk.Name))
		if err != nil {
			return err
		}
		if !t.disk.ConfirmedBy(ans) {
			fmt.Fprintln(w)
			return no
		}
	}
	return nil
}

// writeMany writes in-process when it may open the targets (root, or
// files only): one decode shared by all. Otherwise each target goes
// through the privileged helper, which decodes for each.
func (s *system) writeMany(ctx context.Context, image string, targets []*manyTarget, ff flashFlags, pr *manyPrinter) ([]flash.Outcome, error) {
	anyDev := false
	for _, t := range targets {
		anyDev = anyDev || t.isDev
	}
	opts := flash.Options{NoVerify: ff.noVerify, SHA256: ff.withSHA, AllowUnmount: ff.allowUnmount}
	if anyDev && !helper.InProcess() {
		return s.writeManyHelper(ctx, image, targets, opts, pr, ff.allowLoop)
	}
	src, err := source.OpenContext(ctx, image)
	if err != nil {
		return nil, cli.Exit(2, err)
	}
	ft := make([]flash.Target, len(targets))
	for i, t := range targets {
		ft[i] = flash.Target{Path: t.path, Identity: t.disk.Identity()}
	}
	outs, err := flash.WriteMany(ctx, src, ft, flash.ManyOptions{
		Options:  opts,
		Progress: pr.progress(targets),
		Before: func(_ context.Context, i int) error {
			return s.guardAgain(targets[i], image)
		},
		After: func(ctx context.Context, i int, _ *flash.Result) error {
			return s.applySettings(ctx, targets[i], image)
		},
	})
	pr.end()
	return outs, err
}

// writeManyHelper writes every target through one helper, in parallel,
// and has the helper write each disk's settings once it is verified.
func (s *system) writeManyHelper(ctx context.Context, image string, targets []*manyTarget, opts flash.Options, pr *manyPrinter, allowLoop bool) ([]flash.Outcome, error) {
	fl, err := s.flash.newFlasher(ctx, true)
	if err != nil {
		return nil, err
	}
	defer fl.Close()
	if c, ok := fl.(*helper.Client); ok {
		c.AllowLoop = allowLoop
	}
	sw, canSet := fl.(helper.SettingsWriter)
	for _, t := range targets {
		if t.isDev && t.payload != nil && !canSet {
			return nil, cli.Exit(2, errors.New("this helper cannot write first-boot settings to a disk: run the command with sudo"))
		}
	}
	progress := pr.progress(targets)
	outs := make([]flash.Outcome, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			o := opts
			o.Progress = func(p flash.Progress) { progress(i, p) }
			tgt := flash.Target{Path: t.path, Identity: t.disk.Identity()}
			res, err := fl.Flash(ctx, image, tgt, o)
			if err == nil && t.payload != nil {
				if t.isDev {
					t.applied, err = sw.ApplySettings(ctx, tgt, t.payload)
				} else {
					err = s.applySettings(ctx, t, image)
				}
			}
			outs[i] = flash.Outcome{Target: t.path, Result: res, Err: err}
		})
	}
	wg.Wait()
	pr.end()
	return outs, nil
}

// guardAgain re-runs the disk guard right before a device is opened.
func (s *system) guardAgain(t *manyTarget, image string) error {
	if !t.isDev {
		return nil
	}
	_, err := s.flash.guard(t.path, t.disk.Identity(), image)
	return err
}

// applySettings writes a target's first-boot files after its write was
// verified: a device is guarded again and opened exclusively.
func (s *system) applySettings(ctx context.Context, t *manyTarget, image string) error {
	if t.payload == nil {
		return nil
	}
	if !t.isDev {
		res, err := firstboot.ApplyPath(ctx, t.path, t.payload)
		t.applied = res
		return err
	}
	if err := s.guardAgain(t, image); err != nil {
		return err
	}
	f, err := os.OpenFile(t.path, os.O_RDWR|os.O_EXCL, 0)
	if err != nil {
		return fmt.Errorf("opening %s for the settings: %w", t.path, err)
	}
	res, err := firstboot.Apply(ctx, f, t.payload)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing %s: %w", t.path, cerr)
	}
	t.applied = res
	return err
}

// reportMany prints each target's outcome; a failed target makes the
// command fail after all are reported.
func reportMany(env *cli.Env, asJSON bool, targets []*manyTarget, outs []flash.Outcome) error {
	failed := 0
	for i, o := range outs {
		t := targets[i]
		if asJSON {
			if o.Err != nil {
				env.Stdout.Write(mustJSON(helper.ErrorEvent(t.path, o.Err)))
			} else {
				env.Stdout.Write(mustJSON(manyResult{Event: helper.Event{ID: t.path, Type: helper.EventResult, Result: o.Result}, Settings: t.applied}))
			}
		}
		if o.Err != nil {
			failed++
			if !asJSON {
				fmt.Fprintf(env.Stdout, "FAILED %s: %v\n", t.path, o.Err)
			}
			continue
		}
		if asJSON {
			continue
		}
		printResult(env.Stdout, o.Result)
		if t.applied != nil {
			fmt.Fprintf(env.Stdout, "Settings (%s) written to %s partition %d and read back: %s\n", t.payload.Format, t.path, t.applied.Partition, strings.Join(t.applied.Files, " "))
		}
		for _, w := range o.Result.Warnings {
			fmt.Fprintf(env.Stderr, "warning: %s: %s\n", t.path, w)
		}
	}
	if failed > 0 {
		return cli.Exit(1, fmt.Errorf("%w: %d of %d targets failed", errSomeFailed, failed, len(outs)))
	}
	return nil
}

// manyResult is a --json result line of one target.
type manyResult struct {
	helper.Event
	// Settings describes the first-boot files written, when any.
	Settings *firstboot.Applied `json:"settings,omitempty"`
}

// manyPrinter shows the progress of several targets: JSON lines (the
// event ID is the target) or one line per target every few seconds.
type manyPrinter struct {
	env  *cli.Env
	json bool
	mu   sync.Mutex
	last map[int]time.Time
}

func newManyPrinter(env *cli.Env, asJSON bool) *manyPrinter {
	return &manyPrinter{env: env, json: asJSON, last: map[int]time.Time{}}
}

func (p *manyPrinter) progress(targets []*manyTarget) func(int, flash.Progress) {
	return func(i int, pr flash.Progress) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.json {
			p.env.Stdout.Write(mustJSON(helper.Event{ID: targets[i].path, Type: helper.EventProgress, Progress: &pr}))
			return
		}
		final := pr.Done >= pr.Total
		if !final && time.Since(p.last[i]) < 5*time.Second {
			return
		}
		p.last[i] = time.Now()
		pct := 100.0
		if pr.Total > 0 {
			pct = 100 * float64(pr.Done) / float64(pr.Total)
		}
		fmt.Fprintf(p.env.Stderr, "%s: %-9s %5.1f%%  %s of %s\n", targets[i].path, pr.Phase, pct, flash.HumanBytes(pr.Done), flash.HumanBytes(pr.Total))
	}
}

func (p *manyPrinter) end() {}
