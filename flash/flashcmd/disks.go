package flashcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/internal/cli"
	"github.com/pistudio/pistudio/internal/units"
)

func init() {
	register(func(s *system) cli.Command {
		return cli.Command{
			Name:    "disks",
			Usage:   "[--all] [--json]",
			Summary: "list the disks an image can be written to",
			Run:     runDisks,
		}
	})
}

func runDisks(ctx context.Context, env *cli.Env, args []string) error {
	// --root DIR reads a fake sysfs tree (tests); it is kept out of the help.
	root, args, err := cutRootFlag(args)
	if err != nil {
		return cli.Usagef("disks", "%v", err)
	}
	fs := cli.NewFlagSet("disks")
	all := fs.Bool("all", false, "also list protected disks, with the reason")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.Parse(fs, env, "[--all] [--json]", args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("disks", "unexpected argument %q", fs.Arg(0))
	}
	disks, err := disk.Scan(disk.ScanOptions{Root: root})
	if err != nil {
		return fmt.Errorf("scanning disks: %w", err)
	}
	shown := []disk.Disk{}
	for _, d := range disks {
		if d.Eligible || *all {
			shown = append(shown, d)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(shown)
	}
	printDisks(env.Stdout, shown, *all)
	if len(shown) == 0 {
		hidden := len(disks)
		fmt.Fprintf(env.Stdout, "No disk to write to: insert an SD card or USB disk.")
		if hidden > 0 && !*all {
			fmt.Fprintf(env.Stdout, " (%d protected; --all shows them)", hidden)
		}
		fmt.Fprintln(env.Stdout)
	}
	return nil
}

func cutRootFlag(args []string) (string, []string, error) {
	var out []string
	root := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return root, append(out, args[i:]...), nil
		case a == "--root" || a == "-root":
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("flag needs an argument: %s", a)
			}
			root = args[i+1]
			i++
		case strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "-root="):
			root = a[strings.Index(a, "=")+1:]
		default:
			out = append(out, a)
		}
	}
	return root, out, nil
}

func printDisks(w io.Writer, disks []disk.Disk, all bool) {
	if len(disks) == 0 {
		return
	}
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	head := "DEVICE\tSIZE\tBUS\tMODEL\tNOTE"
	if all {
		head = "DEVICE\tSIZE\tBUS\tMODEL\tSTATUS"
	}
	fmt.Fprintln(tw, head)
	for _, d := range disks {
		var notes []string
		if d.Removable {
			notes = append(notes, "removable")
		}
		if d.NeedsTypedConfirm {
			notes = append(notes, "large: type its name to confirm")
		}
		note := strings.Join(notes, ", ")
		if all {
			if d.Eligible {
				note = strings.TrimSuffix("eligible, "+note, ", ")
			} else {
				note = "protected: " + d.Reason
			}
		}
		model := strings.TrimSpace(d.Vendor + " " + d.Model)
		if d.Vendor != "" && strings.HasPrefix(d.Model, d.Vendor) {
			model = d.Model
		}
		if model == "" {
			model = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Path, units.Decimal(d.SizeBytes), orDash(d.Bus), model, note)
		for _, p := range d.Partitions {
			desc := strings.TrimSpace(p.FSType + " " + p.Label)
			if len(p.MountPoints) > 0 {
				desc += " on " + strings.Join(p.MountPoints, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t\t%s\t\n", p.Name, units.Decimal(p.SizeBytes), strings.TrimSpace(desc))
		}
	}
	tw.Flush()
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line != "" {
			fmt.Fprintln(w, strings.TrimRight(line, " \n"))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
