package backend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"workbench/bench"
	"workbench/ray"
)

// Jobs is a Ray cluster's Jobs API, as the Jobs screen needs it: the list
// of jobs and one job's log. Implementations must be safe for use from
// several goroutines and bound each call's time themselves (RayJobs: the
// client's --request-timeout): the screen adds no timeout of its own.
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
	// DataErr, when set, is every Datasets answer (a 503, say).
	DataErr error
	Err     error
	// Records are the local results files by path (LocalResults); Files
	// is what ResultFiles lists.
	Records map[string][]*bench.Record
	Files   []string
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
			{SubmissionID: "workbench-optimized-1", JobID: "01000000", Status: ray.StatusSucceeded, Entrypoint: "python main.py", StartTime: 1764100000000, EndTime: 1764100300000,
				Metadata: map[string]string{ray.MetaScenario: "optimized", ray.MetaDataset: "workbench_optimized",
					ray.MetaTunedFrom: "sweep.json (batch=64 concurrency=2 from sweep sweep.json: 301 img/s ± 1%)", ray.MetaTunedFromFile: FakeSweepFile,
					ray.MetaTunedFromLabel: "batch=64 concurrency=2"}},
			{SubmissionID: "workbench-slow-2", Status: ray.StatusFailed, Entrypoint: "python main.py", Message: "Job entrypoint command failed with exit code 1", StartTime: 1764100400000},
			{SubmissionID: "workbench-tuned-3", JobID: "03000000", Status: ray.StatusRunning, Entrypoint: "python main.py", StartTime: 1764100500000},
		},
		Log: map[string]string{
			"workbench-optimized-1": "Dataset execution finished in 296.1 seconds\n",
			"workbench-slow-2":      "Traceback (most recent call last):\nValueError: The `fn` you passed to `map_batches` returned a value of type list\n",
			"workbench-tuned-3":     log.String(),
		},
		Data:    map[string][]ray.DatasetInfo{"01000000": {fakeFinished()}, "03000000": {fakeDataset()}},
		Records: map[string][]*bench.Record{FakeSweepFile: fakeSweep(), "sweep.json": fakeSweep()},
		Files:   []string{"sweep.json"},
	}
}

// FakeSweepFile is where NewFakeJobs' finished job says it was tuned from.
const FakeSweepFile = "/home/me/sweep.json"

// fakeFinished is the optimized job's dataset after it finished: 50,000
// images in 296.1 s on 4 GPUs, with Prometheus.
func fakeFinished() ray.DatasetInfo {
	g := func(v, m float64) ray.Gauge { return ray.Gauge{Value: v, Max: m, HasValue: true, HasMax: true} }
	q := func(n int64) *int64 { return &n }
	return ray.DatasetInfo{Dataset: "workbench_optimized_0a1b2c3d4e5f60718293a4b5c6d7e8f9_0", JobID: "01000000", State: ray.DataFinished,
		Progress: 200, Total: 200, TotalRows: 50000, StartTime: 1764100002, EndTime: 1764100298.1, Operators: []ray.OperatorInfo{
			{Operator: "ReadImage->MapBatches(preprocess)_1", Name: "ReadImage->MapBatches(preprocess)", State: ray.DataFinished, Progress: 200, Total: 200, QueuedBlocks: q(0),
				DataMetrics: ray.DataMetrics{OutputRows: g(0, 50000), CPUCores: g(0, 15), CurrentBytes: g(0, 900<<20)}},
			{Operator: "MapBatches(Predictor)_2", Name: "MapBatches(Predictor)", State: ray.DataFinished, Progress: 200, Total: 200, QueuedBlocks: q(0),
				DataMetrics: ray.DataMetrics{OutputRows: g(0, 50000), CPUCores: g(0, 2), GPUCores: g(0, 4), CurrentBytes: g(0, 300<<20)}},
			{Operator: "Write_3", Name: "Write", State: ray.DataFinished, Progress: 200, Total: 200, QueuedBlocks: q(0),
				DataMetrics: ray.DataMetrics{OutputRows: g(0, 50000), CPUCores: g(0, 1)}},
		},
		DataMetrics: ray.DataMetrics{OutputRows: g(0, 50000), CPUCores: g(0, 18), GPUCores: g(0, 4), CurrentBytes: g(0, 1200<<20), SpilledBytes: g(0, 0)},
	}
}

// fakeSweep is the local sweep the optimized job was tuned from: two
// cells of two repeats on one GPU; batch=64 concurrency=2 won.
func fakeSweep() []*bench.Record {
	run := func(label string, batch, conc, repeat int, tput float64) *bench.Record {
		wall := 4096 / tput
		r := &bench.Record{SchemaVersion: bench.SchemaVersion, Kind: bench.KindRun, Scenario: "optimized", Label: label, Repeat: repeat,
			Status: bench.StatusOK, Images: 4096, WallSeconds: wall, Throughput: tput, SteadyTput: tput, CPUPercent: 600,
			Bottleneck: "Inference (busy 96%; Preprocess backpressured 41%)",
			Params:     map[string]string{"batch": fmt.Sprint(batch), "concurrency": fmt.Sprint(conc)}}
		r.Config.Device, r.Config.BatchSize, r.Config.Concurrency = "cuda", batch, fmt.Sprint(conc)
		r.Ops = []bench.OpRecord{{Name: "ReadImages", RowsOut: 4096, CPUSeconds: 0.4 * wall}, {Name: "Preprocess", RowsOut: 4096, CPUSeconds: 3.6 * wall},
			{Name: "Inference", RowsOut: 4096, CPUSeconds: 1.6 * wall}, {Name: "Write", RowsOut: 4096, CPUSeconds: 0.2 * wall}}
		return r
	}
	return []*bench.Record{run("batch=32 concurrency=1", 32, 1, 1, 212), run("batch=64 concurrency=2", 64, 2, 1, 297),
		run("batch=32 concurrency=1", 32, 1, 2, 208), run("batch=64 concurrency=2", 64, 2, 2, 305), run("batch=64 concurrency=2", 64, 2, 3, 301)}
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

// LocalResults is the optional capability of a Jobs on the machine that
// holds the local results a cluster job was tuned from, so the Jobs screen
// can put a finished job beside its prediction.
type LocalResults interface {
	// ReadRecords reads a results file (bench.ReadRecordsFile).
	ReadRecords(path string) ([]*bench.Record, error)
	// ResultFiles lists the results files that hold a completed local
	// run, newest first, for the user to pick one.
	ResultFiles() ([]string, error)
}

// RayJobs is the Jobs screen's view of a real cluster, with the Ray Data
// and LocalResults capabilities; Address is shown as given, so pass it
// redacted. Dir is where ResultFiles looks, "" for the working directory.
type RayJobs struct {
	Client *ray.Client
	Addr   string
	Dir    string
}

// ReadRecords implements LocalResults.
func (r *RayJobs) ReadRecords(path string) ([]*bench.Record, error) {
	if path == "-" {
		return nil, fmt.Errorf("- (standard input) is not a results file here")
	}
	return bench.ReadRecordsFile(path)
}

// maxResultsFile bounds the files ResultFiles opens: results files are
// small, and a large .json beside them is something else.
const maxResultsFile = 64 << 20

// ResultFiles implements LocalResults: the .json, .csv and .parquet files
// in Dir that decode as records with a completed local run, newest first.
func (r *RayJobs) ResultFiles() ([]string, error) {
	dir := r.Dir
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type found struct {
		path string
		mod  int64
	}
	var fs []found
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".json", ".csv", ".parquet":
		default:
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > maxResultsFile {
			continue
		}
		p := filepath.Join(dir, e.Name())
		recs, err := bench.ReadRecordsFile(p)
		if err != nil {
			continue // not a results file
		}
		// Any JSON object decodes as a record; a measured throughput
		// tells a run from a package.json.
		if r, ok := bench.LocalPrediction(recs, ""); ok && r.Throughput > 0 {
			fs = append(fs, found{p, info.ModTime().UnixNano()})
		}
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].mod != fs[j].mod {
			return fs[i].mod > fs[j].mod
		}
		return fs[i].path < fs[j].path
	})
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.path
	}
	return out, nil
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
	if f.DataErr != nil {
		return nil, f.DataErr
	}
	if ds, ok := f.Data[jobID]; ok {
		return ds, nil
	}
	return nil, &ray.DataViewError{Err: &ray.HTTPError{Method: "GET", URL: "/api/data/datasets/" + jobID, StatusCode: 404}}
}

// ReadRecords implements LocalResults from Records.
func (f *FakeJobs) ReadRecords(path string) ([]*bench.Record, error) {
	if recs, ok := f.Records[path]; ok {
		return recs, nil
	}
	return nil, fmt.Errorf("open %s: no such file or directory", path)
}

// ResultFiles implements LocalResults.
func (f *FakeJobs) ResultFiles() ([]string, error) { return f.Files, nil }
