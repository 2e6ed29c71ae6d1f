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
	Data  map[string][]ray.DatasetInfo // by Ray job ID
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
			{SubmissionID: "workbench-tuned-3", JobID: "03000000", Status: ray.StatusRunning, Entrypoint: "python main.py", StartTime: 1764100500000},
		},
		Log: map[string]string{
			"workbench-optimized-1": "Dataset execution finished in 296.1 seconds\n",
			"workbench-slow-2":      "Traceback (most recent call last):\nValueError: The `fn` you passed to `map_batches` returned a value of type list\n",
			"workbench-tuned-3":     log.String(),
		},
		Data: map[string][]ray.DatasetInfo{"03000000": {fakeDataset()}},
	}
}

// fakeDataset is the tuned job's dataset mid-run, as the dashboard reports
// it with Prometheus: inference has blocks waiting, the writer none.
func fakeDataset() ray.DatasetInfo {
	g := func(v, m float64) ray.Gauge { return ray.Gauge{Value: v, Max: m, HasValue: true, HasMax: true} }
	q := func(n int64) *int64 { return &n }
	return ray.DatasetInfo{Dataset: "workbench_tuned_6f1c2a9e03b44c1d8b2f5a7e9c0d1e2f_0", JobID: "03000000", State: ray.DataRunning,
		Progress: 12, Total: 40, StartTime: 1764100500, Operators: []ray.OperatorInfo{
			{Operator: "ReadImage->MapBatches(preprocess)_1", Name: "ReadImage->MapBatches(preprocess)", State: ray.DataRunning, Progress: 20, Total: 40, QueuedBlocks: q(0),
				DataMetrics: ray.DataMetrics{OutputRows: g(0, 2560), CPUCores: g(14, 16), CurrentBytes: g(512<<20, 900<<20)}},
			{Operator: "MapBatches(Predictor)_2", Name: "MapBatches(Predictor)", State: ray.DataRunning, Progress: 14, Total: 40, QueuedBlocks: q(6),
				DataMetrics: ray.DataMetrics{OutputRows: g(0, 1792), CPUCores: g(2, 2), GPUCores: g(4, 4), CurrentBytes: g(256<<20, 300<<20)}},
			{Operator: "Write_3", Name: "Write", State: ray.DataRunning, Progress: 12, Total: 40, QueuedBlocks: q(0),
				DataMetrics: ray.DataMetrics{OutputRows: g(0, 1536), CPUCores: g(0.5, 1)}},
		},
		DataMetrics: ray.DataMetrics{OutputRows: g(0, 1536), CPUCores: g(16.5, 19), GPUCores: g(4, 4), CurrentBytes: g(768<<20, 1200<<20), SpilledBytes: g(0, 0)},
	}
}

// DataJobs is the optional capability of a Jobs that can read the Ray
// dashboard's Ray Data view; the Jobs screen draws a job's operators only
// when its Jobs has it.
type DataJobs interface {
	// Datasets returns Ray job jobID's datasets (ray.Client.Datasets).
	Datasets(ctx context.Context, jobID string) ([]ray.DatasetInfo, error)
}

// RayJobs is the Jobs screen's view of a real cluster, with the Ray Data
// capability; Address is shown as given, so pass it redacted.
type RayJobs struct {
	Client *ray.Client
	Addr   string
}

// Address implements Jobs.
func (r *RayJobs) Address() string { return r.Addr }

// List implements Jobs.
func (r *RayJobs) List(ctx context.Context) ([]ray.JobInfo, error) { return r.Client.List(ctx) }

// Logs implements Jobs.
func (r *RayJobs) Logs(ctx context.Context, id string) (string, error) { return r.Client.Logs(ctx, id) }

// Datasets implements DataJobs.
func (r *RayJobs) Datasets(ctx context.Context, jobID string) ([]ray.DatasetInfo, error) {
	return r.Client.Datasets(ctx, jobID)
}

// Datasets implements DataJobs from Data, keyed by Ray job ID; a job with
// none answers like a Ray without the Ray Data view.
func (f *FakeJobs) Datasets(_ context.Context, jobID string) ([]ray.DatasetInfo, error) {
	if ds, ok := f.Data[jobID]; ok {
		return ds, nil
	}
	return nil, &ray.DataViewError{Err: &ray.HTTPError{Method: "GET", URL: "/api/data/datasets/" + jobID, StatusCode: 404}}
}
