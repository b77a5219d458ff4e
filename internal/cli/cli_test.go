package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func testEnv() (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, &out, &errb
}

func TestMainDispatch(t *testing.T) {
	echo := Command{
		Name: "echo", Usage: "[-n] WORDS", Summary: "print words",
		Run: func(ctx context.Context, env *Env, args []string) error {
			fs := NewFlagSet("echo")
			n := fs.Bool("n", false, "no newline")
			if err := Parse(fs, env, "[-n] WORDS", args); err != nil {
				return err
			}
			if fs.NArg() == 0 {
				return Usagef("echo", "nothing to print")
			}
			fmt.Fprint(env.Stdout, strings.Join(fs.Args(), " "))
			if !*n {
				fmt.Fprintln(env.Stdout)
			}
			return nil
		},
	}
	fail := Command{Name: "fail", Summary: "fails", Run: func(context.Context, *Env, []string) error {
		return errors.New("disk on fire")
	}}
	quiet := Command{Name: "quiet", Summary: "exits 1 silently", Run: func(context.Context, *Env, []string) error {
		return Exit(1, nil)
	}}
	cancelled := Command{Name: "cancelled", Summary: "was cancelled", Run: func(context.Context, *Env, []string) error {
		return fmt.Errorf("build: %w", context.Canceled)
	}}
	cmds := []Command{echo, fail, quiet, cancelled}

	tests := []struct {
		args       []string
		code       int
		out, errIn string
	}{
		{nil, 0, "commands:", ""},
		{[]string{"help"}, 0, "echo       print words", ""},
		{[]string{"help", "echo"}, 0, "usage: pistudio echo [-n] WORDS", ""},
		{[]string{"help", "nope"}, 2, "", `unknown command "nope"`},
		{[]string{"version"}, 0, "pistudio " + Version, ""},
		{[]string{"nope"}, 2, "", `unknown command "nope" (try 'pistudio help')`},
		{[]string{"echo", "hi", "there"}, 0, "hi there\n", ""},
		{[]string{"echo"}, 2, "", "pistudio echo: nothing to print\nusage: pistudio echo [-n] WORDS"},
		{[]string{"echo", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"echo", "-h"}, 0, "usage: pistudio echo [-n] WORDS", ""},
		{[]string{"fail"}, 1, "", "pistudio fail: disk on fire"},
		{[]string{"quiet"}, 1, "", ""},
		{[]string{"cancelled"}, 130, "", "context canceled"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			env, out, errb := testEnv()
			code := Main(context.Background(), env, cmds, tt.args)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.out)
			}
			if tt.errIn == "" && tt.args != nil && tt.args[0] == "quiet" && errb.Len() != 0 {
				t.Errorf("quiet command printed %q", errb.String())
			}
			if !strings.Contains(errb.String(), tt.errIn) {
				t.Errorf("stderr %q lacks %q", errb.String(), tt.errIn)
			}
		})
	}
}

func TestUsageErrorIsOneLineHint(t *testing.T) {
	env, _, errb := testEnv()
	cmd := Command{Name: "x", Usage: "-c FILE", Run: func(context.Context, *Env, []string) error {
		return Usagef("x", "-c is required")
	}}
	if code := Main(context.Background(), env, []Command{cmd}, []string{"x"}); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "usage: pistudio x -c FILE") {
		t.Fatalf("stderr = %q, want the message and one usage line", errb.String())
	}
}

func TestStringList(t *testing.T) {
	fs := NewFlagSet("t")
	var dirs StringList
	fs.Var(&dirs, "S", "source dir")
	if err := fs.Parse([]string{"-S", "a", "-S", "b"}); err != nil {
		t.Fatal(err)
	}
	if got := dirs.String(); got != "a,b" {
		t.Fatalf("dirs = %q, want a,b", got)
	}
}

func TestParseInterspersed(t *testing.T) {
	cases := []struct {
		args []string
		pos  []string
		yes  bool
		dev  string
	}{
		{[]string{"img", "dev"}, []string{"img", "dev"}, false, ""},
		{[]string{"img", "--yes", "dev"}, []string{"img", "dev"}, true, ""},
		{[]string{"img", "dev", "--sd", "/dev/sdb", "--yes"}, []string{"img", "dev"}, true, "/dev/sdb"},
		{[]string{"--sd=/dev/x", "img", "--", "--yes"}, []string{"img", "--yes"}, false, "/dev/x"},
	}
	for _, c := range cases {
		env, _, _ := testEnv()
		fs := NewFlagSet("t")
		yes := fs.Bool("yes", false, "")
		sd := fs.String("sd", "", "")
		pos, err := ParseInterspersed(fs, env, "", c.args)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if strings.Join(pos, " ") != strings.Join(c.pos, " ") || *yes != c.yes || *sd != c.dev {
			t.Errorf("%q: pos %q yes %v sd %q; want %q %v %q", c.args, pos, *yes, *sd, c.pos, c.yes, c.dev)
		}
	}
}
