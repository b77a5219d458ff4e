// Package flashcmd is the command-line face of the flash package: disks,
// inspect, flash, provision and the privileged helper. Each file registers
// its commands with register from an init function.
package flashcmd

import "github.com/pistudio/pistudio/internal/cli"

var commands []cli.Command

func register(c cli.Command) { commands = append(commands, c) }

// Commands returns the flash subcommands.
func Commands() []cli.Command { return append([]cli.Command(nil), commands...) }
