package flashcmd

import (
	"context"

	"github.com/pistudio/pistudio/flash/helper"
	"github.com/pistudio/pistudio/internal/cli"
)

func init() {
	register(func(s *system) cli.Command {
		return cli.Command{
			Name:    "helper",
			Usage:   "",
			Summary: "privileged disk writer the app starts through pkexec (JSON lines on stdin/stdout)",
			Run:     runHelper,
		}
	})
}

func runHelper(ctx context.Context, env *cli.Env, args []string) error {
	fs := cli.NewFlagSet("helper")
	if err := cli.Parse(fs, env, "", args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("helper", "unexpected argument %q", fs.Arg(0))
	}
	return helper.ServeStdio(ctx)
}
