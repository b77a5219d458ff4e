// Package flashcmd is the command-line face of the flash package: disks,
// inspect, flash, provision, profile and the privileged helper. Each file
// registers its command with register from an init function.
package flashcmd

import "github.com/pistudio/pistudio/internal/cli"

// system is what the commands reach the machine through: the disk checks
// and writers of flash, and provision's disk scan. Commands uses the real
// ones; a test builds its own with fakes and runs commandsFor it, so tests
// share no state and may run in parallel.
type system struct {
	flash flashDeps
	prov  provisionDeps
}

// defaultSystem is the real machine.
func defaultSystem() *system {
	s := &system{flash: defaultFlashDeps(), prov: defaultProvisionDeps()}
	s.flash.writeMany = s.writeMany
	return s
}

var commands []func(*system) cli.Command

func register(c func(*system) cli.Command) { commands = append(commands, c) }

// Commands returns the flash subcommands.
func Commands() []cli.Command { return commandsFor(defaultSystem()) }

// commandsFor returns the subcommands working through s.
func commandsFor(s *system) []cli.Command {
	out := make([]cli.Command, len(commands))
	for i, c := range commands {
		out[i] = c(s)
	}
	return out
}
