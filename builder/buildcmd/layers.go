package buildcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/pistudio/pistudio/builder/layers"
	"github.com/pistudio/pistudio/builder/runner"
	"github.com/pistudio/pistudio/internal/cli"
)

func init() {
	register(cli.Command{
		Name:    "layers",
		Usage:   "[--rpi-image-gen DIR] [-S DIR]... [--json]",
		Summary: "list the rpi-image-gen layers available to a build",
		Run:     runLayers,
	})
}

// layerJSON is the --json form of one layer.
type layerJSON struct {
	Name             string    `json:"name"`
	Category         string    `json:"category"`
	Version          string    `json:"version"`
	Description      string    `json:"description"`
	File             string    `json:"file"`
	Source           string    `json:"source"`
	Requires         []string  `json:"requires,omitempty"`
	Provides         []string  `json:"provides,omitempty"`
	RequiresProvider []string  `json:"requires_provider,omitempty"`
	Conflicts        []string  `json:"conflicts,omitempty"`
	Variables        []varJSON `json:"variables"`
}

type varJSON struct {
	Name        string   `json:"name"`
	Env         string   `json:"env"`
	Default     string   `json:"default"`
	Description string   `json:"description,omitempty"`
	Required    bool     `json:"required"`
	Valid       string   `json:"valid,omitempty"`
	Kind        string   `json:"kind"`
	Choices     []string `json:"choices,omitempty"`
	Set         string   `json:"set"`
}

// catalogFlags are the flags layers and validate share.
type catalogFlags struct {
	tool    string
	sources cli.StringList
}

// loadCatalog finds the tool (optional when allowMissing) and loads the
// catalog with -S dirs and the embedded layers.
func loadCatalog(env *cli.Env, cmd string, f *catalogFlags, allowMissing bool) (*layers.Catalog, string, error) {
	tool, err := runner.FindTool(f.tool, env.Env)
	if err != nil {
		if !allowMissing || f.tool != "" {
			return nil, "", cli.Exit(2, err)
		}
		first, _, _ := strings.Cut(err.Error(), ";")
		fmt.Fprintf(env.Stderr, "pistudio %s: warning: %s; listing only the layers built into pistudio (use --rpi-image-gen DIR)\n", cmd, first)
		tool = ""
	}
	cat, err := layers.LoadCatalog(layers.CatalogOptions{ToolDir: tool, SourceDirs: f.sources, Embedded: true})
	if err != nil {
		return nil, "", cli.Exit(2, err)
	}
	for _, e := range cat.Errors {
		fmt.Fprintf(env.Stderr, "pistudio %s: warning: skipped layer: %v\n", cmd, e)
	}
	// Lint findings do not fail the command; they are shown so that
	// layer authors see them.
	for _, w := range cat.Warnings {
		fmt.Fprintf(env.Stderr, "warning: %s\n", w)
	}
	return cat, tool, nil
}

func runLayers(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("layers")
	var f catalogFlags
	fs.StringVar(&f.tool, "rpi-image-gen", "", "rpi-image-gen checkout `DIR`")
	fs.Var(&f.sources, "S", "extra source `DIR` (repeatable), searched before the tool's own layers")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := cli.Parse(fs, env, "[--rpi-image-gen DIR] [-S DIR]... [--json]", args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("layers", "unexpected argument %q", fs.Arg(0))
	}
	cat, _, err := loadCatalog(env, "layers", &f, true)
	if err != nil {
		return err
	}
	layers := append([]*layers.Layer(nil), cat.Layers...)
	sort.SliceStable(layers, func(i, j int) bool {
		if layers[i].Category != layers[j].Category {
			return layers[i].Category < layers[j].Category
		}
		return layers[i].Name < layers[j].Name
	})
	if *asJSON {
		out := make([]layerJSON, 0, len(layers))
		for _, l := range layers {
			lj := layerJSON{Name: l.Name, Category: l.Category, Version: l.Version, Description: l.Desc, File: l.File,
				Source: l.Source, Requires: l.Requires, Provides: l.Provides, RequiresProvider: l.RequiresProvider,
				Conflicts: l.Conflicts, Variables: []varJSON{}}
			for _, v := range l.Vars {
				lj.Variables = append(lj.Variables, varJSON{Name: v.Name, Env: v.EnvName, Default: v.Default, Description: v.Desc,
					Required: v.Required, Valid: v.ValidText, Kind: v.Valid.Kind().String(), Choices: v.Valid.Choices(), Set: v.Set.String()})
			}
			out = append(out, lj)
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return cli.Exit(2, fmt.Errorf("writing JSON: %w", err))
		}
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCATEGORY\tVERSION\tVARIABLES\tFILE\tDESCRIPTION")
	for _, l := range layers {
		var names []string
		for _, v := range l.Vars {
			names = append(names, v.Name)
		}
		vars := strings.Join(names, ",")
		if vars == "" {
			vars = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Name, l.Category, l.Version, vars, l.File, l.Desc)
	}
	if err := tw.Flush(); err != nil {
		return cli.Exit(2, errors.New("writing output: "+err.Error()))
	}
	return nil
}
