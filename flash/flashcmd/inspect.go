package flashcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pistudio/pistudio/builder/cli"
	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/source"
)

func init() {
	register(cli.Command{
		Name:    "inspect",
		Usage:   "IMAGE [--json]",
		Summary: "show an image's format, sizes and partitions",
		Run:     runInspect,
	})
}

func runInspect(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("inspect")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.Parse(fs, env, "IMAGE [--json]", flagsFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("inspect", "expected one IMAGE, got %d arguments", fs.NArg())
	}
	info, err := source.Inspect(fs.Arg(0))
	if err != nil {
		return cli.Exit(2, err)
	}
	if info.Partitions == nil {
		info.Partitions = []source.PartitionInfo{}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	printInfo(env.Stdout, info)
	return nil
}

func printInfo(w io.Writer, info *source.Info) {
	fmt.Fprintf(w, "Image:   %s\n", info.Path)
	fmt.Fprintf(w, "Format:  %s\n", info.Format)
	fmt.Fprintf(w, "Size:    %s (%d bytes) expanded\n", flash.HumanBytes(info.Size), info.Size)
	fmt.Fprintf(w, "Data:    %s (%d bytes) to write\n", flash.HumanBytes(info.DataSize), info.DataSize)
	table := strings.ToUpper(info.Table)
	if table == "" {
		table = "none found"
	}
	fmt.Fprintf(w, "Table:   %s\n", table)
	if len(info.Partitions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tSTART\tSIZE\tTYPE\tFS\tLABEL")
		for _, p := range info.Partitions {
			typ := p.Type
			if p.TypeName != "" {
				typ += " " + p.TypeName
			}
			label := p.Label
			if p.Name != "" && label == "" {
				label = p.Name
			}
			fmt.Fprintf(tw, "  %d\t%d\t%s\t%s\t%s\t%s\n", p.Index, p.Start, flash.HumanBytes(p.Size), typ, orDash(p.Filesystem), orDash(label))
		}
		tw.Flush()
	}
	for _, wmsg := range info.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wmsg)
	}
}

// flagsFirst moves flags written after the positional arguments to the
// front, so `inspect IMAGE --json` works like `inspect --json IMAGE`. Only
// for commands whose flags are all booleans; "--" ends the flags.
func flagsFirst(args []string) []string {
	var flags, pos []string
	for i, a := range args {
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flags = append(flags, a)
		} else {
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 {
		flags = append(flags, "--")
	}
	return append(flags, pos...)
}
