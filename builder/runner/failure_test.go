package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pistudio/pistudio/builder/runner/cause"
)

// The real raid run: `build -i` with the native image hook after a -f.
// The hook must get the recorded version's chroot, and when it fails the
// reason is in the log and the record, not only in the record's error.
func TestImageOnlyHookUsesRecordedVersion(t *testing.T) {
	job := newJob(t, StageFilesystem, "")
	r := mustStart(t, context.Background(), job, testOpts())
	if res := r.Wait(); res.State != Succeeded {
		t.Fatal(res.Err)
	}
	ver := r.ArtefactVersion()

	job.Stage = StageImage
	var got NativeDirs
	job.NativeImage = func(ctx context.Context, dirs NativeDirs, logf func(string)) ([]Artifact, error) {
		got = dirs
		return nil, errors.New("root filesystem " + dirs.Filesystem + " is not a directory")
	}
	r = mustStart(t, context.Background(), job, testOpts())
	res := r.Wait()
	if got.Version != ver || got.Filesystem != filepath.Join(job.WorkDir, "chroot-"+ver, "filesystem") {
		t.Errorf("hook dirs = %+v, want version %q", got, ver)
	}
	log := strings.Join(lines(t, res.LogPath), "\n")
	if !strings.Contains(log, "[pistudio] error: native image build: root filesystem") {
		t.Errorf("failure reason not in the log:\n%s", log)
	}
	if res.Cause == nil || res.Cause.Kind != cause.Runner || !strings.Contains(res.Cause.Summary, "is not a directory") {
		t.Errorf("cause = %+v", res.Cause)
	}
	h, err := History(job.WorkDir)
	if err != nil || len(h) != 2 || h[1].Cause == nil || h[1].Cause.Summary != res.Cause.Summary {
		t.Errorf("record cause = %+v, %v", h, err)
	}
}

// A failing tool run: the record, the result and the log carry one cause,
// the same one; the outcome line appears once.
func TestFailureCauseEverywhere(t *testing.T) {
	job := newJob(t, StageFilesystem, "standin_fail: generate_filesystem\n")
	job.Overrides = []string{"IGconf_device_user1=pi"}
	r := mustStart(t, context.Background(), job, testOpts("GENIMAGE_VER=19", "SECRET=x"))
	res := r.Wait()
	if res.State != Failed || res.Cause == nil {
		t.Fatalf("%v cause %+v", res.State, res.Cause)
	}
	if res.Cause.Kind != cause.Generic || !strings.Contains(res.Cause.Summary, "standin failure in generate_filesystem") {
		t.Errorf("cause = %+v", res.Cause)
	}
	log := strings.Join(lines(t, res.LogPath), "\n")
	if !strings.Contains(log, "[pistudio] cause: "+res.Cause.Summary) || !strings.Contains(log, "[pistudio] fix: "+res.Cause.Fix) {
		t.Errorf("cause not in the log:\n%s", log)
	}
	if n := strings.Count(log, "build failed"); n != 1 {
		t.Errorf("outcome said %d times", n)
	}
	h, err := History(job.WorkDir)
	if err != nil || len(h) != 1 {
		t.Fatal(h, err)
	}
	rec := h[0]
	if rec.Cause == nil || !reflect.DeepEqual(*rec.Cause, *res.Cause) {
		t.Errorf("record cause %+v, result cause %+v", rec.Cause, res.Cause)
	}
	if rec.Env["GENIMAGE_VER"] != "19" || rec.Env["SECRET"] != "" || len(rec.Overrides) != 1 {
		t.Errorf("record env %v overrides %v", rec.Env, rec.Overrides)
	}
}

// A run in progress shows as running with the time so far; one whose
// process is gone does not count as live.
func TestRecordElapsedAndLive(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		rec     Record
		elapsed time.Duration
		live    bool
	}{
		{"running", Record{Start: start, State: Running, PID: os.Getpid()}, 90 * time.Second, true},
		{"running, old record without pid", Record{Start: start, State: Running}, 90 * time.Second, true},
		{"process gone", Record{Start: start, State: Running, PID: 1 << 30}, 90 * time.Second, false},
		{"finished", Record{Start: start, End: start.Add(time.Minute), State: Failed, PID: os.Getpid()}, time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rec.Elapsed(start.Add(90 * time.Second)); got != tc.elapsed {
				t.Errorf("Elapsed = %s, want %s", got, tc.elapsed)
			}
			if got := tc.rec.Live(); got != tc.live {
				t.Errorf("Live = %v, want %v", got, tc.live)
			}
		})
	}
}
