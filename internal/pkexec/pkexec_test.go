package pkexec

import (
	"errors"
	"os/exec"
	"testing"
)

// exitErr runs sh to get a real *exec.ExitError with the given status.
func exitErr(t *testing.T, code string) error {
	t.Helper()
	err := exec.Command("/bin/sh", "-c", "exit "+code).Run()
	if err == nil {
		t.Fatal("no error")
	}
	return err
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code, stderr string
		want         Failure
	}{
		{"127", "Error executing command as another user: No authentication agent found.", NoAgent},
		{"126", "Error executing command as another user: Request dismissed", NotAuthorized},
		{"127", "Error executing command as another user: Not authorized", NotAuthorized},
		{"1", "No authentication agent found.", NotPkexec},
		{"127", "sh: foo: not found", NotPkexec},
	} {
		if got := Classify(exitErr(t, tc.code), tc.stderr); got != tc.want {
			t.Errorf("exit %s %q: %v, want %v", tc.code, tc.stderr, got, tc.want)
		}
	}
	if Classify(errors.New("not an exit"), "No authentication agent") != NotPkexec {
		t.Error("a non-exit error was classified")
	}
}

func TestSudoCommand(t *testing.T) {
	got := SudoCommand("/usr/bin/pistudio", "flash", "my image's.img", "/dev/sdb")
	want := `sudo /usr/bin/pistudio flash 'my image'\''s.img' /dev/sdb`
	if got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if Quote("") != "''" {
		t.Error("an empty argument must be quoted")
	}
}

func TestTail(t *testing.T) {
	tl := &Tail{Max: 4}
	tl.Write([]byte("abc"))
	tl.Write([]byte("def"))
	if tl.String() != "cdef" {
		t.Errorf("tail %q", tl.String())
	}
	var none *Tail
	if none.String() != "" {
		t.Error("a nil tail is not empty")
	}
}
