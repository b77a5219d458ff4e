package runner

import (
	"context"
	"fmt"
	"time"
)

// BatchResult is the outcome of one job of a batch.
type BatchResult struct {
	Job    Job
	Result Result
	// Err is set when the job could not start (preflight, invalid job).
	Err error
	// ImagesOK is true when the run succeeded and its image folder holds a
	// disk image (raw or sparse) written by this run.
	ImagesOK bool
}

// OK reports whether the job built what it should have.
func (b BatchResult) OK() bool {
	if b.Err != nil || b.Result.State != Succeeded {
		return false
	}
	if b.Job.Stage == StageFilesystem || b.Job.Stage == StageClean {
		return true
	}
	return b.ImagesOK
}

// RunBatch runs jobs one after another (the GUI's build queue). started,
// when not nil, is called with each run as it starts so the caller can
// subscribe to its events. A failed job does not stop the batch; a
// cancelled ctx does: the remaining jobs are reported as cancelled.
func RunBatch(ctx context.Context, jobs []Job, opts Options, started func(i int, r *Run)) []BatchResult {
	out := make([]BatchResult, len(jobs))
	for i, job := range jobs {
		out[i].Job = job
		if ctx.Err() != nil {
			out[i].Err = fmt.Errorf("not started: %w", ErrCancelled)
			out[i].Result.State = Cancelled
			continue
		}
		r, err := Start(ctx, job, opts)
		if err != nil {
			out[i].Err = err
			out[i].Result.State = Failed
			continue
		}
		if started != nil {
			started(i, r)
		}
		res := r.Wait()
		out[i].Result = res
		out[i].ImagesOK = res.State == Succeeded && freshImage(res.Artifacts, res.Start)
	}
	return out
}

// freshImage reports whether arts holds a non-empty disk image written at
// or after start (file times are compared at one-second precision).
func freshImage(arts []Artifact, start time.Time) bool {
	for _, a := range arts {
		if (a.Kind == KindDiskImage || a.Kind == KindSparse) && a.Size > 0 && modifiedSince(a.Path, start) {
			return true
		}
	}
	return false
}
