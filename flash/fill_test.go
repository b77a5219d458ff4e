package flash

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fillImage writes a raw image of size bytes whose middle is written
// zeros (not holes), with random data around them, and its sparse form
// (the zeros become a FILL chunk); it returns both paths and the bytes.
func fillImage(t testing.TB, size, zlo, zhi int64) (string, string, []byte) {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "fill.img")
	data := make([]byte, size)
	rand.Read(data[:zlo])
	rand.Read(data[zhi:])
	if err := os.WriteFile(raw, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return raw, sparseOf(t, raw), data
}

// TestFillZerosZeroed checks that a FILL chunk of zeros is zeroed on the
// target rather than copied, that the disk holds zeros there afterwards
// (over old data), that the result and progress count it, and that the
// verify reads it back.
func TestFillZerosZeroed(t *testing.T) {
	const size, zlo, zhi = 12 << 20, 2<<20 + 4096, 10<<20 - 4096
	_, img, data := fillImage(t, size, zlo, zhi)
	for _, tc := range []struct {
		name    string
		corrupt int64 // a byte flipped before the verify (0: none)
	}{
		{"clean", 0},
		{"corrupted", 7<<20 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev, backing := newLoop(t, 16<<20, 0xCC, false)
			var last Progress
			opts := Options{BufferSize: 1 << 20, Progress: func(p Progress) {
				if p.Phase == Writing {
					last = p
				}
			}}
			if tc.corrupt != 0 {
				opts.beforeVerify = func(string) error { return flipByte(backing, tc.corrupt) }
			}
			res, err := Write(context.Background(), open(t, img), Target{Path: dev, Identity: identity(t, dev)}, opts)
			if tc.corrupt != 0 {
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Offset != tc.corrupt {
					t.Fatalf("error %v, want a *VerifyError at %d", err, tc.corrupt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Zeroed < zhi-zlo || res.Data+res.Zeroed != res.Written || res.Written != size || !res.Verified {
				t.Fatalf("result %+v: want %d bytes zeroed of %d written", res, zhi-zlo, size)
			}
			if last.Done != size || last.Total != size {
				t.Errorf("final progress %+v, want %d of %d", last, size, size)
			}
			got, err := os.ReadFile(backing)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:size], data) {
				t.Fatal("the disk does not hold the image (old bytes in the zeroed range?)")
			}
		})
	}
}
