package ray

// The payloads in testdata/datasets are recorded in exactly the shape that
// GET /api/data/datasets/{job_id} returns, as built by
// python/ray/dashboard/modules/data/data_head.py (ray-project/ray, commit
// 2c327605f28c, the Ray 2.5x/2.60 module) from _StatsActor.get_datasets in
// python/ray/data/_internal/stats.py: metrics start as the number 0 and are
// replaced by Prometheus's string values, so the files mix both; the
// operator list is flattened with "operator" holding the tag; datasets are
// sorted newest start first. no_prometheus.json is the older stats actor's
// shape (no name, total_rows or queued_blocks) on a cluster without
// Prometheus: every metric is the number-0 placeholder.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func payload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "datasets", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dataServer serves one datasets payload (or a status) for job 02000000.
func dataServer(t *testing.T, status int, body []byte) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/data/datasets/02000000" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDatasetsDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file      string
		datasets  int
		ops       int
		known     bool    // Prometheus supplied something
		rows      float64 // dataset ray_data_output_rows max
		gpu       float64 // MapBatches(Predictor)'s GPU value
		gpuKnown  bool
		queued    bool // queued_blocks reported
		spillSeen bool // the dataset's spill is a measured "0"
	}{
		{"running_1.json", 1, 4, true, 768, 4, true, true, true},
		{"finished.json", 1, 4, true, 5000, 0, true, true, true},
		{"no_prometheus.json", 1, 2, false, 0, 0, false, false, false},
		{"two_datasets.json", 2, 4, true, 768, 4, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			ds, err := dataServer(t, 200, payload(t, tt.file)).Datasets(context.Background(), "02000000")
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != tt.datasets {
				t.Fatalf("%d datasets, want %d", len(ds), tt.datasets)
			}
			d := ds[0]
			if len(d.Operators) != tt.ops || d.DataMetrics.Known() != tt.known {
				t.Errorf("%d operators (want %d), metrics known %v (want %v)", len(d.Operators), tt.ops, d.DataMetrics.Known(), tt.known)
			}
			if d.OutputRows.Max != tt.rows || d.OutputRows.HasMax != tt.known {
				t.Errorf("output rows = %v known %v, want %v", d.OutputRows.Max, d.OutputRows.HasMax, tt.rows)
			}
			if d.SpilledBytes.HasMax != tt.spillSeen || d.SpilledBytes.Max != 0 {
				t.Errorf("spilled = %+v, want a measured 0: %v", d.SpilledBytes, tt.spillSeen)
			}
			var pred OperatorInfo
			for _, o := range d.Operators {
				if strings.Contains(o.Operator, "Predictor") {
					pred = o
				}
			}
			if pred.GPUCores.Value != tt.gpu || pred.GPUCores.HasValue != tt.gpuKnown {
				t.Errorf("Predictor GPU = %+v, want %v known %v", pred.GPUCores, tt.gpu, tt.gpuKnown)
			}
			if (pred.QueuedBlocks != nil) != tt.queued {
				t.Errorf("queued_blocks reported = %v, want %v", pred.QueuedBlocks != nil, tt.queued)
			}
			// The ReadImage operator's GPU is the number-0 default: unknown,
			// never a measured zero.
			if g := d.Operators[len(d.Operators)-1].GPUCores; g.HasValue || g.HasMax {
				t.Errorf("a number-0 placeholder decoded as known: %+v", g)
			}
		})
	}
}

func TestDatasetsUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"older Ray without the data module", 404, "404: Not Found", "no /api/data/datasets"},
		{"handler failed", 503, "ray.exceptions.ActorDiedError: The actor died unexpectedly", "503 Service Unavailable (ray.exceptions.ActorDiedError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := dataServer(t, tt.status, []byte(tt.body)).Datasets(context.Background(), "02000000")
			if !errors.Is(err, ErrNoDataView) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line matching ErrNoDataView with %q", err, tt.want)
			}
		})
	}
}

// step is one poll of the fake cluster: the job's status and what the
// datasets endpoint answers (a payload file, or a bare status).
type step struct {
	status     JobStatus
	file       string
	dataStatus int
}

// jobCluster serves a job that moves through steps, one per job poll.
type jobCluster struct {
	mu    sync.Mutex
	steps []step
	i     int
}

func (f *jobCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/api/jobs/raysubmit_9" {
		f.i++ // each job poll moves the cluster on; logs and data follow it
	}
	cur := f.steps[min(max(f.i-1, 0), len(f.steps)-1)]
	switch r.URL.Path {
	case "/api/jobs/raysubmit_9":
		info := JobInfo{SubmissionID: "raysubmit_9", Status: cur.status, Metadata: map[string]string{"workbench_scenario": "optimized"}}
		if cur.status != StatusPending {
			info.JobID = "02000000"
		}
		if cur.status == StatusFailed {
			info.Message = "Job entrypoint command failed with exit code 1"
		}
		writeJSON(w, info)
	case "/api/jobs/raysubmit_9/logs":
		writeJSON(w, map[string]string{"logs": strings.Repeat("Running: 0.0/16.0 CPU\n", f.i)})
	case "/api/data/datasets/02000000":
		if cur.dataStatus != 0 {
			http.Error(w, "Traceback (most recent call last): RuntimeError: stats actor", cur.dataStatus)
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", "datasets", cur.file))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

// fakeClock advances two seconds per call, the default poll interval.
func fakeClock() func() time.Time {
	t := time.Unix(1767225600, 0).UTC()
	return func() time.Time { t = t.Add(2 * time.Second); return t }
}

func TestWatchLoop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		steps      []step
		wantStatus JobStatus
		wantErr    bool
		wantState  string  // the last snapshot's dataset state, "" for none
		wantRate   float64 // Predictor rows/s at the second RUNNING poll
		wantNote   string  // in some poll's DataNote
		wantUsual  string
	}{
		{"running to succeeded", []step{{StatusPending, "", 0}, {StatusRunning, "running_1.json", 0},
			{StatusRunning, "running_2.json", 0}, {StatusSucceeded, "finished.json", 0}},
			StatusSucceeded, false, DataFinished, (2176 - 1024) / 2.0, "no Ray job ID", "MapBatches(Predictor)"},
		{"running to failed", []step{{StatusRunning, "running_1.json", 0}, {StatusRunning, "running_2.json", 0},
			{StatusFailed, "failed.json", 0}},
			StatusFailed, true, DataFailed, (2176 - 1024) / 2.0, "", "MapBatches(Predictor)"},
		{"older Ray: 404, the rest works", []step{{StatusRunning, "", 404}, {StatusSucceeded, "", 404}},
			StatusSucceeded, false, "", -1, "no /api/data/datasets", ""},
		{"503 then data", []step{{StatusRunning, "", 503}, {StatusRunning, "running_1.json", 0}, {StatusRunning, "running_2.json", 0},
			{StatusSucceeded, "finished.json", 0}},
			StatusSucceeded, false, DataFinished, (2176 - 1024) / 2.0, "503 Service Unavailable", "MapBatches(Predictor)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(&jobCluster{steps: tt.steps})
			defer srv.Close()
			c, err := NewClient(Config{Address: srv.URL, PollInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var polls []Snapshot
			var log strings.Builder
			last, err := c.Watch(context.Background(), "raysubmit_9", WatchOptions{Log: &log, Now: fakeClock(),
				OnPoll: func(s Snapshot) { polls = append(polls, s) }})
			var je *JobError
			if got := errors.As(err, &je); got != tt.wantErr {
				t.Fatalf("err = %v, want a JobError: %v", err, tt.wantErr)
			}
			if last.Job.Status != tt.wantStatus || len(polls) != len(tt.steps) {
				t.Fatalf("ended %s after %d polls, want %s after %d", last.Job.Status, len(polls), tt.wantStatus, len(tt.steps))
			}
			if !strings.Contains(log.String(), "Running: 0.0/16.0 CPU") {
				t.Errorf("the log tail was not written:\n%s", log.String())
			}
			if tt.wantNote != "" {
				found := false
				for _, p := range polls {
					found = found || strings.Contains(p.DataNote, tt.wantNote)
				}
				if !found {
					t.Errorf("no poll said %q", tt.wantNote)
				}
			}
			if tt.wantState == "" {
				if len(last.Datasets) != 0 {
					t.Errorf("datasets without a data view: %+v", last.Datasets)
				}
				return
			}
			d := last.Datasets[0]
			if d.State != tt.wantState || d.Usual.Op != tt.wantUsual {
				t.Errorf("final dataset %s, usual bottleneck %q; want %s, %q", d.State, d.Usual.Op, tt.wantState, tt.wantUsual)
			}
			if !d.HasGPU || d.PeakGPU != 4 || d.MeanGPU != 4 {
				t.Errorf("GPU peak %v mean %v (known %v), want 4 and 4", d.PeakGPU, d.MeanGPU, d.HasGPU)
			}
			var second *DatasetView
			n := 0
			for i := range polls {
				if len(polls[i].Datasets) > 0 && polls[i].Datasets[0].State == DataRunning {
					if n++; n == 2 {
						second = &polls[i].Datasets[0]
					}
				}
			}
			if second == nil {
				t.Fatal("fewer than two RUNNING polls")
			}
			for _, o := range second.Ops {
				if o.Label() == "MapBatches(Predictor)" && (!o.HasRate || o.RowsPerSec != tt.wantRate) {
					t.Errorf("Predictor rows/s = %v (has %v), want %v", o.RowsPerSec, o.HasRate, tt.wantRate)
				}
			}
		})
	}
}

func TestFindBottleneck(t *testing.T) {
	t.Parallel()
	q := func(n int64) *int64 { return &n }
	tests := []struct {
		name  string
		ops   []OperatorInfo
		op    string
		known bool
	}{
		{"inference piles up", []OperatorInfo{{Name: "Read", State: DataRunning, QueuedBlocks: q(0)},
			{Name: "Infer", State: DataRunning, QueuedBlocks: q(6)}, {Name: "Write", State: DataRunning, QueuedBlocks: q(0)}}, "Infer", true},
		{"the later queue wins", []OperatorInfo{{Name: "Read", State: DataRunning, QueuedBlocks: q(3)},
			{Name: "Infer", State: DataRunning, QueuedBlocks: q(0)}, {Name: "Write", State: DataRunning, QueuedBlocks: q(2)}}, "Write", true},
		{"nothing waits", []OperatorInfo{{Name: "Read", State: DataRunning, QueuedBlocks: q(0)}}, "", true},
		{"not reported", []OperatorInfo{{Operator: "Read1", State: DataRunning}}, "", false},
	}
	for _, tt := range tests {
		b := FindBottleneck(tt.ops)
		if b.Op != tt.op || b.Known != tt.known {
			t.Errorf("%s: got %+v, want %q known %v", tt.name, b, tt.op, tt.known)
		}
	}
}

// TestDataLinesGolden renders the operator table at the two terminal
// widths the TUI goldens use; go test ./ray -run DataLines -update
// rewrites them.
func TestDataLinesGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, first, second string }{
		{"running", "running_1.json", "running_2.json"},
		{"no_prometheus", "no_prometheus.json", "no_prometheus.json"},
		{"two_datasets", "two_datasets.json", "two_datasets.json"},
	} {
		for _, width := range []int{80, 160} {
			w := newWatcher()
			clock := fakeClock()
			var snap Snapshot
			for _, f := range []string{tc.first, tc.second} {
				ds, err := dataServer(t, 200, payload(t, f)).Datasets(context.Background(), "02000000")
				if err != nil {
					t.Fatal(err)
				}
				snap = Snapshot{At: clock()}
				snap.Datasets = w.observe(ds, snap.At)
			}
			lines := DataLines(snap, width)
			for i, l := range lines {
				if n := len([]rune(l)); n > width {
					t.Errorf("%s@%d line %d is %d wide", tc.name, width, i, n)
				}
			}
			got := strings.Join(lines, "\n") + "\n"
			path := filepath.Join("testdata", "watch_"+tc.name+"_"+strconv.Itoa(width)+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs; rerun with -update if intended\n--- got ---\n%s--- want ---\n%s", path, got, want)
			}
		}
	}
}

// TestDatasetsSendsToken: the Ray Data view is asked with the same auth as
// the Jobs calls, and a refused token is one line on the watch's status
// line, naming the token's source and never the token.
func TestDatasetsSendsToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-t0ken-for-the-dashboard"
	body := payload(t, "running_1.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			http.Error(w, "Unauthorized: got "+got, http.StatusUnauthorized)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, token string
		wantErr     bool
	}{{"right token", token, false}, {"wrong token", "wrong-wrong-wrong", true}} {
		c, err := NewClient(Config{Address: srv.URL, Headers: Headers{BearerHeader(Secret(tc.token))}, Auth: Auth{Source: EnvAuthToken}})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := c.Datasets(context.Background(), "02000000")
		if tc.wantErr {
			note := Note(err)
			if err == nil || !strings.Contains(note, "401") || !strings.Contains(note, EnvAuthToken) ||
				strings.Contains(note, tc.token) || strings.Contains(note, "\n") {
				t.Errorf("%s: note %q, want one line naming a 401 and %s without the token", tc.name, note, EnvAuthToken)
			}
			continue
		}
		if err != nil || len(ds) != 1 {
			t.Errorf("%s: %d datasets, %v", tc.name, len(ds), err)
		}
	}
}
