package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
)

// ---- h: one image to N cards at once ----

// manySpeeds are the write limits of the four cards of group h: four
// cards of different speeds on separate ports (reads 160 MB/s each).
var manySpeeds = []float64{40e6, 60e6, 80e6, 100e6}

const manyReadBps = 160e6

// groupMany flashes the .zst image to each of four throttled loop devices
// alone, then to the four at once with one decode (flash.WriteMany), and
// compares the parallel run with the slowest single one.
func (b *bench) groupMany(in *inputs) error {
	if err := b.needRaw(in); err != nil {
		return err
	}
	if err := b.needZst(in); err != nil {
		return err
	}
	b.notePistudio()
	const goal = "4 cards of one image at once ≤ 1.3 × the slowest card alone"
	cg, cgErr := cgroupCreate()
	if cgErr != nil {
		b.goal("h", goal, false, "not measured: %v", cgErr)
		return nil
	}
	b.variable("CGN", "a blkio cgroup (v1) limiting four loop devices to 40, 60, 80 and 100 MB/s write, 160 MB/s read each: four cards on separate ports")
	b.variable("LOOP1", "`$LOOP2` … `$LOOP4`: four fresh loop devices of the raw image's size, slowest first")
	var single []*row
	for i := range manySpeeds {
		single = append(single, b.add(&row{group: "h", name: fmt.Sprintf("pistudio flash .zst to card %d alone (%d MB/s write)", i+1, int(manySpeeds[i]/1e6)), bytes: in.sz.raw,
			cmds: []string{fmt.Sprintf("$BENCH multiwrite $CGN $SCRATCH $ZST $LOOP%d", i+1)}}))
	}
	par := b.add(&row{group: "h", name: "pistudio flash .zst to the 4 cards at once (one decode, flash.WriteMany)", bytes: in.sz.raw,
		cmds: []string{"$BENCH multiwrite $CGN $SCRATCH $ZST $LOOP1 $LOOP2 $LOOP3 $LOOP4"}})
	for rep := 0; rep < b.cfg.reps; rep++ {
		b.logf("h: repetition %d/%d", rep+1, b.cfg.reps)
		if err := b.manyRep(in, cg, append(single, par)); err != nil {
			return err
		}
	}
	slow := single[0]
	for _, s := range single[1:] {
		if s.median() > slow.median() {
			slow = s
		}
	}
	par.base = slow
	slow.short = "slowest card alone"
	b.goal("h", goal, par.ratio() <= 1.3, "%.2f × (%s)", par.ratio(), slow.name)
	b.note("(h): every row writes and verifies; the four-card row decodes the zstd image once and shares the stream through bounded buffers, so the fastest cards wait for the slowest (a stalled or failed card drops out). Times are wall times from opening the image to the last verification.")
	return nil
}

// manyRep runs every row once on four fresh, throttled loop devices.
func (b *bench) manyRep(in *inputs, cg string, rows []*row) error {
	vars := map[string]string{"BENCH": b.cfg.self, "SCRATCH": b.scratch, "ZST": in.zst, "CGN": cg}
	var rels []func()
	defer func() {
		for _, r := range rels {
			r()
		}
	}()
	for i, w := range manySpeeds {
		dev, rel, err := b.target(fmt.Sprintf("card%d", i+1), in.sz.raw)
		if err != nil {
			return err
		}
		rels = append(rels, rel)
		if err := cgroupLimit(cg, dev, int64(w), manyReadBps); err != nil {
			return err
		}
		rels = append(rels, func() { cgroupLimit(cg, dev, 0, 0) })
		vars[fmt.Sprintf("LOOP%d", i+1)] = dev
	}
	for _, r := range rows {
		if err := b.timedWrite(r, vars, "multiwrite"); err != nil {
			return err
		}
	}
	return nil
}

// needZst makes the zstd copy of the raw image (as group c does).
func (b *bench) needZst(in *inputs) error {
	in.zst = in.raw + ".zst"
	b.variable("ZST", "$RAW compressed with `zstd -q -T2 -3 -c $RAW > $ZST`")
	b.variable("BENCH", benchDesc)
	if _, err := os.Stat(in.zst); err == nil {
		return nil
	}
	tmp := in.zst + ".tmp"
	if _, err := b.shell("zstd -q -T2 -3 -c $RAW > $ZST", map[string]string{"RAW": in.raw, "ZST": tmp}); err != nil {
		return err
	}
	return os.Rename(tmp, in.zst)
}

// runMultiWrite writes one image to loop devices with flash.WriteMany (one
// decode). Arguments: the blkio cgroup to join ("-" for none), the
// scratch directory every loop device must be backed from, the image,
// then the devices. It prints the same JSON as raidwrite.
func runMultiWrite(args []string) error {
	if len(args) < 4 {
		return errors.New("usage: multiwrite CGROUP|- SCRATCH IMAGE DEV [DEV]")
	}
	if err := joinCgroup(args[0]); err != nil {
		return err
	}
	scratch, img := args[1], args[2]
	var targets []flash.Target
	for _, dev := range args[3:] {
		// Only loop devices backed by a file of this bench's scratch directory.
		if err := checkOurLoop(dev, scratch); err != nil {
			return err
		}
		d, err := disk.CheckPath(dev)
		if err != nil {
			return err
		}
		targets = append(targets, flash.Target{Path: dev, Identity: d.Identity()})
	}
	start := time.Now()
	src, err := source.Open(img)
	if err != nil {
		return err
	}
	outs, err := flash.WriteMany(context.Background(), src, targets, flash.ManyOptions{
		Before: func(_ context.Context, i int) error {
			_, err := disk.Guard("/", targets[i].Path, targets[i].Identity, []string{img})
			return err
		},
	})
	if err != nil {
		return err
	}
	res := raidResult{Wall: time.Since(start).Nanoseconds(), Targets: map[string]int64{}}
	var errs []string
	for _, o := range outs {
		if o.Err == nil && !o.Result.Verified {
			o.Err = errors.New("not verified")
		}
		if o.Err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", o.Target, o.Err))
			continue
		}
		res.Targets[o.Target] = (o.Result.WriteTime + o.Result.VerifyTime).Nanoseconds()
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
