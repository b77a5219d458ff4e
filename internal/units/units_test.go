package units

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	cases := []struct {
		n        int64
		bin, dec string
	}{
		{0, "0 B", "0 B"},
		{999, "999 B", "999 B"},
		{1000, "1000 B", "1.0 kB"},
		{1024, "1.0 KiB", "1.0 kB"},
		{200 << 20, "200.0 MiB", "209.7 MB"},
		{31_914_983_424, "29.7 GiB", "31.9 GB"},
		{2_000_398_934_016, "1.8 TiB", "2.0 TB"},
		{-2048, "-2.0 KiB", "-2.0 kB"},
		{math.MaxInt64, "8.0 EiB", "9.2 EB"},
	}
	for _, c := range cases {
		if got := Binary(c.n); got != c.bin {
			t.Errorf("Binary(%d) = %q, want %q", c.n, got, c.bin)
		}
		if got := Decimal(c.n); got != c.dec {
			t.Errorf("Decimal(%d) = %q, want %q", c.n, got, c.dec)
		}
	}
}
