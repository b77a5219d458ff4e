// Command bench compares Pi Image Studio with the standard tools on the
// same data in one run: writing raw, Android sparse, xz and zstd images to
// loop devices (against dd, simg2img, bmaptool, cmp, xz and zstd), writing a
// RAID set to three loop devices in parallel, the native image stage
// against genimage, the build runner's log pipeline against cat, and the
// peak memory of a flash. It prints a table of medians and ratios and
// writes it, with the machine and the exact commands, into BENCHMARKS.md.
//
// It needs root (loop devices). Every target is a loop device attached by
// this program to a file it created; they are detached and the files
// removed at the end, also after a failure or an interrupt. No other block
// device is opened.
//
// Usage (from the repository root):
//
//	go build -o bin/pistudio-bench ./bench
//	sudo bin/pistudio-bench -pistudio bin/pistudio -o BENCHMARKS.md
//
// Environment: BENCH_SCALE (default 1) scales every size (0.1 for a quick
// run), BENCH_REPS (default 3) the repetitions of the cheap cases,
// BENCH_ONLY a comma list of groups (a,b,c,d,e,f,g,h,go), BENCH_DIR the
// directory for generated inputs (kept between runs, default
// /var/tmp/pistudio-bench) and scratch files (always removed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	// Hidden modes: the bench re-executes itself to measure a case in a
	// process of its own (peak RSS, no interference).
	if len(os.Args) > 1 {
		if run, ok := subcommands[os.Args[1]]; ok {
			// BENCH_CPUPROFILE=FILE profiles the mode (used when tuning).
			if p := os.Getenv("BENCH_CPUPROFILE"); p != "" && os.Args[1] != cliMode {
				f, err := os.Create(p)
				if err == nil && pprof.StartCPUProfile(f) == nil {
					defer func() { pprof.StopCPUProfile(); f.Close() }()
				}
			}
			if err := run(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
				pprof.StopCPUProfile()
				os.Exit(1)
			}
			return
		}
	}
	os.Exit(benchMain())
}

// config is what a run was asked to do.
type config struct {
	pistudio string  // the pistudio binary
	out      string  // BENCHMARKS.md to update ("" = none)
	dir      string  // inputs cache and scratch root
	scale    float64 // size factor
	reps     int     // repetitions of cheap cases
	only     map[string]bool
	self     string // this program
}

func (c *config) want(group string) bool { return len(c.only) == 0 || c.only[group] }

func benchMain() int {
	cfg := &config{}
	flag.StringVar(&cfg.pistudio, "pistudio", "bin/pistudio", "the pistudio `binary` to measure (\"self\": this program's built-in copy of the CLI)")
	flag.StringVar(&cfg.out, "o", "BENCHMARKS.md", "the `file` to write the results into (\"\" for none)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root: every target is a loop device (losetup), and flashing one needs root; run as root, e.g. `sudo make bench`")
		return 2
	}
	var err error
	cfg.scale = envFloat("BENCH_SCALE", 1)
	cfg.reps = int(envFloat("BENCH_REPS", 3))
	if cfg.reps < 1 {
		cfg.reps = 1
	}
	if cfg.scale <= 0 || cfg.scale > 4 {
		fmt.Fprintln(os.Stderr, "bench: BENCH_SCALE must be in (0, 4]")
		return 2
	}
	cfg.dir = os.Getenv("BENCH_DIR")
	if cfg.dir == "" {
		cfg.dir = "/var/tmp/pistudio-bench"
	}
	if s := os.Getenv("BENCH_ONLY"); s != "" {
		cfg.only = map[string]bool{}
		for _, g := range strings.Split(s, ",") {
			cfg.only[strings.TrimSpace(g)] = true
		}
	}
	if cfg.self, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if cfg.pistudio == "self" {
		cfg.pistudio = cfg.self + " " + cliMode
	} else if cfg.pistudio, err = filepath.Abs(cfg.pistudio); err == nil {
		if _, err = os.Stat(cfg.pistudio); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v (build it with `make build`, or pass -pistudio self)\n", err)
			return 1
		}
	}
	if err := checkTools(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	b, err := newBench(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	code := 0
	func() {
		defer b.cleanup()
		defer func() {
			if p := recover(); p != nil {
				fmt.Fprintf(os.Stderr, "bench: panic: %v\n%s", p, debug.Stack())
				code = 1
			}
		}()
		if err := b.runAll(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			if errors.Is(err, context.Canceled) {
				code = 130
			} else {
				code = 1
			}
		}
	}()
	if len(b.rows) > 0 {
		table := b.table()
		fmt.Println()
		fmt.Print(table)
		if cfg.out != "" && code == 0 {
			if err := b.writeMarkdown(cfg.out); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				code = 1
			} else {
				fmt.Printf("\nwrote %s\n", cfg.out)
			}
		}
	}
	return code
}

func envFloat(name string, def float64) float64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s=%q is not a number; using %v\n", name, s, def)
		return def
	}
	return f
}

// tools are the programs the comparison runs, with their Debian package.
var tools = [][2]string{
	{"losetup", "mount"}, {"dd", "coreutils"}, {"cmp", "diffutils"}, {"blockdev", "util-linux"},
	{"simg2img", "android-sdk-libsparse-utils"}, {"bmaptool", "bmap-tools"},
	{"xz", "xz-utils"}, {"zstd", "zstd"}, {"genimage", "genimage"},
	{"mke2fs", "e2fsprogs"}, {"mkfs.vfat", "dosfstools"}, {"mcopy", "mtools"}, {"debugfs", "e2fsprogs"}, {"time", "time"},
}

func checkTools() error {
	var missing []string
	for _, t := range tools {
		if _, err := lookPath(t[0]); err != nil {
			missing = append(missing, t[1])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools; install them with: apt-get install -y %s", strings.Join(uniq(missing), " "))
	}
	return nil
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
