package provision

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/pistudio/pistudio/flash/source"
)

// paced yields the image no faster than rate bytes a second: a stand-in
// for a disk of that speed, so the benchmark measures what parallel
// writing buys when the disks, not the CPU, are the limit.
type paced struct {
	source.Source
	rate  float64
	start time.Time
	n     int64
}

func (p *paced) Next() (source.Extent, io.Reader, error) {
	e, r, err := p.Source.Next()
	if r != nil {
		r = &pacedReader{r, p}
	}
	return e, r, err
}

type pacedReader struct {
	r io.Reader
	p *paced
}

func (r *pacedReader) Read(b []byte) (int, error) {
	if r.p.start.IsZero() {
		r.p.start = time.Now()
	}
	n, err := r.r.Read(b)
	r.p.n += int64(n)
	if d := time.Duration(float64(r.p.n)/r.p.rate*float64(time.Second)) - time.Since(r.p.start); d > 0 {
		time.Sleep(d)
	}
	return n, err
}

// BenchmarkProvisionParallel writes 32 MiB images to file targets paced at
// 64 MiB/s each (a slow USB disk): one target; three one after the other;
// three in parallel. Parallel should take about the time of one target,
// serial three times as long. "unpaced" writes three in parallel as fast
// as the machine goes (CPU-bound on hashing with two cores).
func BenchmarkProvisionParallel(b *testing.B) {
	const size = 32 << 20
	const rate = 64 << 20
	for _, tc := range []struct {
		name     string
		targets  int
		parallel bool
		rate     float64
	}{
		{"1-target", 1, true, rate},
		{"3-serial", 3, false, rate},
		{"3-parallel", 3, true, rate},
		{"3-parallel-unpaced", 3, true, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir, m := dataSet(b, size, tc.targets, 7)
			delete(m.Roles, RoleSD)
			p, err := Propose(m, dir, nil)
			if err != nil {
				b.Fatal(err)
			}
			planFiles(b, dir, p)
			plans := []*Plan{p}
			if !tc.parallel {
				plans = nil
				for _, ra := range p.Roles {
					q := *p
					q.Roles = []RoleAssignment{ra}
					plans = append(plans, &q)
				}
			}
			opts := Options{}
			if tc.rate > 0 {
				opts.wrapSource = func(_ string, s source.Source) source.Source { return &paced{Source: s, rate: tc.rate} }
			}
			b.SetBytes(int64(tc.targets) * size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, q := range plans {
					if sum, err := Run(context.Background(), q, opts); err != nil || !sum.OK {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
