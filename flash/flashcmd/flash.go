package flashcmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/units"
)

const flashUsage = "IMAGE TARGET [TARGET...] [--no-verify] [--sha256] [--yes] [--allow-unmount] [--allow-loop] [--json] " + settingsUsage

func init() {
	register(func(s *system) cli.Command {
		return cli.Command{
			Name:    "flash",
			Usage:   flashUsage,
			Summary: "write an image to disks (or expand it into files) and verify it; optionally write first-boot settings",
			Run:     s.runFlash,
		}
	})
}

// flashDeps are what runFlash reaches the system through (tests swap them).
type flashDeps struct {
	checkPath  func(dev string, images ...string) (disk.Disk, error)
	newFlasher func(ctx context.Context, device bool) (helper.Flasher, error)
	// guard re-checks a chosen disk right before it is opened.
	guard func(dev string, id disk.Identity, images ...string) (disk.Disk, error)
	// distinct refuses paths that are one medium.
	distinct func(paths []string) error
	// writeMany writes several targets (or one with settings).
	writeMany func(ctx context.Context, image string, targets []*manyTarget, ff flashFlags, pr *manyPrinter) ([]flash.Outcome, error)
}

func defaultFlashDeps() flashDeps {
	return flashDeps{
		checkPath: disk.CheckPath,
		guard: func(dev string, id disk.Identity, images ...string) (disk.Disk, error) {
			return disk.Guard("/", dev, id, images)
		},
		distinct: flash.CheckDistinct,
		newFlasher: func(ctx context.Context, device bool) (helper.Flasher, error) {
			if !device {
				return helper.Local{}, nil
			}
			return helper.New(ctx)
		},
	}
}

func (s *system) runFlash(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("flash")
	noVerify := fs.Bool("no-verify", false, "do not read the written data back")
	withSHA := fs.Bool("sha256", false, "also compute the SHA-256 of the expanded image (slower than most disks)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	allowUnmount := fs.Bool("allow-unmount", false, "unmount the disk's mounted partitions")
	allowLoop := fs.Bool("allow-loop", false, "write a loop device whose backing file belongs to another user")
	asJSON := fs.Bool("json", false, "print progress and the result as JSON lines")
	sf := addSettingsFlags(fs)
	pos, err := cli.ParseInterspersed(fs, env, flashUsage, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return cli.Usagef("flash", "expected IMAGE and TARGET, got %d arguments", len(pos))
	}
	ff := flashFlags{noVerify: *noVerify, withSHA: *withSHA, yes: *yes, allowUnmount: *allowUnmount, allowLoop: *allowLoop, asJSON: *asJSON}
	if len(pos) > 2 || sf.requested() {
		return s.flashMany(ctx, env, pos[0], pos[1:], ff, sf)
	}
	return s.flashOne(ctx, env, pos[0], pos[1], ff)
}

// flashOne writes one image to one target (through the helper for a disk
// when not root).
func (s *system) flashOne(ctx context.Context, env *cli.Env, image, target string, ff flashFlags) error {
	noVerify, withSHA, allowUnmount, asJSON := &ff.noVerify, &ff.withSHA, &ff.allowUnmount, &ff.asJSON
	info, err := source.Inspect(image)
	if err != nil {
		return cli.Exit(2, err)
	}
	st, statErr := os.Stat(target)
	isDev := statErr == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
	if statErr == nil && !isDev && !st.Mode().IsRegular() {
		return cli.Exit(2, fmt.Errorf("%s is neither a block device nor a regular file", target))
	}
	tgt := flash.Target{Path: target}
	msg := env.Stderr
	if !*asJSON {
		msg = env.Stdout
	}
	if isDev {
		if tgt.Identity, err = s.chooseDisk(env, msg, image, target, info, ff.yes); err != nil {
			return err
		}
	} else if !*asJSON {
		fmt.Fprintf(msg, "Expanding %s (%s, %s) into %s\n", image, info.Format, flash.HumanBytes(info.Size), target)
	}
	fl, err := s.flash.newFlasher(ctx, isDev)
	if err != nil {
		return err
	}
	defer fl.Close()
	if c, ok := fl.(*helper.Client); ok {
		c.AllowLoop = ff.allowLoop
	}
	pr := newPrinter(env, *asJSON)
	res, err := fl.Flash(ctx, image, tgt, flash.Options{NoVerify: *noVerify, SHA256: *withSHA, AllowUnmount: *allowUnmount, Progress: pr.progress})
	pr.end()
	return reportOne(env, res, err, *asJSON)
}

// reportOne prints how a single write ended.
func reportOne(env *cli.Env, res *flash.Result, err error, asJSON bool) error {
	if err != nil {
		if asJSON {
			env.Stdout.Write(mustJSON(helper.ErrorEvent("", err)))
			return cli.Exit(cli.ExitCode(err), nil)
		}
		if errors.Is(err, flash.ErrMounted) {
			return fmt.Errorf("%w (use --allow-unmount)", err)
		}
		return err
	}
	if asJSON {
		env.Stdout.Write(mustJSON(helper.Event{Type: helper.EventResult, Result: res}))
		return nil
	}
	printResult(env.Stdout, res)
	for _, w := range res.Warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w)
	}
	return nil
}

// chooseDisk checks the disk at target, shows it and asks unless yes.
func (s *system) chooseDisk(env *cli.Env, msg io.Writer, image, target string, info *source.Info, yes bool) (disk.Identity, error) {
	d, err := s.flash.checkPath(target, image)
	if err != nil {
		return disk.Identity{}, err
	}
	fmt.Fprintf(msg, "Image:  %s (%s, %s expanded, %s to write)\n", image, info.Format, flash.HumanBytes(info.Size), flash.HumanBytes(info.DataSize))
	fmt.Fprintf(msg, "Target: %s  %s  %s  %s\n", d.Path, describeDisk(d), units.Decimal(d.SizeBytes), orDash(d.Bus))
	if info.Size > d.SizeBytes {
		return disk.Identity{}, &flash.TooSmallError{Path: d.Path, ImageSize: info.Size, DeviceSize: d.SizeBytes}
	}
	if !yes {
		fmt.Fprintf(msg, "Everything on %s will be replaced.\n", d.Path)
		if err := confirm(env, msg, d); err != nil {
			return disk.Identity{}, err
		}
	}
	return d.Identity(), nil
}

// printResult tells people how a write ended: what was written, that it
// read back as written (naming the image's XXH3-128), and its SHA-256
// when it was computed.
func printResult(w io.Writer, res *flash.Result) {
	for _, mp := range res.Unmounted {
		fmt.Fprintf(w, "Unmounted %s\n", mp)
	}
	if res.BlockMap != "" {
		fmt.Fprintf(w, "Used the block map %s\n", res.BlockMap)
	}
	fmt.Fprintf(w, "Wrote %s to %s in %s", flash.HumanBytes(res.Written), res.Target, res.WriteTime.Round(time.Second/10))
	if res.Zeroed > 0 || res.Skipped > 0 {
		fmt.Fprintf(w, " (%s data, %s zeroed, %s skipped)", flash.HumanBytes(res.Data), flash.HumanBytes(res.Zeroed), flash.HumanBytes(res.Skipped))
	}
	if res.Verified {
		fmt.Fprintf(w, "; verified in %s.\n", res.VerifyTime.Round(time.Second/10))
		fmt.Fprintf(w, "Verified: every written byte read back matches (xxh3-128 %s)\n", res.XXH3)
	} else {
		fmt.Fprint(w, "; not verified.\n")
		fmt.Fprintf(w, "XXH3-128 of the image: %s\n", res.XXH3)
	}
	if res.SHA256 != "" {
		fmt.Fprintf(w, "SHA-256 of the image: %s\n", res.SHA256)
	}
	if res.Skipped > 0 {
		fmt.Fprintf(w, "Skipped %s that the image leaves unwritten: the disk's old data stays there", flash.HumanBytes(res.Skipped))
		if res.Cleared > 0 {
			fmt.Fprintf(w, ", except %s cleared where old signatures would be found", flash.HumanBytes(res.Cleared))
		}
		fmt.Fprintln(w, ".")
	}
}

func describeDisk(d disk.Disk) string {
	m := strings.TrimSpace(d.Vendor + " " + d.Model)
	if d.Vendor != "" && strings.HasPrefix(d.Model, d.Vendor) {
		m = d.Model
	}
	return orDash(m)
}

// confirm asks on stdin; large disks need their name typed.
func confirm(env *cli.Env, w io.Writer, d disk.Disk) error {
	in := bufio.NewReader(env.Stdin)
	if d.NeedsTypedConfirm {
		fmt.Fprintf(w, "This disk is larger than %s: type its name (%s) to continue: ", units.Decimal(disk.TypedConfirmBytes), d.Name)
	} else {
		fmt.Fprint(w, "Continue? [y/N] ")
	}
	line, err := in.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the answer: %w", err)
	}
	ans := strings.TrimSpace(line)
	ok := strings.EqualFold(ans, "y") || strings.EqualFold(ans, "yes")
	if d.NeedsTypedConfirm {
		ok = d.ConfirmedBy(ans)
	}
	if !ok {
		fmt.Fprintln(w)
		return cli.Exit(1, errors.New("not confirmed: nothing was written"))
	}
	return nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, '\n')
}

// printer shows progress: JSON lines, a redrawn line on a terminal, or a
// line every few seconds otherwise.
type printer struct {
	env   *cli.Env
	json  bool
	tty   bool
	mu    sync.Mutex
	last  time.Time
	phase flash.Phase
	drawn bool
}

func newPrinter(env *cli.Env, asJSON bool) *printer {
	p := &printer{env: env, json: asJSON}
	if f, ok := env.Stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			p.tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return p
}

func (p *printer) progress(pr flash.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		p.env.Stdout.Write(mustJSON(helper.Event{Type: helper.EventProgress, Progress: &pr}))
		return
	}
	every := 5 * time.Second
	if p.tty {
		every = 250 * time.Millisecond
	}
	final := pr.Done >= pr.Total
	if !final && pr.Phase == p.phase && time.Since(p.last) < every {
		return
	}
	if p.tty && p.drawn && pr.Phase != p.phase {
		fmt.Fprintln(p.env.Stderr)
	}
	p.phase, p.last = pr.Phase, time.Now()
	pct := 100.0
	if pr.Total > 0 {
		pct = 100 * float64(pr.Done) / float64(pr.Total)
	}
	line := fmt.Sprintf("%-9s %5.1f%%  %s of %s  %s/s", pr.Phase, pct, flash.HumanBytes(pr.Done), flash.HumanBytes(pr.Total), flash.HumanBytes(int64(pr.BytesPerSec)))
	if pr.ETA > 0 && !final {
		line += "  ETA " + pr.ETA.String()
	}
	if p.tty {
		fmt.Fprintf(p.env.Stderr, "\r%-72s", line)
		p.drawn = true
	} else {
		fmt.Fprintln(p.env.Stderr, line)
	}
}

func (p *printer) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.env.Stderr)
	}
}
