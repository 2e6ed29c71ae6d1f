package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"workbench/bench"
	"workbench/ray"
)

func TestExportRayScenarios(t *testing.T) {
	t.Parallel()
	tests := []struct {
		scenario     string
		want         []string // in main.py
		wantMistakes bool
	}{
		{"optimized", []string{"BATCH_SIZE = 32", "batch_size=BATCH_SIZE", "from scenario optimized"}, false},
		{"slow", []string{"BATCH_SIZE = 2", "# MISTAKE (model-per-batch)", "# MISTAKE (tiny-blocks)", "number of files is unknown", "write_json"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "job")
			var stdout, stderr bytes.Buffer
			args := []string{"export", "ray", "--scenario", tt.scenario, "--model", "tiny", "--data", "s3://bucket/images/", "--out", dir}
			if err := run(context.Background(), &stdout, &stderr, args); err != nil {
				t.Fatalf("export: %v\nstderr: %s", err, stderr.String())
			}
			for _, f := range []string{"main.py", "requirements.txt", "README.md"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("job folder lacks %s: %v", f, err)
				}
			}
			main, err := os.ReadFile(filepath.Join(dir, "main.py"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(main), w) {
					t.Errorf("main.py lacks %q", w)
				}
			}
			if got := strings.Contains(string(main), "# MISTAKE ("); got != tt.wantMistakes {
				t.Errorf("main.py has MISTAKE markers = %v, want %v", got, tt.wantMistakes)
			}
			if !strings.Contains(stdout.String(), "workbench submit --address") {
				t.Errorf("stdout does not show the submit command:\n%s", stdout.String())
			}
		})
	}
}

func TestExportRayFromSweep(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	results := filepath.Join(tmp, "sweep.json")
	var recs []*bench.Record
	for i, tput := range []float64{1800, 1840, 1850, 900, 910, 905} {
		label, batch, rank := "batch=128", "128", 1
		if i >= 3 {
			label, batch, rank = "batch=8", "8", 2
		}
		recs = append(recs, &bench.Record{Kind: "run", Scenario: "optimized", Label: label, Repeat: i % 3, Status: "ok",
			Throughput: tput, Params: map[string]string{"batch": batch}, Rank: rank})
	}
	if err := bench.WriteRecordsFile(results, recs); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "job")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), &stdout, &stderr, []string{"export", "ray", "--from", results, "--model", "tiny", "--data", "s3://b/i/", "--out", dir}); err != nil {
		t.Fatalf("export: %v\nstderr: %s", err, stderr.String())
	}
	main, err := os.ReadFile(filepath.Join(dir, "main.py"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"BATCH_SIZE = 128", "batch=128 from sweep sweep.json"} {
		if !strings.Contains(strings.Join(strings.Fields(strings.ReplaceAll(string(main), "#", "")), " "), w) {
			t.Errorf("main.py lacks %q:\n%s", w, main)
		}
	}
	// The job's metadata names the results file and the cell, so a watch
	// anywhere on this machine finds the local run again.
	b, err := os.ReadFile(filepath.Join(dir, ray.ProvenanceFile))
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]string
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if path, label := ray.TunedFromFile(meta); path != results || label != "batch=128" {
		t.Errorf("tuned from %q cell %q, want %q cell batch=128\n%s", path, label, results, b)
	}
}

// fakeRay is a loopback Ray Jobs API: one job whose status walks through
// statuses, one step per status request.
type fakeRay struct {
	mu       sync.Mutex
	statuses []string
	polls    int
	final    string // FAILED message
	header   string // the last X-Ray-Token seen
	stopped  []string
	submits  int
	failPost bool
}

func (f *fakeRay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.header = r.Header.Get("X-Ray-Token")
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/api/packages/gcs/"):
		if r.Method == http.MethodGet {
			http.NotFound(w, r)
		}
	case r.Method == http.MethodPost && p == "/api/jobs/":
		if f.failPost {
			http.Error(w, "Traceback: RuntimeError: head node overloaded", http.StatusInternalServerError)
			return
		}
		f.submits++
		json.NewEncoder(w).Encode(map[string]string{"submission_id": "raysubmit_1", "job_id": "raysubmit_1"})
	case r.Method == http.MethodGet && p == "/api/jobs/":
		json.NewEncoder(w).Encode([]map[string]any{
			{"submission_id": "raysubmit_1", "status": "RUNNING", "entrypoint": "python main.py", "start_time": 1767225600000},
			{"job_id": "02000000", "status": "SUCCEEDED", "entrypoint": "python other.py"},
		})
	case r.Method == http.MethodGet && p == "/api/jobs/raysubmit_1":
		st := f.statuses[min(f.polls, len(f.statuses)-1)]
		f.polls++
		msg := ""
		if st == "FAILED" {
			msg = f.final
		}
		json.NewEncoder(w).Encode(map[string]any{"submission_id": "raysubmit_1", "status": st, "message": msg, "entrypoint": "python main.py"})
	case r.Method == http.MethodGet && p == "/api/jobs/raysubmit_1/logs":
		logs := "starting\n"
		if f.polls > 1 {
			logs += "wrote 64 rows\n"
		}
		json.NewEncoder(w).Encode(map[string]string{"logs": logs})
	case r.Method == http.MethodPost && p == "/api/jobs/raysubmit_1/stop":
		f.stopped = append(f.stopped, "raysubmit_1")
		json.NewEncoder(w).Encode(map[string]bool{"stopped": true})
	default:
		http.Error(w, `{"message":"no such job"}`, http.StatusNotFound)
	}
}

// jobFolder writes the smallest folder NewSubmitRequest accepts.
func jobFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte("print('hi')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("ray[data]\npillow>=9.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The token travels in the environment, as the docs advise, so this test
// uses t.Setenv and cannot run in parallel.
func TestSubmitFollow(t *testing.T) {
	const secret = "s3cr3t-token-value"
	t.Setenv("WB_TEST_RAY_TOKEN", secret)
	tests := []struct {
		name     string
		statuses []string
		failPost bool
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"succeeded", []string{"PENDING", "RUNNING", "SUCCEEDED"}, false, 0, []string{"submitted job raysubmit_1", "starting\n", "wrote 64 rows\n", "job raysubmit_1 SUCCEEDED"}, ""},
		{"failed", []string{"PENDING", "RUNNING", "FAILED"}, false, 1, []string{"starting\n"}, "raysubmit_1 FAILED"},
		{"http 500", []string{"RUNNING"}, true, 1, nil, "500 Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeRay{statuses: tt.statuses, final: "driver exited with code 1", failPost: tt.failPost}
			srv := httptest.NewServer(fake) // 127.0.0.1 only
			defer srv.Close()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), &stdout, &stderr, []string{"submit", "--address", srv.URL, jobFolder(t), "--follow", "--poll", "5ms",
				"--header", "X-Ray-Token: $WB_TEST_RAY_TOKEN"})
			code := exitCode(&stderr, err)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d (err %v)\nstdout: %s", code, tt.wantCode, err, stdout.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, stderr.String())
			}
			if strings.Count(stdout.String(), "wrote 64 rows") > 1 {
				t.Errorf("a log line was printed twice:\n%s", stdout.String())
			}
			fake.mu.Lock()
			got := fake.header
			fake.mu.Unlock()
			if got != secret {
				t.Errorf("server saw header %q, want the environment's value", got)
			}
			if strings.Contains(stdout.String()+stderr.String(), secret) {
				t.Errorf("the header value was printed:\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
			}
		})
	}
}

func TestJobsAndStop(t *testing.T) {
	t.Parallel()
	fake := &fakeRay{statuses: []string{"RUNNING"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tests := []struct {
		name string
		args []string
		want []string
		code int
	}{
		{"list", []string{"jobs", "--address", srv.URL}, []string{"ID", "STATUS", "raysubmit_1", "RUNNING", "2026-01-01 00:00:00Z", "python main.py", "02000000"}, 0},
		{"logs", []string{"jobs", "--address", srv.URL, "--logs", "raysubmit_1"}, []string{"starting\n"}, 0},
		{"stop", []string{"submit", "--address", srv.URL, "--stop", "raysubmit_1"}, []string{"stopping job raysubmit_1"}, 0},
		{"unknown job", []string{"jobs", "--address", srv.URL, "--logs", "nope"}, nil, 1},
		{"no address", []string{"jobs", "--address", ""}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := exitCode(&stderr, run(context.Background(), &stdout, &stderr, tt.args))
			if code != tt.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s", code, tt.code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

// TestClusterAuthToken runs submit and jobs against a cluster that demands
// Ray's bearer token, with the token in each of Ray's sources in turn. It
// sets the environment and HOME, so it cannot run in parallel.
func TestClusterAuthToken(t *testing.T) {
	const token = "rAy-t0ken-0123456789abcdef"
	fake := &fakeRay{statuses: []string{"RUNNING", "SUCCEEDED"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			// Echo what came, as a careless proxy would: the client must
			// scrub it from its error.
			http.Error(w, "Unauthorized: "+got, http.StatusUnauthorized)
			return
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	homeWith := t.TempDir()
	if err := os.MkdirAll(filepath.Join(homeWith, ".ray"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(homeWith, ".ray", "auth_token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyHome := t.TempDir()
	tests := []struct {
		name     string
		env      map[string]string // RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, HOME, WB_TOK
		extra    []string
		wantCode int
		wantErr  []string
	}{
		{"RAY_AUTH_TOKEN", map[string]string{"RAY_AUTH_TOKEN": token, "HOME": emptyHome}, nil, 0, nil},
		{"RAY_AUTH_TOKEN_PATH", map[string]string{"RAY_AUTH_TOKEN_PATH": tokenFile, "HOME": emptyHome}, nil, 0, nil},
		{"~/.ray/auth_token", map[string]string{"HOME": homeWith}, nil, 0, nil},
		{"--header wins over a wrong RAY_AUTH_TOKEN", map[string]string{"RAY_AUTH_TOKEN": "wrong-wrong-wrong", "WB_TOK": token, "HOME": emptyHome},
			[]string{"--header", "Authorization: Bearer $WB_TOK"}, 0, nil},
		{"wrong token", map[string]string{"RAY_AUTH_TOKEN": "wrong-wrong-wrong", "HOME": homeWith}, nil, 1,
			[]string{"401 Unauthorized", "refused the token from RAY_AUTH_TOKEN", "ray get-auth-token"}},
		{"no token", map[string]string{"HOME": emptyHome}, nil, 1,
			[]string{"no token was sent", "RAY_AUTH_TOKEN: not set", "RAY_AUTH_TOKEN_PATH: not set", "auth_token: no such file", "ray get-auth-token"}},
		{"unreadable RAY_AUTH_TOKEN_PATH", map[string]string{"RAY_AUTH_TOKEN_PATH": filepath.Join(emptyHome, "nope"), "HOME": homeWith}, nil, 2,
			[]string{"RAY_AUTH_TOKEN_PATH names", "no such file", "does not fall back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "WB_TOK"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			for _, args := range [][]string{
				{"jobs", "--address", srv.URL},
				{"submit", "--address", srv.URL, jobFolder(t), "--follow", "--poll", "5ms"},
			} {
				fake.mu.Lock()
				fake.polls = 0
				fake.mu.Unlock()
				var stdout, stderr bytes.Buffer
				err := run(context.Background(), &stdout, &stderr, append(args, tt.extra...))
				code := exitCode(&stderr, err)
				if code != tt.wantCode {
					t.Fatalf("%s: exit code %d, want %d\nstdout: %s\nstderr: %s", args[0], code, tt.wantCode, stdout.String(), stderr.String())
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(stderr.String(), w) {
						t.Errorf("%s: stderr lacks %q:\n%s", args[0], w, stderr.String())
					}
				}
				all := stdout.String() + stderr.String()
				for _, secret := range []string{token, "wrong-wrong-wrong"} {
					if strings.Contains(all, secret) {
						t.Errorf("%s: the token was printed:\n%s", args[0], all)
					}
				}
			}
		})
	}
}

// dataCluster is a cluster whose job runs the exported dataset: each job
// poll moves it a step, and the dashboard's Ray Data view answers with the
// recorded data_head.py payloads in ray/testdata/datasets.
type dataCluster struct {
	mu    sync.Mutex
	steps []struct{ status, file string }
	meta  map[string]string // beside the scenario and dataset
	i     int
}

func (f *dataCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/api/packages/gcs/"):
		if r.Method == http.MethodGet {
			http.NotFound(w, r)
		}
	case r.Method == http.MethodPost && p == "/api/jobs/":
		json.NewEncoder(w).Encode(map[string]string{"submission_id": "raysubmit_1"})
	case p == "/api/jobs/raysubmit_1":
		f.i++
		st := f.steps[min(f.i, len(f.steps))-1].status
		meta := map[string]string{"workbench_scenario": "optimized", "workbench_dataset": "workbench_optimized"}
		for k, v := range f.meta {
			meta[k] = v
		}
		json.NewEncoder(w).Encode(map[string]any{"submission_id": "raysubmit_1", "job_id": "02000000", "status": st, "metadata": meta})
	case p == "/api/jobs/raysubmit_1/logs":
		json.NewEncoder(w).Encode(map[string]string{"logs": "Running Dataset: workbench_optimized\n"})
	case p == "/api/data/datasets/02000000":
		b, err := os.ReadFile(filepath.Join("ray", "testdata", "datasets", f.steps[min(max(f.i, 1), len(f.steps))-1].file))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

// TestWatchWritesClusterRecord follows a job through the poll loop, RUNNING
// to SUCCEEDED or FAILED, on the recorded data_head.py answers, and checks
// the record --json writes and the comparison --compare prints.
func TestWatchWritesClusterRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	local := filepath.Join(dir, "local.json")
	// Two cells: the export took batch=64 although batch=32 ran faster
	// here, so the comparison must use batch=64's median repeat (128).
	lrun := func(label string, tput float64) *bench.Record {
		return &bench.Record{SchemaVersion: bench.SchemaVersion, Kind: bench.KindRun, Scenario: "optimized", Label: label, Status: bench.StatusOK,
			Images: 512, WallSeconds: 512 / tput, Throughput: tput, CPUPercent: 400, Bottleneck: "Inference (busy 97%; Preprocess backpressured 40%)",
			Ops: []bench.OpRecord{{Name: "ReadImages", RowsOut: 512, CPUSeconds: 1}, {Name: "Preprocess", RowsOut: 512, CPUSeconds: 6},
				{Name: "Inference", RowsOut: 512, CPUSeconds: 8}, {Name: "Write", RowsOut: 512, CPUSeconds: 0.5}}}
	}
	lrecs := []*bench.Record{lrun("batch=32", 500), lrun("batch=64", 120), lrun("batch=64", 128), lrun("batch=64", 131)}
	if err := bench.WriteRecordsFile(local, lrecs); err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{ray.MetaTunedFrom: "local.json (batch=64 from sweep local.json: 128 img/s)", ray.MetaTunedFromFile: local, ray.MetaTunedFromLabel: "batch=64"}
	type step = struct{ status, file string }
	tests := []struct {
		name       string
		args       []string
		steps      []step
		wantCode   int
		wantStatus string
		wantRows   int
		wantWall   float64
	}{
		{"submit --follow succeeded", []string{"submit", jobFolder(t), "--follow"},
			[]step{{"RUNNING", "running_1.json"}, {"RUNNING", "running_2.json"}, {"SUCCEEDED", "finished.json"}}, 0, bench.StatusOK, 5000, 42.5},
		{"jobs --watch failed", []string{"jobs", "--watch", "raysubmit_1"},
			[]step{{"RUNNING", "running_1.json"}, {"RUNNING", "running_2.json"}, {"FAILED", "failed.json"}}, 1, bench.StatusFailed, 2200, 20},
		{"jobs --watch, a second dataset beside the exported one", []string{"jobs", "--watch", "raysubmit_1"},
			[]step{{"RUNNING", "two_datasets.json"}, {"RUNNING", "running_2.json"}, {"SUCCEEDED", "finished.json"}}, 0, bench.StatusOK, 5000, 42.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &dataCluster{steps: tt.steps, meta: meta}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			out := filepath.Join(t.TempDir(), "cluster.json")
			var stdout, stderr bytes.Buffer
			args := append(tt.args, "--address", srv.URL, "--poll", "5ms", "--json", out, "--compare", local)
			code := exitCode(&stderr, run(context.Background(), &stdout, &stderr, args))
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, want := range []string{"Running Dataset: workbench_optimized", "[ray data] workbench_optimized_", "bottleneck MapBatches(Predictor)",
				"OPERATOR", "MapBatches(Predictor)", "wrote " + out, "throughput per GPU", "128 img/s", "Inference", "where they differ"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			recs, err := bench.ReadRecordsFile(out)
			if err != nil {
				t.Fatal(err)
			}
			r := recs[0]
			ci := r.Cluster
			if r.Kind != bench.KindCluster || r.SchemaVersion != bench.SchemaVersion || r.Status != tt.wantStatus || r.Scenario != "optimized" || ci == nil {
				t.Fatalf("record: kind %q schema %d status %q scenario %q cluster %+v", r.Kind, r.SchemaVersion, r.Status, r.Scenario, ci)
			}
			if r.Images != tt.wantRows || r.WallSeconds != tt.wantWall || r.Throughput != float64(tt.wantRows)/tt.wantWall {
				t.Errorf("rows %d wall %v throughput %v, want %d in %v s", r.Images, r.WallSeconds, r.Throughput, tt.wantRows, tt.wantWall)
			}
			if ci.SubmissionID != "raysubmit_1" || ci.JobID != "02000000" || !strings.HasPrefix(ci.Dataset, "workbench_optimized_") ||
				ci.TunedFromFile != local || ci.TunedFromLabel != "batch=64" || !strings.HasPrefix(ci.TunedFrom, "local.json") {
				t.Errorf("identity and provenance: %+v", ci)
			}
			// Peaks over the polls: the Predictor held 4 GPUs while it ran,
			// whatever its gauges read at the end.
			if ci.PeakGPUCores != 4 || ci.MeanGPUCores != 4 || ci.PeakCPUCores < 19 || len(ci.Missing) != 0 {
				t.Errorf("cores: peak GPU %v mean %v peak CPU %v missing %v", ci.PeakGPUCores, ci.MeanGPUCores, ci.PeakCPUCores, ci.Missing)
			}
			var names []string
			for _, o := range ci.Ops {
				names = append(names, o.Name)
				if o.Name == "MapBatches(Predictor)" && o.PeakGPUCores != 4 {
					t.Errorf("Predictor peak GPUs %v, want 4", o.PeakGPUCores)
				}
			}
			if got := strings.Join(names, ","); got != "ReadImage->MapBatches(preprocess),MapBatches(Predictor),Write" || len(r.Ops) != 3 {
				t.Errorf("operators %s (%d op records)", got, len(r.Ops))
			}
			if !strings.HasPrefix(r.Bottleneck, "MapBatches(Predictor)") {
				t.Errorf("bottleneck %q", r.Bottleneck)
			}
		})
	}
}
