package flashcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/cli"
)

func init() {
	register(func(s *system) cli.Command {
		return cli.Command{
			Name:    "inspect",
			Usage:   "IMAGE [--json]",
			Summary: "show an image's format, sizes, partitions and first-boot settings reader",
			Run:     runInspect,
		}
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
	rd := firstboot.Detect(pos[0])
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(inspectJSON{Info: info, Firstboot: rd})
	}
	printInfo(env.Stdout, info)
	printReader(env.Stdout, rd)
	return nil
}

// inspectJSON is inspect --json: the image info and its reader.
type inspectJSON struct {
	*source.Info
	// Firstboot is the first-boot settings reader and where it was learnt,
	// or why settings cannot be applied.
	Firstboot firstboot.Reader `json:"firstboot"`
}

// printReader says which first-boot reader the image has, or why
// settings cannot be applied to it.
func printReader(w io.Writer, rd firstboot.Reader) {
	if rd.CanApply() {
		fmt.Fprintf(w, "Settings: %s, read at first boot (%s; from %s)\n", rd.Format, rd.Format.Label(), rd.From)
		return
	}
	fmt.Fprintf(w, "Settings: cannot be applied: %s\n", rd.Reason)
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
