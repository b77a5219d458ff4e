package source

import (
	"bufio"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ulikunitz/xz"
)

// xzFile writes 32 MiB of half-compressible data, xz-compressed.
func xzFile(b *testing.B) (string, int64) {
	b.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		b.Skip("xz not installed")
	}
	p := filepath.Join(b.TempDir(), "d")
	data := make([]byte, 32<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(data); i += 8192 {
		if r.IntN(2) == 0 {
			for j := i; j < i+4096; j++ {
				data[j] = byte(r.Uint32())
			}
		}
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("xz", "-T2", "--block-size=4MiB", "-k", p).CombinedOutput(); err != nil {
		b.Fatalf("xz: %v %s", err, out)
	}
	return p + ".xz", int64(len(data))
}

// BenchmarkXZProgram and BenchmarkXZGo compare the two xz decoders Open
// may use (the program wins by 3-5x, so it is preferred when present).
func BenchmarkXZProgram(b *testing.B) {
	p, n := xzFile(b)
	b.SetBytes(n)
	for b.Loop() {
		f, _ := os.Open(p)
		d, err := startXZ("xz", f, nil)
		if err != nil {
			b.Fatal(err)
		}
		if m, err := io.Copy(io.Discard, d.r); err != nil || m != n {
			b.Fatal(m, err)
		}
		d.close()
		f.Close()
	}
}

func BenchmarkXZGo(b *testing.B) {
	p, n := xzFile(b)
	b.SetBytes(n)
	for b.Loop() {
		f, _ := os.Open(p)
		zr, err := xz.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			b.Fatal(err)
		}
		if m, err := io.Copy(io.Discard, zr); err != nil || m != n {
			b.Fatal(m, err)
		}
		f.Close()
	}
}
