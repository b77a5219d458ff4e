package provision

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/pistudio/pistudio/flash"
	"github.com/pistudio/pistudio/flash/disk"
	"github.com/pistudio/pistudio/flash/source"
	"github.com/pistudio/pistudio/internal/manifest"
)

// failingSource fails its reads after failAfter bytes (an injected I/O
// error in one target's stream).
type failingSource struct {
	source.Source
	failAfter int64
	err       error
}

func (s *failingSource) Next() (source.Extent, io.Reader, error) {
	e, r, err := s.Source.Next()
	if r != nil {
		r = &failingReader{r: r, s: s}
	}
	return e, r, err
}

type failingReader struct {
	r io.Reader
	s *failingSource
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.s.failAfter <= 0 {
		return 0, f.s.err
	}
	if int64(len(p)) > f.s.failAfter {
		p = p[:f.s.failAfter]
	}
	n, err := f.r.Read(p)
	f.s.failAfter -= int64(n)
	return n, err
}

// slowSource delays every read, so a cancel lands mid-write.
type slowSource struct {
	source.Source
	delay time.Duration
}

func (s *slowSource) Next() (source.Extent, io.Reader, error) {
	e, r, err := s.Source.Next()
	if r != nil {
		r = slowReader{r, s.delay}
	}
	return e, r, err
}

type slowReader struct {
	r     io.Reader
	delay time.Duration
}

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.delay)
	if len(p) > 256<<10 {
		p = p[:256<<10]
	}
	return s.r.Read(p)
}

// planFiles assigns every role of p a file in a fresh directory and
// returns the role → file map.
func planFiles(t testing.TB, dir string, p *Plan) map[string]string {
	t.Helper()
	out := t.TempDir()
	targets := map[string]string{}
	for _, ra := range p.Roles {
		path := filepath.Join(out, ra.Role+".bin")
		if err := p.AssignFile(ra.Role, path); err != nil {
			t.Fatal(err)
		}
		targets[ra.Role] = path
	}
	return targets
}

func sameFile(t testing.TB, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func TestRunFiles(t *testing.T) {
	dir, m := dataSet(t, 6*mib+123, 3, 1)
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	targets := planFiles(t, dir, p)
	var mu sync.Mutex
	var events []Event
	sum, err := Run(context.Background(), p, Options{Progress: func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK || len(sum.Targets) != 4 || sum.ArrayUUID != m.ArrayUUID || sum.Level != "RAID1" {
		t.Fatalf("summary %+v", sum)
	}
	for i, r := range sum.Targets {
		a := m.Artifact(m.Roles[r.Role])
		if r.State != Done || !r.Verified || r.SHA256 != a.SHA256 || r.Role != p.Roles[i].Role {
			t.Errorf("%s: %+v", r.Role, r)
		}
		if !sameFile(t, filepath.Join(dir, a.File), targets[r.Role]) {
			t.Errorf("%s: target differs from %s", r.Role, a.File)
		}
	}
	// Progress: per target writing then verifying, a final done for each,
	// and a total that never decreases and ends complete.
	var last Total
	done := map[string]bool{}
	phases := map[string]map[State]bool{}
	for _, e := range events {
		if e.Total.Done < last.Done {
			t.Errorf("total went back from %d to %d", last.Done, e.Total.Done)
		}
		last = e.Total
		if phases[e.Role] == nil {
			phases[e.Role] = map[State]bool{}
		}
		phases[e.Role][e.State] = true
		if e.State == Done {
			done[e.Role] = true
		}
	}
	if last.Done != last.Total || last.Finished != 4 || last.Failed != 0 || last.Targets != 4 {
		t.Errorf("last total %+v", last)
	}
	for _, ra := range p.Roles {
		if !done[ra.Role] || !phases[ra.Role][Writing] || !phases[ra.Role][Verifying] {
			t.Errorf("%s: states %v", ra.Role, phases[ra.Role])
		}
	}
}

func TestRunOneFails(t *testing.T) {
	dir, m := dataSet(t, 8*mib, 2, 2)
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	targets := planFiles(t, dir, p)
	// external1's target file exists beforehand: file targets are written
	// to a temporary file renamed into place, so a failed write must leave
	// the old file exactly as it was.
	before := bytes.Repeat([]byte{0x55, 0xaa}, 4096)
	if err := os.WriteFile(targets["external1"], before, 0o644); err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected I/O error")
	sum, err := Run(context.Background(), p, Options{BufferSize: 1 << 20, wrapSource: func(role string, s source.Source) source.Source {
		if role == "external1" {
			return &failingSource{Source: s, failAfter: 3 * mib, err: injected}
		}
		return s
	}})
	var se *SetError
	if !errors.As(err, &se) || len(se.Failed) != 1 || se.Of != 3 {
		t.Fatalf("error %v", err)
	}
	f := se.Failed[0]
	if f.Role != "external1" || f.Device != targets["external1"] || !errors.Is(err, injected) {
		t.Errorf("failure %+v", f)
	}
	if !strings.Contains(err.Error(), "external1 ("+targets["external1"]+")") {
		t.Errorf("message does not name the disk: %v", err)
	}
	if sum == nil || sum.OK {
		t.Fatalf("summary %+v", sum)
	}
	for _, r := range sum.Targets {
		if r.Role == "external1" {
			if r.State != Failed || r.Error == "" {
				t.Errorf("failed target %+v", r)
			}
			if after, err := os.ReadFile(targets["external1"]); err != nil || !bytes.Equal(after, before) {
				t.Errorf("the failed file target changed (%v)", err)
			}
			continue
		}
		if r.State != Done || !r.Verified {
			t.Errorf("%s did not complete: %+v", r.Role, r)
		}
		if !sameFile(t, filepath.Join(dir, r.Artifact), targets[r.Role]) {
			t.Errorf("%s differs", r.Role)
		}
	}
	if !strings.Contains(sum.String(), "FAILED") {
		t.Errorf("summary text:\n%s", sum)
	}
}

func TestRunCancel(t *testing.T) {
	dir, m := dataSet(t, 16*mib, 2, 3)
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	targets := planFiles(t, dir, p)
	for _, path := range targets {
		// Existing targets, so the writer keeps them after a cancel.
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 8)
	opts := Options{BufferSize: 256 << 10, Progress: func(e Event) {
		if e.Progress.Done > 0 {
			select {
			case started <- struct{}{}:
			default:
			}
		}
	}, wrapSource: func(role string, s source.Source) source.Source {
		return &slowSource{Source: s, delay: 20 * time.Millisecond}
	}}
	var sum *Summary
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sum, err = Run(ctx, p, opts)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no progress")
	}
	cancel()
	t0 := time.Now()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop after cancel")
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("cancel took %s", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	for _, r := range sum.Targets {
		if r.State != Cancelled {
			t.Errorf("%s: %s", r.Role, r.State)
		}
		if hasMBR(t, targets[r.Role]) {
			t.Errorf("%s has a partition table after cancel", r.Role)
		}
	}
}

func TestRunHashMismatch(t *testing.T) {
	dir, m := dataSet(t, 2*mib, 1, 4)
	m.Artifacts[1].SHA256 = strings.Repeat("0", 64)
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	planFiles(t, dir, p)
	_, err = Run(context.Background(), p, Options{})
	var se *SetError
	if !errors.Is(err, ErrHashMismatch) || !errors.As(err, &se) || se.Failed[0].Role != "external1" {
		t.Errorf("error %v", err)
	}
}

// TestRunHashes checks that the SHA-256 is computed (and checked) only for
// artifacts image.json records one for, and the XXH3-128 always.
func TestRunHashes(t *testing.T) {
	dir, m := dataSet(t, 2*mib+77, 1, 6)
	m.Artifacts[1].SHA256 = ""
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	planFiles(t, dir, p)
	sum, err := Run(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sum.Targets {
		a := m.Artifact(m.Roles[r.Role])
		b, err := os.ReadFile(filepath.Join(dir, a.File))
		if err != nil {
			t.Fatal(err)
		}
		x := xxh3.Hash128(b).Bytes()
		h := sha256.Sum256(b)
		wantSHA, wantHash := "", "xxh3:"+hex.EncodeToString(x[:])
		if a.SHA256 != "" {
			wantSHA = hex.EncodeToString(h[:])
			wantHash = "sha256:" + wantSHA
		}
		if r.XXH3 != hex.EncodeToString(x[:]) || r.SHA256 != wantSHA || r.Hash() != wantHash {
			t.Errorf("%s: xxh3 %q sha256 %q hash %q, want xxh3 %x sha256 %q", r.Role, r.XXH3, r.SHA256, r.Hash(), x, wantSHA)
		}
	}
	x1 := xxh3.Hash128(mustRead(t, filepath.Join(dir, m.Artifacts[1].File))).Bytes()
	if !strings.Contains(sum.String(), "xxh3-128 "+hex.EncodeToString(x1[:])) {
		t.Errorf("summary does not show the xxh3 of %s:\n%s", m.Artifacts[1].File, sum)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunNotReady(t *testing.T) {
	dir, m := dataSet(t, 2*mib, 1, 5)
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), p, Options{}); !errors.Is(err, ErrNotReady) {
		t.Errorf("error %v", err)
	}
}

// TestRunFlashFunc: file targets never go through a FlashFunc (the helper
// writes only block devices); disks do (see the loop tests).
func TestRunFlashFunc(t *testing.T) {
	dir, m := dataSet(t, 2*mib, 2, 6)
	p, err := Propose(m, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	targets := planFiles(t, dir, p)
	var mu sync.Mutex
	called := map[string]bool{}
	sum, err := Run(context.Background(), p, Options{Flash: func(ctx context.Context, img string, tgt flash.Target, o flash.Options) (*flash.Result, error) {
		mu.Lock()
		called[tgt.Path] = true
		mu.Unlock()
		src, err := source.Open(img)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		return flash.Write(ctx, src, tgt, o)
	}})
	if err != nil || !sum.OK {
		t.Fatal(err)
	}
	if len(called) != 0 {
		t.Errorf("file targets went through Flash: %v", called)
	}
	for role, path := range targets {
		if !sameFile(t, filepath.Join(dir, m.Roles[role]), path) {
			t.Errorf("%s differs", role)
		}
	}
}

func TestLabels(t *testing.T) {
	sum := &Summary{Set: "/out/image-raid", Name: "pi-raid", Level: "RAID1", ArrayUUID: "0badc0de:01234567:89abcdef:00112233", Devices: 2, OK: true,
		Targets: []Result{
			{Role: "sd", Artifact: "sdcard.img", Device: "/dev/mmcblk0", Model: "SN32G", Serial: "0x1a2b3c4d", SizeBytes: 31914983424, State: Done, Verified: true},
			{Role: "external1", Artifact: "external1.img", Device: "/dev/sdb", Model: "WD Elements 25A2", Serial: "57584B314135", SizeBytes: 1000204886016, State: Done, Verified: true},
			{Role: "external2", Artifact: "external2.img", Device: "/dev/sdc", Model: "Samsung SSD 870", SizeBytes: 500107862016, State: Failed, Error: "boom"},
		}}
	checkGolden(t, "labels.txt", sum.Labels())
	sum.OK, sum.Duration = false, 83*time.Second+420*time.Millisecond
	sum.Targets[0].Written, sum.Targets[0].SHA256 = 80<<20, strings.Repeat("ab", 32)
	sum.Targets[1].Written, sum.Targets[1].XXH3 = 72<<20, strings.Repeat("cd", 16)
	sum.Targets[2].Written, sum.Targets[2].Error = 12<<20, "writing /dev/sdc at byte 12582912: input/output error"
	checkGolden(t, "summary.txt", sum.String())
}

func TestPlanString(t *testing.T) {
	mmc := mmcSlot
	p := &Plan{Set: "/out/image-raid", Manifest: &manifest.Manifest{Name: "pi-raid", Level: "RAID1", Devices: 2, ArrayUUID: "0badc0de:01234567:89abcdef:00112233"},
		Roles: []RoleAssignment{
			{Role: "sd", Artifact: "sdcard.img", ArtifactSize: 80 << 20, Disk: &mmc, Reason: "/dev/mmcblk0 is an SD card slot (29.8 GiB of 80.0 MiB needed)"},
			{Role: "external1", Artifact: "external1.img", ArtifactSize: 4 << 30, Disk: &disk.Disk{Path: "/tmp/e1.img", Bus: BusFile, Model: "regular file"}, Chosen: true, Reason: "chosen by the user: the regular file /tmp/e1.img"},
			{Role: "external2", Artifact: "external2.img", ArtifactSize: 4 << 30, Problem: "only 2 eligible disks for 3 roles: every one is taken by another role; connect another disk of at least 4.0 GiB (4294967296 bytes)"},
		}}
	checkGolden(t, "plan.txt", p.String())
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
