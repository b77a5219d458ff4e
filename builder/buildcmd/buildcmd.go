// Package buildcmd is the command-line face of the builder: layers,
// validate, build, history, clean and image. Each file registers its
// commands with register from an init function.
package buildcmd

import "github.com/pistudio/pistudio/internal/cli"

var commands []cli.Command

func register(c cli.Command) { commands = append(commands, c) }

// Commands returns the builder's subcommands.
func Commands() []cli.Command { return append([]cli.Command(nil), commands...) }
