package backend

import (
	"context"
	"fmt"
	"strings"

	"workbench/ray"
)

// Jobs is a Ray cluster's Jobs API, as the Jobs screen needs it: the list
// of jobs and one job's log. Implementations must be safe for use from
// several goroutines.
type Jobs interface {
	// Address is the cluster's dashboard address, for the header.
	Address() string
	List(ctx context.Context) ([]ray.JobInfo, error)
	Logs(ctx context.Context, id string) (string, error)
}

// JobsBackend is implemented by backends that can reach a Ray cluster. A
// backend without one (no --address) has no Jobs screen.
type JobsBackend interface {
	// Jobs returns the cluster's Jobs API, nil when none is configured.
	Jobs() Jobs
}

// FakeJobs is a deterministic cluster for tests and goldens.
type FakeJobs struct {
	Infos []ray.JobInfo
	Log   map[string]string
	Err   error
}

// Address implements Jobs.
func (f *FakeJobs) Address() string { return "http://127.0.0.1:8265" }

// List implements Jobs.
func (f *FakeJobs) List(context.Context) ([]ray.JobInfo, error) { return f.Infos, f.Err }

// Logs implements Jobs.
func (f *FakeJobs) Logs(_ context.Context, id string) (string, error) {
	if l, ok := f.Log[id]; ok {
		return l, nil
	}
	return "", fmt.Errorf("job %s: not found", id)
}

// NewFakeJobs returns three jobs in the states a screen must show.
func NewFakeJobs() *FakeJobs {
	var log strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&log, "Running: MapBatches(Predictor) %d/30 blocks\n", i)
	}
	return &FakeJobs{
		Infos: []ray.JobInfo{
			{SubmissionID: "workbench-optimized-1", Status: ray.StatusSucceeded, Entrypoint: "python main.py", StartTime: 1764100000000, EndTime: 1764100300000},
			{SubmissionID: "workbench-slow-2", Status: ray.StatusFailed, Entrypoint: "python main.py", Message: "Job entrypoint command failed with exit code 1", StartTime: 1764100400000},
			{SubmissionID: "workbench-tuned-3", Status: ray.StatusRunning, Entrypoint: "python main.py", StartTime: 1764100500000},
		},
		Log: map[string]string{
			"workbench-optimized-1": "Dataset execution finished in 296.1 seconds\n",
			"workbench-slow-2":      "Traceback (most recent call last):\nValueError: The `fn` you passed to `map_batches` returned a value of type list\n",
			"workbench-tuned-3":     log.String(),
		},
	}
}
