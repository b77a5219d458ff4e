// Command pistudio-flash is pistudio's flash subcommands (disks, inspect,
// flash, provision, profile, helper) without the desktop app: it builds
// without cgo in seconds, for headless machines and for tests that run the
// writer as a separate process.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/pistudio/pistudio/flash/flashcmd"
	"github.com/pistudio/pistudio/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.OSEnv(), flashcmd.Commands(), os.Args[1:])
	stop()
	os.Exit(code)
}
