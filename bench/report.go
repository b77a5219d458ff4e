package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

var groupTitles = map[string]string{
	"a": "a. Raw image → loop device",
	"b": "b. Android sparse image → loop device",
	"c": "c. xz and zstd: decode and write",
	"d": "d. RAID set: SD card + 2 externals on three loop devices",
	"e": "e. Native image stage vs genimage",
	"f": "f. Build log pipeline",
	"g": "g. Peak memory of a flash",
	"h": "h. One image to four cards of different speeds at once",
}

func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// table renders the results as a Markdown table (readable as plain text).
func (b *bench) table() string {
	var w bytes.Buffer
	group := ""
	for _, r := range b.rows {
		if len(r.times) == 0 {
			continue
		}
		if r.group != group {
			group = r.group
			fmt.Fprintf(&w, "\n### %s\n\n", groupTitles[group])
			fmt.Fprintln(&w, "| case | median | MB/s | ratio | peak RSS | runs |")
			fmt.Fprintln(&w, "|---|---:|---:|---:|---:|---:|")
		}
		rate, ratio, rss := "", "", ""
		if v := r.rate(); v > 0 {
			rate = fmt.Sprintf("%.0f", v)
		}
		if v := r.ratio(); v > 0 {
			ratio = fmt.Sprintf("%.2f × %s", v, r.base.label())
		}
		if r.rssKiB > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(r.rssKiB)/1024)
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %d |\n", cell(r.name), fmtDur(r.median()), rate, cell(ratio), rss, len(r.times))
		if r.note != "" {
			fmt.Fprintf(&w, "|   ↳ %s | | | | | |\n", cell(r.note))
		}
	}
	return w.String() + b.goalTable()
}

// goalTable renders the goals of the issue and whether they were met.
func (b *bench) goalTable() string {
	if len(b.goals) == 0 {
		return ""
	}
	var w bytes.Buffer
	fmt.Fprintf(&w, "\n### Goals\n\n| | goal | measured |\n|---|---|---|\n")
	for _, g := range b.goals {
		mark := "FAIL"
		if g.ok {
			mark = "ok"
		}
		fmt.Fprintf(&w, "| %s %s | %s | %s |\n", g.group, mark, cell(g.text), cell(g.got))
	}
	return w.String()
}

// rowTable renders the measured cases.
func (b *bench) rowTable() string {
	t := b.table()
	return strings.TrimSuffix(t, b.goalTable())
}

// cell escapes the pipes of a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func (r *row) label() string {
	if r.short != "" {
		return r.short
	}
	return shortName(r.name)
}

func shortName(s string) string {
	if i := strings.Index(s, " ("); i > 0 {
		return s[:i]
	}
	if i := strings.Index(s, " ["); i > 0 {
		return s[:i]
	}
	return s
}

// machine describes where the numbers come from.
func machine() string {
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				if _, v, ok := strings.Cut(l, ":"); ok {
					cpu = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	kernel, _ := exec.Command("uname", "-sr").Output()
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(data), "\n")
		mem = strings.Join(strings.Fields(l)[1:], " ")
	}
	var versions []string
	for _, c := range [][]string{{"dd", "--version"}, {"xz", "--version"}, {"zstd", "--version"}, {"bmaptool", "--version"}, {"genimage", "--version"}, {"mke2fs", "-V"}} {
		out, _ := exec.Command(c[0], c[1:]...).CombinedOutput()
		l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		if l != "" {
			versions = append(versions, fmt.Sprintf("%s: %s", c[0], l))
		}
	}
	return fmt.Sprintf("- nproc: %d\n- CPU: %s\n- kernel: %s\n- memory: %s\n- Go: %s\n- tools: %s\n",
		runtime.NumCPU(), cpu, strings.TrimSpace(string(kernel)), mem, runtime.Version(), strings.Join(versions, "; "))
}

const (
	beginMark = "<!-- bench:begin (written by `make bench`; edit outside these marks) -->"
	endMark   = "<!-- bench:end -->"
)

// writeMarkdown replaces the generated part of path (between the marks),
// keeping everything else; a missing file gets a title.
func (b *bench) writeMarkdown(path string) error {
	var w bytes.Buffer
	fmt.Fprintln(&w, beginMark)
	fmt.Fprintf(&w, "## Latest run\n\n%s, BENCH_SCALE=%g, BENCH_REPS=%d, %s in all. Times are medians of the runs shown; ratios divide medians.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), b.cfg.scale, b.cfg.reps, b.elapsed.Round(time.Second))
	fmt.Fprintf(&w, "### Machine\n\n%s", machine())
	w.WriteString(b.goalTable())
	w.WriteString(b.rowTable())
	if len(b.notes) > 0 {
		fmt.Fprintf(&w, "\n### Notes\n\n")
		for _, n := range b.notes {
			fmt.Fprintf(&w, "- %s\n", n)
		}
	}
	fmt.Fprintf(&w, "\n### Commands\n\nEach case runs exactly these commands (bash, `-o pipefail`), timed from start to exit:\n\n")
	group := ""
	for _, r := range b.rows {
		if r.group != group {
			group = r.group
			fmt.Fprintf(&w, "\n%s\n\n", groupTitles[group])
		}
		fmt.Fprintf(&w, "- %s:", r.name)
		for _, c := range r.cmds {
			fmt.Fprintf(&w, " `%s`", c)
		}
		fmt.Fprintln(&w)
	}
	fmt.Fprintf(&w, "\nwhere\n\n")
	for _, v := range b.vars {
		fmt.Fprintf(&w, "- %s\n", v)
	}
	if b.gobench != "" {
		fmt.Fprintf(&w, "\n### Go benchmarks\n\n```\n%s\n```\n", b.gobench)
	}
	fmt.Fprintln(&w, endMark)

	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var out string
	s := string(old)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	switch {
	case i >= 0 && j > i:
		out = s[:i] + w.String() + strings.TrimPrefix(s[j+len(endMark):], "\n")
	case len(s) > 0:
		out = strings.TrimRight(s, "\n") + "\n\n" + w.String()
	default:
		out = "# Benchmarks\n\n" + w.String()
	}
	return os.WriteFile(path, []byte(out), 0o644)
}
