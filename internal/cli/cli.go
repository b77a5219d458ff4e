// Package cli holds what every pistudio subcommand shares: the Command
// type the builder and flash packages register, the standard streams a
// command talks through, and the mapping from errors to exit codes.
//
// Exit codes follow one rule across the tool: 0 success, 1 the operation
// failed (or found problems), 2 the command line was wrong or an input could
// not be read, 130 cancelled by the user.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Version is the program's version, printed by `pistudio version`.
// The build may override it with -ldflags "-X .../internal/cli.Version=...".
var Version = "0.1.0"

// Env is the world a command sees: its streams and its environment.
// Tests build one around buffers.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv looks up an environment variable; nil means os.Getenv.
	Getenv func(string) string
}

// OSEnv returns an Env bound to the process's standard streams.
func OSEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Env looks up an environment variable through e.Getenv.
func (e *Env) Env(key string) string {
	if e.Getenv == nil {
		return os.Getenv(key)
	}
	return e.Getenv(key)
}

// Command is one pistudio subcommand.
type Command struct {
	// Name is the word that selects the command, e.g. "validate".
	Name string
	// Usage is the synopsis after the name, e.g. "-c FILE [--json]".
	Usage string
	// Summary is a one-line description for `pistudio help`.
	Summary string
	// Run executes the command with the arguments after its name.
	Run func(ctx context.Context, env *Env, args []string) error
}

// UsageError reports a wrong command line; it exits with status 2.
type UsageError struct {
	// Cmd is the subcommand, empty for the top level.
	Cmd string
	// Msg says what was wrong.
	Msg string
}

// Error returns "cmd: message" (just the message without a command).
func (e *UsageError) Error() string {
	if e.Cmd == "" {
		return e.Msg
	}
	return e.Cmd + ": " + e.Msg
}

// Usagef builds a UsageError for command cmd.
func Usagef(cmd, format string, args ...any) error {
	return &UsageError{Cmd: cmd, Msg: fmt.Sprintf(format, args...)}
}

// ExitError carries an explicit exit status and an optional message.
// A nil Err means the command already said everything it had to say.
type ExitError struct {
	// Code is the process exit status.
	Code int
	// Err is the message to print (nil: nothing more to say).
	Err error
}

// Error returns the wrapped error's text, or "exit status N" without one.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// Exit returns an ExitError with code and err.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// ExitCode maps an error returned by a command to the process exit status.
func ExitCode(err error) int {
	var ee *ExitError
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return 2
	case errors.Is(err, context.Canceled):
		return 130
	default:
		return 1
	}
}

// NewFlagSet returns a flag set for command name that reports errors as
// UsageError instead of exiting, and prints nothing by itself.
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// Parse parses args with fs and turns a flag error into a UsageError.
// -h/--help print the flag defaults to env.Stdout and return ErrHelp.
func Parse(fs *flag.FlagSet, env *Env, usage string, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(env.Stdout, "usage: pistudio %s %s\n", fs.Name(), usage)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		return ErrHelp
	}
	if err != nil {
		return Usagef(fs.Name(), "%v (usage: pistudio %s %s)", err, fs.Name(), usage)
	}
	return nil
}

// ParseInterspersed parses flags that may come before, between or after
// the positional arguments (`pistudio flash IMAGE DEV --yes`) and returns
// the positional ones. After "--" everything is positional.
func ParseInterspersed(fs *flag.FlagSet, env *Env, usage string, args []string) ([]string, error) {
	var pos []string
	for {
		if err := Parse(fs, env, usage, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// ErrHelp is returned by Parse after printing help; it exits 0.
var ErrHelp = errors.New("help shown")

// StringList is a repeatable string flag (-S DIR -S DIR).
type StringList []string

// String implements flag.Value.
func (s *StringList) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value.
func (s *StringList) Set(v string) error { *s = append(*s, v); return nil }

// Main dispatches args (without the program name) to one of cmds and
// returns the exit status. It handles `help`, `version` and usage errors.
func Main(ctx context.Context, env *Env, cmds []Command, args []string) int {
	byName := map[string]Command{}
	for _, c := range cmds {
		byName[c.Name] = c
	}
	if len(args) == 0 {
		printHelp(env.Stdout, cmds)
		return 0
	}
	switch args[0] {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if c, ok := byName[args[1]]; ok {
				fmt.Fprintf(env.Stdout, "usage: pistudio %s %s\n\n%s\n", c.Name, c.Usage, c.Summary)
				return 0
			}
			fmt.Fprintf(env.Stderr, "pistudio: unknown command %q (try 'pistudio help')\n", args[1])
			return 2
		}
		printHelp(env.Stdout, cmds)
		return 0
	case "version", "--version":
		fmt.Fprintf(env.Stdout, "pistudio %s\n", Version)
		return 0
	}
	c, ok := byName[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "pistudio: unknown command %q (try 'pistudio help')\n", args[0])
		return 2
	}
	err := c.Run(ctx, env, args[1:])
	if errors.Is(err, ErrHelp) {
		return 0
	}
	code := ExitCode(err)
	if err != nil {
		var ee *ExitError
		var ue *UsageError
		switch {
		case errors.As(err, &ue):
			fmt.Fprintf(env.Stderr, "pistudio %s: %s\nusage: pistudio %s %s (see 'pistudio help %s')\n", c.Name, ue.Msg, c.Name, c.Usage, c.Name)
		case errors.As(err, &ee) && ee.Err == nil:
		default:
			fmt.Fprintf(env.Stderr, "pistudio %s: %v\n", c.Name, err)
		}
	}
	return code
}

func printHelp(w io.Writer, cmds []Command) {
	fmt.Fprintln(w, "Pi Image Studio: build Raspberry Pi OS images with rpi-image-gen and write them to disks.")
	fmt.Fprintln(w, "\nusage: pistudio                 start the desktop app")
	fmt.Fprintln(w, "       pistudio COMMAND [ARGS]  run one command headless")
	fmt.Fprintln(w, "\ncommands:")
	sorted := append([]Command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "show this help, or a command's usage")
	fmt.Fprintf(w, "  %-10s %s\n", "version", "print the version")
}
