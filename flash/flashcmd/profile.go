package flashcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/pistudio/pistudio/flash/firstboot"
	"github.com/pistudio/pistudio/internal/cli"
)

const profileUsage = "save NAME [settings flags] | list | show NAME | delete NAME | export NAME FILE | import FILE [NAME]"

func init() {
	register(func(s *system) cli.Command {
		return cli.Command{
			Name:    "profile",
			Usage:   profileUsage,
			Summary: "keep named first-boot settings (secrets stored hashed) for flash --profile",
			Run:     runProfile,
		}
	})
}

// profileDir is where profiles live (tests point it elsewhere).
var profileDir = func() (*firstboot.Profiles, error) { return firstboot.DefaultProfiles() }

func runProfile(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("profile")
	sf := addSettingsFlags(fs)
	pos, err := cli.ParseInterspersed(fs, env, profileUsage, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return cli.Usagef("profile", "expected save, list, show, delete, export or import")
	}
	ps, err := profileDir()
	if err != nil {
		return err
	}
	want := map[string]int{"save": 2, "list": 1, "show": 2, "delete": 2, "export": 3, "import": 2}
	n, ok := want[pos[0]]
	if !ok || len(pos) < n || len(pos) > n+boolInt(pos[0] == "import") {
		return cli.Usagef("profile", "usage: profile %s", profileUsage)
	}
	return profileOp(env, ps, sf, pos)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func profileOp(env *cli.Env, ps *firstboot.Profiles, sf *settingsFlags, pos []string) error {
	switch pos[0] {
	case "save":
		s, err := sf.settings(env)
		if err != nil {
			return err
		}
		if err := ps.Save(pos[1], s); err != nil {
			return cli.Exit(2, err)
		}
		fmt.Fprintf(env.Stdout, "Saved profile %s in %s\n", pos[1], ps.Dir)
	case "list":
		names, err := ps.List()
		if err != nil {
			return err
		}
		for _, n := range names {
			fmt.Fprintln(env.Stdout, n)
		}
	case "show":
		s, err := ps.Load(pos[1])
		if err != nil {
			return cli.Exit(2, err)
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	case "delete":
		if err := ps.Delete(pos[1]); err != nil {
			return cli.Exit(2, err)
		}
	case "export":
		return exportProfile(ps, pos[1], pos[2])
	case "import":
		return importProfile(env, ps, pos[1:])
	}
	return nil
}

func exportProfile(ps *firstboot.Profiles, name, path string) error {
	s, err := ps.Load(name)
	if err != nil {
		return cli.Exit(2, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return cli.Exit(2, err)
	}
	if err := firstboot.Export(f, name, s); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func importProfile(env *cli.Env, ps *firstboot.Profiles, args []string) error {
	f, err := os.Open(args[0])
	if err != nil {
		return cli.Exit(2, err)
	}
	defer f.Close()
	s, name, err := firstboot.Import(f)
	if err != nil {
		return cli.Exit(2, fmt.Errorf("%s: %w", args[0], err))
	}
	if len(args) > 1 {
		name = args[1]
	}
	if name == "" {
		return cli.Usagef("profile", "the file names no profile: give a NAME")
	}
	if err := ps.Save(name, s); err != nil {
		return cli.Exit(2, err)
	}
	fmt.Fprintf(env.Stdout, "Imported profile %s\n", name)
	return nil
}
