package flashcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/cli"
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
	pos, err := cli.ParseInterspersed(fs, env, "IMAGE [--json]", args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cli.Usagef("inspect", "expected one IMAGE, got %d arguments", len(pos))
	}
	info, err := source.Inspect(pos[0])
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
