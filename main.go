// Command pistudio is Pi Image Studio: a desktop app (no arguments) and a
// command-line tool (any subcommand) for building Raspberry Pi OS images
// with rpi-image-gen and writing them to SD cards, USB disks and RAID sets.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pistudio/pistudio/builder/buildcmd"
	"github.com/pistudio/pistudio/flash/flashcmd"
	"github.com/pistudio/pistudio/gui"
	"github.com/pistudio/pistudio/gui/fynelocale"
	"github.com/pistudio/pistudio/internal/cli"
)

func main() {
	fynelocale.Restore()
	if len(os.Args) == 1 {
		gui.Run()
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmds := append(buildcmd.Commands(), flashcmd.Commands()...)
	code := cli.Main(ctx, cli.OSEnv(), cmds, os.Args[1:])
	stop()
	os.Exit(code)
}
