package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pistudio/pistudio/builder/buildcmd"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/flashcmd"
	"github.com/pistudio/pistudio/flash/provision"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/manifest"
)

// cliMode runs this program as the pistudio command line (without the GUI).
const cliMode = "pistudio-cli"

// subcommands are the modes the bench runs in a child process of its own.
var subcommands = map[string]func(args []string) error{
	cliMode:      runCLI,
	"decode":     runDecode,
	"logpipe":    runLogpipe,
	"raidwrite":  runRaidWrite,
	"flashprof":  runFlashProf,
	"emit":       runEmit,
	"provision":  runProvision,
	"multiwrite": runMultiWrite,
}

// runProvision writes a RAID image set to loop devices with
// flash/provision (Propose, Assign, Run; sparse twins). Arguments: the
// blkio cgroup to join ("-" for none), the scratch directory every loop
// device must be backed from, the set directory, then ROLE=DEVICE pairs.
// It prints the same JSON as raidwrite.
func runProvision(args []string) error {
	if len(args) < 4 {
		return errors.New("usage: provision CGROUP|- SCRATCH SET ROLE=DEV [ROLE=DEV]")
	}
	if err := joinCgroup(args[0]); err != nil {
		return err
	}
	scratch, set := args[1], args[2]
	m, err := manifest.Read(set)
	if err != nil {
		return err
	}
	roles := map[string]string{}
	var disks []disk.Disk
	for _, a := range args[3:] {
		role, dev, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("bad target %q", a)
		}
		if err := checkOurLoop(dev, scratch); err != nil {
			return err
		}
		d, err := disk.CheckPath(dev)
		if err != nil {
			return err
		}
		disks = append(disks, d)
		roles[role] = dev
	}
	start := time.Now()
	plan, err := provision.Propose(m, set, disks)
	if err != nil {
		return err
	}
	for role, dev := range roles {
		if err := plan.Assign(role, dev); err != nil {
			return err
		}
	}
	if err := plan.Ready(); err != nil {
		return err
	}
	sum, err := provision.Run(context.Background(), plan, provision.Options{SkipHoles: true})
	if err != nil {
		return err
	}
	res := raidResult{Wall: time.Since(start).Nanoseconds(), Targets: map[string]int64{}}
	for _, t := range sum.Targets {
		res.Targets[t.Device] = t.Duration.Nanoseconds()
		if !t.Verified {
			return fmt.Errorf("%s: not verified", t.Device)
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// joinCgroup moves this process into the blkio cgroup dir ("-": none).
func joinCgroup(cg string) error {
	if cg == "-" {
		return nil
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(fmt.Sprint(os.Getpid())), 0); err != nil {
		return fmt.Errorf("joining %s: %w", cg, err)
	}
	return nil
}

// runEmit is the stand-in build tool of the log pipeline case: it prints
// the lines of a file to stdout, as fast as it can (RATE 0) or paced at
// RATE lines a second in 10 ms ticks, and writes its own running time in
// nanoseconds to the file named by $BENCH_CHILD_NS.
func runEmit(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: emit LINES_FILE RATE")
	}
	// The file is streamed, so that the tool's own memory stays small
	// (a parent's peak RSS counts its children's).
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	rate, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	start := time.Now()
	out := os.Stdout
	if rate <= 0 {
		if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{f}, make([]byte, 64<<10)); err != nil {
			return err
		}
	} else {
		perTick := max(1, rate/100)
		br := bufio.NewReaderSize(f, 64<<10)
		bw := bufio.NewWriterSize(out, 64<<10)
		next := start
		for eof := false; !eof; {
			for k := 0; k < perTick; k++ {
				line, err := br.ReadSlice('\n')
				bw.Write(line)
				if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
					eof = true
					break
				}
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			next = next.Add(10 * time.Millisecond)
			time.Sleep(time.Until(next))
		}
	}
	if p := os.Getenv("BENCH_CHILD_NS"); p != "" {
		return os.WriteFile(p, []byte(strconv.FormatInt(time.Since(start).Nanoseconds(), 10)), 0o644)
	}
	return nil
}

// runFlashProf writes IMAGE to DEVICE (a loop device backed by a file
// under SCRATCH) like `pistudio flash` and saves a CPU profile: how the
// time of a flash was split when tuning the writer.
func runFlashProf(args []string) error {
	if len(args) != 4 {
		return errors.New("usage: flashprof IMAGE DEVICE SCRATCH PROFILE")
	}
	img, dev, scratch, prof := args[0], args[1], args[2], args[3]
	if err := checkOurLoop(dev, scratch); err != nil {
		return err
	}
	f, err := os.Create(prof)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	start := time.Now()
	d, err := disk.CheckPath(dev)
	if err != nil {
		return err
	}
	src, err := source.Open(img)
	if err != nil {
		return err
	}
	defer src.Close()
	opened := time.Since(start)
	r, err := flash.Write(context.Background(), src, flash.Target{Path: dev, Identity: d.Identity()}, flash.Options{})
	if err != nil {
		return err
	}
	fmt.Printf("open %s, write %s, verify %s, total %s\n", opened, r.WriteTime, r.VerifyTime, time.Since(start))
	return nil
}

// checkOurLoop refuses any device but a loop device backed by a file
// under scratch (the bench's own).
func checkOurLoop(dev, scratch string) error {
	if !loopRe.MatchString(dev) {
		return fmt.Errorf("%s is not a loop device", dev)
	}
	back, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file"))
	if err != nil || !strings.HasPrefix(strings.TrimSpace(string(back)), scratch+"/") {
		return fmt.Errorf("%s is not backed by a file in %s", dev, scratch)
	}
	return nil
}

func runCLI(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmds := append(buildcmd.Commands(), flashcmd.Commands()...)
	code := cli.Main(ctx, cli.OSEnv(), cmds, args)
	stop()
	os.Exit(code)
	return nil
}

// decodeResult is what `decode` prints.
type decodeResult struct {
	Format string `json:"format"`
	Bytes  int64  `json:"bytes"`
	Nanos  int64  `json:"nanos"`
}

// runDecode opens an image with flash/source and reads every data range,
// as the writer's decoder does, discarding the bytes.
func runDecode(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: decode IMAGE")
	}
	start := time.Now()
	src, err := source.Open(args[0])
	if err != nil {
		return err
	}
	defer src.Close()
	buf := make([]byte, 4<<20)
	var n int64
	for {
		_, r, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		m, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
		n += m
		if err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(decodeResult{Format: string(src.Format()), Bytes: n, Nanos: time.Since(start).Nanoseconds()})
}

// logResult is what `logpipe` prints.
type logResult struct {
	Lines   int64  `json:"lines"`
	Dropped int64  `json:"dropped"`
	Kept    int    `json:"kept"`
	Nanos   int64  `json:"nanos"`
	State   string `json:"state"`
	LogSize int64  `json:"log_size"`
}

// runLogpipe runs the build runner on a stand-in tool (this program's
// emit mode, printing LINES_FILE at RATE lines a second, 0 = flat out)
// and consumes the events the way the GUI's log view does: it keeps the
// last 20 000 lines. CONSUMER "slow" makes the consumer sleep 1 ms every
// 20 lines, a UI that cannot keep up.
func runLogpipe(args []string) error {
	if len(args) != 4 {
		return errors.New("usage: logpipe LINES_FILE RATE keep|slow WORKDIR")
	}
	lines, rate, mode, work := args[0], args[1], args[2], args[3]
	toolDir := filepath.Join(work, "tool")
	if err := os.MkdirAll(toolDir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	script := "#!/bin/sh\nexec " + shellQuote(self) + " emit " + shellQuote(lines) + " " + shellQuote(rate) + "\n"
	if err := os.WriteFile(runner.ToolPath(toolDir), []byte(script), 0o755); err != nil {
		return err
	}
	cfgPath := filepath.Join(work, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("image:\n  name: bench\n"), 0o644); err != nil {
		return err
	}
	job := runner.Job{Config: cfgPath, Stage: runner.StageFilesystem, ToolDir: toolDir,
		WorkDir: filepath.Join(work, "work"), ImageName: "bench"}
	start := time.Now()
	run, err := runner.Start(context.Background(), job, runner.Options{SkipPreflight: true})
	if err != nil {
		return err
	}
	const keep = 20000
	ring := make([]string, keep)
	var res logResult
	for ev := range run.Events() {
		switch ev.Kind {
		case runner.EventLog:
			ring[res.Lines%keep] = ev.Text
			res.Lines++
			if mode == "slow" && res.Lines%20 == 0 {
				time.Sleep(time.Millisecond)
			}
		case runner.EventDropped:
			res.Dropped += int64(ev.Dropped)
		}
	}
	r := run.Wait()
	res.Nanos = time.Since(start).Nanoseconds()
	res.State = string(r.State)
	res.Kept = int(min(res.Lines, keep))
	if st, err := os.Stat(r.LogPath); err == nil {
		res.LogSize = st.Size()
	}
	if r.Err != nil {
		return fmt.Errorf("run: %w", r.Err)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// raidResult is what `raidwrite` prints.
type raidResult struct {
	Wall    int64            `json:"wall_nanos"`
	Targets map[string]int64 `json:"target_nanos"`
}

// runRaidWrite writes images to loop devices in parallel, one flash.Write
// goroutine per target, each at its own speed. Arguments: the blkio
// cgroup to join ("-" for none), the scratch directory every loop device
// must be backed from, then DEVICE=IMAGE pairs.
func runRaidWrite(args []string) error {
	if len(args) < 3 {
		return errors.New("usage: raidwrite CGROUP|- SCRATCH DEV=IMAGE [DEV=IMAGE]")
	}
	if err := joinCgroup(args[0]); err != nil {
		return err
	}
	scratch := args[1]
	type job struct{ dev, img string }
	var jobs []job
	for _, a := range args[2:] {
		dev, img, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("bad target %q", a)
		}
		// Only loop devices backed by a file of this bench's scratch directory.
		if err := checkOurLoop(dev, scratch); err != nil {
			return err
		}
		jobs = append(jobs, job{dev, img})
	}
	res := raidResult{Targets: map[string]int64{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	start := time.Now()
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			d, err := disk.CheckPath(j.dev)
			if err != nil {
				errs[i] = err
				return
			}
			src, err := source.Open(j.img)
			if err != nil {
				errs[i] = err
				return
			}
			defer src.Close()
			r, err := flash.Write(context.Background(), src, flash.Target{Path: j.dev, Identity: d.Identity()}, flash.Options{})
			if err == nil && !r.Verified {
				err = errors.New("not verified")
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", j.dev, err)
				return
			}
			mu.Lock()
			res.Targets[j.dev] = time.Since(t0).Nanoseconds()
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Wall = time.Since(start).Nanoseconds()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
