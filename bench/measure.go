package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// bench is one run of the comparison.
type bench struct {
	ctx     context.Context
	cfg     *config
	data    string // generated inputs, kept between runs
	scratch string // per-run scratch files, always removed
	loops   loopSet
	rows    []*row
	goals   []goal
	notes   []string
	vars    []string // "$NAME = meaning" lines for the commands
	gobench string
	started time.Time
	elapsed time.Duration
}

// row is one measured case.
type row struct {
	group, name string
	short       string   // the name in other rows' ratio column
	cmds        []string // the exact commands ($VARS as listed in the report)
	times       []time.Duration
	bytes       int64  // bytes the case moves, for MB/s (0: none shown)
	rssKiB      int64  // peak RSS of the measured process, max over runs
	base        *row   // ratio is median/base median
	note        string // shown after the table
}

// goal is a target of the issue and whether it was met.
type goal struct {
	group, text, got string
	ok               bool
}

func newBench(ctx context.Context, cfg *config) (*bench, error) {
	b := &bench{ctx: ctx, cfg: cfg, started: time.Now()}
	b.data = filepath.Join(cfg.dir, fmt.Sprintf("data-%g", cfg.scale))
	if err := os.MkdirAll(b.data, 0o755); err != nil {
		return nil, err
	}
	var err error
	if b.scratch, err = os.MkdirTemp(cfg.dir, "scratch-"); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bench) cleanup() {
	b.loops.detachAll()
	if err := os.RemoveAll(b.scratch); err != nil {
		fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
	}
	cgroupCleanup()
	b.elapsed = time.Since(b.started)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Since(b.started).Round(time.Second), fmt.Sprintf(format, args...))
}

func (b *bench) add(r *row) *row { b.rows = append(b.rows, r); return r }

func (b *bench) goal(group, text string, ok bool, format string, args ...any) {
	b.goals = append(b.goals, goal{group: group, text: text, ok: ok, got: fmt.Sprintf(format, args...)})
}

func (b *bench) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// variable documents a $NAME used in the commands.
func (b *bench) variable(name, meaning string) {
	line := fmt.Sprintf("`$%s` = %s", name, meaning)
	for _, v := range b.vars {
		if v == line {
			return
		}
	}
	b.vars = append(b.vars, line)
}

// median of the row's times.
func (r *row) median() time.Duration {
	if len(r.times) == 0 {
		return 0
	}
	t := append([]time.Duration(nil), r.times...)
	sort.Slice(t, func(i, j int) bool { return t[i] < t[j] })
	n := len(t)
	if n%2 == 1 {
		return t[n/2]
	}
	return (t[n/2-1] + t[n/2]) / 2
}

func (r *row) rate() float64 {
	m := r.median().Seconds()
	if r.bytes == 0 || m == 0 {
		return 0
	}
	return float64(r.bytes) / 1e6 / m
}

func (r *row) ratio() float64 {
	if r.base == nil || r.base.median() == 0 {
		return 0
	}
	return r.median().Seconds() / r.base.median().Seconds()
}

// record adds one run of r's command: its time and peak RSS.
func (r *row) record(res result) {
	r.times = append(r.times, res.dur)
	r.addRSS(res.rssKiB)
}

func (r *row) addRSS(kib int64) {
	if kib > r.rssKiB {
		r.rssKiB = kib
	}
}

// result of running one command.
type result struct {
	dur    time.Duration
	rssKiB int64
	stdout []byte
}

// shell runs the command line cmd with bash after replacing $NAME by
// vars[NAME]; cmd as written is what the report shows. It is timed from
// start to exit. The process's peak RSS (including the children it waited
// for) comes back too.
func (b *bench) shell(cmd string, vars map[string]string) (result, error) {
	line := expand(cmd, vars)
	if err := b.checkDevices(line); err != nil {
		return result{}, err
	}
	c := exec.CommandContext(b.ctx, "bash", "-o", "pipefail", "-c", line)
	return b.run(c, cmd)
}

// expand replaces $NAME (longest names first) in cmd.
func expand(cmd string, vars map[string]string) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		cmd = strings.ReplaceAll(cmd, "$"+k, vars[k])
	}
	return cmd
}

// checkDevices refuses a command line naming any /dev/ node other than
// /dev/null, /dev/zero and loop devices this program attached.
func (b *bench) checkDevices(line string) error {
	for _, f := range strings.FieldsFunc(line, func(r rune) bool {
		return r == ' ' || r == '=' || r == '|' || r == ';' || r == '<' || r == '>' || r == '&' || r == '\'' || r == '"'
	}) {
		if !strings.HasPrefix(f, "/dev/") {
			continue
		}
		if f == "/dev/null" || f == "/dev/zero" {
			continue
		}
		if !b.loops.owns(f) {
			return fmt.Errorf("refusing to run %q: %s is not a loop device this bench attached", line, f)
		}
	}
	return nil
}

// run runs c under /usr/bin/time for its peak RSS: the rusage of a child
// of this (larger) process would count this process's memory too, as the
// kernel keeps the high-water mark across fork and exec.
func (b *bench) run(c *exec.Cmd, shown string) (result, error) {
	var out, errb bytes.Buffer
	rssFile, err := os.CreateTemp(b.scratch, "rss-")
	if err != nil {
		return result{}, err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	if timeBin != "" {
		c.Args = append([]string{timeBin, "-f", "%M", "-o", rssFile.Name()}, c.Args...)
		c.Path = timeBin
	}
	c.Stdout = &out
	c.Stderr = &errb
	// The command runs in a process group of its own, killed as a whole
	// on interrupt, so that nothing keeps a loop device open.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	start := time.Now()
	err = c.Run()
	d := time.Since(start)
	res := result{dur: d, stdout: out.Bytes()}
	if data, rerr := os.ReadFile(rssFile.Name()); rerr == nil {
		// time writes "Command exited with non-zero status N" first on failure.
		f := strings.Fields(string(data))
		if len(f) > 0 {
			res.rssKiB, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
		}
	}
	if err != nil {
		if b.ctx.Err() != nil {
			return res, b.ctx.Err()
		}
		msg := strings.TrimSpace(errb.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return res, fmt.Errorf("%s: %w: %s", shown, err, msg)
	}
	return res, nil
}

// warm reads files into the page cache (inputs are read from memory by
// every tool alike).
func warm(paths ...string) {
	buf := make([]byte, 4<<20)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		for {
			if _, err := f.Read(buf); err != nil {
				break
			}
		}
		f.Close()
	}
}

// target attaches a loop device to a backing file of size bytes in the
// scratch directory and returns the device and a release function that
// detaches it. The file is created on first use, written full of zeros
// through the loop device (the first write through a new loop device
// runs slower than the ones after it, whatever wrote the file before)
// and kept for the next cases of that name and size; the scratch
// directory goes at the end. Every case thus overwrites blocks that
// exist, as on a real disk. A fresh file per case made each case pay for
// the filesystem allocating its blocks and, with the `discard` mount
// option, for discarding the blocks of the file removed before it: noise
// of the machine, not of the tools.
func (b *bench) target(name string, size int64) (string, func(), error) {
	file := filepath.Join(b.scratch, fmt.Sprintf("%s-%d.backing", name, size))
	fresh := false
	if st, err := os.Stat(file); err != nil || st.Size() != size {
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			return "", nil, err
		}
		if err := os.Truncate(file, size); err != nil {
			return "", nil, err
		}
		fresh = true
	}
	dev, err := b.loops.attach(file)
	if err != nil {
		return "", nil, err
	}
	release := func() {
		if err := b.loops.detach(dev); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	if fresh {
		if err := b.zeroDevice(dev, size); err != nil {
			release()
			os.Remove(file)
			return "", nil, err
		}
	}
	// Start every case on a quiet disk: write back what earlier steps
	// left dirty (generated inputs, the last case's writes) so that it is
	// not charged to whichever command runs next.
	syscall.Sync()
	return dev, release, nil
}

// zeroDevice writes size zero bytes to dev, a loop device of this bench,
// with O_DIRECT, and flushes it.
func (b *bench) zeroDevice(dev string, size int64) error {
	if !b.loops.owns(dev) {
		return fmt.Errorf("refusing to write %s: not a loop device this bench attached", dev)
	}
	f, err := os.OpenFile(dev, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return err
	}
	buf := alignedZeros(4 << 20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			f.Close()
			return fmt.Errorf("zeroing %s: %w", dev, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// alignedZeros returns n zero bytes aligned to 4096 in memory, as
// O_DIRECT needs.
func alignedZeros(n int) []byte {
	b := make([]byte, n+4096)
	off := int(uintptr(unsafe.Pointer(&b[0])) & 4095)
	if off != 0 {
		off = 4096 - off
	}
	return b[off : off+n]
}

func mb(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// timeBin is GNU time, which reports a command's own peak RSS ("" when
// missing: RSS is then not shown).
var timeBin, _ = exec.LookPath("/usr/bin/time")
