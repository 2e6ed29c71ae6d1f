package ray

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRay is a loopback Ray dashboard that implements the Jobs REST API's
// documented request and response shapes. Each job walks through its scripted
// states, one per status GET; the logs GET returns the log of the state last
// reported.
type fakeRay struct {
	t *testing.T

	mu       sync.Mutex
	jobs     map[string]*fakeJob
	packages map[string][]byte
	calls    []string // "METHOD path"
	submits  []map[string]any
	headers  []http.Header
	// fail, when set, answers a request instead of the API.
	fail func(w http.ResponseWriter, r *http.Request) bool
	// done closes when the test ends, releasing handlers that hang.
	done chan struct{}
}

type fakeJob struct {
	steps []fakeStep
	at    int // the step last reported
	gets  int // status GETs so far
}

type fakeStep struct {
	status  JobStatus
	message string
	logs    string
}

func newFakeRay(t *testing.T) (*fakeRay, *httptest.Server) {
	f := &fakeRay{t: t, jobs: map[string]*fakeJob{}, packages: map[string][]byte{}, done: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.done) }) // runs first: cleanups are LIFO
	return f, srv
}

func (f *fakeRay) addJob(id string, steps ...fakeStep) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs[id] = &fakeJob{steps: steps}
}

// snapshot returns copies of what the server has recorded.
func (f *fakeRay) snapshot() (calls []string, headers []http.Header, submits []map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]http.Header(nil), f.headers...), append([]map[string]any(nil), f.submits...)
}

func (f *fakeRay) pkg(name string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.packages[name]
}

// countingTransport counts the requests the client sends, on the client's
// side, so that a count does not depend on when the server sees them.
type countingTransport struct {
	mu   sync.Mutex
	n    int
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (f *fakeRay) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeRay) details(id string, s fakeStep) map[string]any {
	return map[string]any{
		"type": "SUBMISSION", "job_id": nil, "submission_id": id, "status": s.status,
		"entrypoint": "python main.py", "message": s.message, "error_type": nil,
		"start_time": 1764100000000, "end_time": nil, "metadata": map[string]string{},
		"runtime_env": map[string]any{}, "driver_info": nil,
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeRay) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.headers = append(f.headers, r.Header.Clone())
	fail := f.fail
	f.mu.Unlock()
	if fail != nil && fail(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && path == "/api/version":
		writeJSON(w, map[string]string{"version": "4", "ray_version": "2.51.1", "ray_commit": "abc"})
	case strings.HasPrefix(path, "/api/packages/gcs/"):
		name := strings.TrimPrefix(path, "/api/packages/gcs/")
		switch r.Method {
		case http.MethodGet:
			if _, ok := f.packages[name]; !ok {
				http.Error(w, "Package gcs://"+name+" does not exist", http.StatusNotFound)
			}
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			f.packages[name] = b
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		}
	case r.Method == http.MethodPost && path == "/api/jobs/":
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.submits = append(f.submits, req)
		id, _ := req["submission_id"].(string)
		if id == "" {
			id = fmt.Sprintf("raysubmit_%d", len(f.submits))
		}
		f.jobs[id] = &fakeJob{steps: []fakeStep{{status: StatusPending}}}
		writeJSON(w, map[string]any{"submission_id": id, "job_id": nil})
	case r.Method == http.MethodGet && path == "/api/jobs/":
		list := []any{}
		for id, j := range f.jobs {
			list = append(list, f.details(id, j.steps[j.at]))
		}
		writeJSON(w, list)
	case strings.HasPrefix(path, "/api/jobs/"):
		rest := strings.TrimPrefix(path, "/api/jobs/")
		id, action, _ := strings.Cut(rest, "/")
		j, ok := f.jobs[id]
		if !ok {
			http.Error(w, "Job "+id+" does not exist", http.StatusNotFound)
			return
		}
		switch {
		case r.Method == http.MethodGet && action == "":
			j.at = min(j.gets, len(j.steps)-1)
			j.gets++
			writeJSON(w, f.details(id, j.steps[j.at]))
		case r.Method == http.MethodGet && action == "logs":
			writeJSON(w, map[string]string{"logs": j.steps[j.at].logs})
		case r.Method == http.MethodPost && action == "stop":
			running := !j.steps[j.at].status.Terminal()
			if running {
				j.steps = append(j.steps[:j.at+1:j.at+1], fakeStep{status: StatusStopped, message: "Job was intentionally stopped.", logs: j.steps[j.at].logs})
				j.gets = j.at + 1
			}
			writeJSON(w, map[string]bool{"stopped": running})
		default:
			http.Error(w, "no route", http.StatusNotFound)
		}
	default:
		http.Error(w, "no route", http.StatusNotFound)
	}
}

// hang never answers: it returns when the client gives up (which the server
// notices only once the request body is read) or the test ends.
func (f *fakeRay) hang(w http.ResponseWriter, r *http.Request) bool {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-f.done:
	}
	return true
}

// fastRetry keeps retry delays tiny so tests do not wait.
var fastRetry = RetryPolicy{MaxAttempts: 3, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}

func newTestClient(t *testing.T, srv *httptest.Server, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Address:      srv.URL,
		HTTPClient:   srv.Client(),
		Retry:        fastRetry,
		PollInterval: time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeJobFolder renders spec into a fresh folder, as Export would.
func writeJobFolder(t *testing.T, spec JobSpec) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "job")
	if err := Export(spec, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSubmitUploadsWorkingDirAndSendsDocumentedRequest(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRay(t)
	token := "s3cr3t-token-value"
	c := newTestClient(t, srv, func(cfg *Config) {
		cfg.Headers = Headers{{Name: "Authorization", Value: Secret("Bearer " + token)}}
	})
	dir := writeJobFolder(t, optimizedSpec())
	req, err := NewSubmitRequest(dir, map[string]string{"scenario": "optimized"})
	if err != nil {
		t.Fatal(err)
	}
	req.SubmissionID = "wb-optimized-1"
	id, err := c.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if id != "wb-optimized-1" {
		t.Errorf("id = %q", id)
	}
	uri, err := PackageURI(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(uri, "gcs://")
	wantCalls := []string{"GET /api/packages/gcs/" + name, "PUT /api/packages/gcs/" + name, "POST /api/jobs/"}
	calls, headers, submits := f.snapshot()
	if fmt.Sprint(calls) != fmt.Sprint(wantCalls) {
		t.Errorf("calls = %v, want %v", calls, wantCalls)
	}
	for i, h := range headers {
		if h.Get("Authorization") != "Bearer "+token {
			t.Errorf("request %d: Authorization header not sent", i)
		}
	}
	if ct := headers[2].Get("Content-Type"); ct != "application/json" {
		t.Errorf("submit Content-Type = %q", ct)
	}

	// The request body, as Ray's JobSubmitRequest names its fields.
	got := submits[0]
	want := map[string]any{
		"entrypoint":    "python main.py",
		"submission_id": "wb-optimized-1",
		"runtime_env": map[string]any{
			"working_dir": uri,
			"pip":         []any{"pillow>=9.1", "onnxruntime-gpu>=1.17"},
		},
		// The folder's workbench.json rides along as metadata.
		"metadata": map[string]any{"scenario": "optimized", MetaScenario: "optimized", MetaDataset: "workbench_optimized"},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("submit body\n got %s\nwant %s", gotJSON, wantJSON)
	}

	// The uploaded package is the job folder, zipped flat.
	pkg := f.pkg(name)
	zr, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
	}
	if fmt.Sprint(names) != "[README.md main.py requirements.txt workbench.json]" {
		t.Errorf("package holds %v", names)
	}

	// Submitting the same folder again finds the package and skips the upload;
	// entrypoint resources are sent only when set.
	req.SubmissionID = ""
	req.EntrypointNumCPUs = 1
	if _, err := c.Submit(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := f.count("PUT /api/packages/gcs/" + name); n != 1 {
		t.Errorf("package uploaded %d times, want once", n)
	}
	_, _, submits = f.snapshot()
	if _, ok := submits[0]["entrypoint_num_cpus"]; ok {
		t.Errorf("unset entrypoint_num_cpus was sent")
	}
	if v := submits[1]["entrypoint_num_cpus"]; v != 1.0 {
		t.Errorf("entrypoint_num_cpus = %v", v)
	}
}

func TestSubmitRejectsEmptyEntrypoint(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRay(t)
	c := newTestClient(t, srv, nil)
	if _, err := c.Submit(context.Background(), SubmitRequest{}); err == nil {
		t.Fatal("empty entrypoint accepted")
	}
	if calls, _, _ := f.snapshot(); len(calls) != 0 {
		t.Errorf("calls = %v, want none", calls)
	}
}

func TestFollow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		steps      []fakeStep
		wantOut    string
		wantStatus JobStatus
		wantErr    string // substring of the *JobError; "" for success
	}{
		{
			name: "succeeded",
			steps: []fakeStep{
				{status: StatusPending},
				{status: StatusRunning, logs: "starting\nread 10"},
				{status: StatusRunning, logs: "starting\nread 100 images\nMapBatches(Pre"},
				{status: StatusSucceeded, message: "Job finished successfully.", logs: "starting\nread 100 images\nMapBatches(Predictor): 100 rows\ndone"},
			},
			wantOut:    "starting\nread 100 images\nMapBatches(Predictor): 100 rows\ndone\n",
			wantStatus: StatusSucceeded,
		},
		{
			name: "failed",
			steps: []fakeStep{
				{status: StatusPending},
				{status: StatusRunning, logs: "starting\n"},
				{status: StatusFailed, message: "Job entrypoint command failed with exit code 1", logs: "starting\nTraceback: FileNotFoundError: resnet18.onnx\n"},
			},
			wantOut:    "starting\nTraceback: FileNotFoundError: resnet18.onnx\n",
			wantStatus: StatusFailed,
			wantErr:    "FAILED: Job entrypoint command failed with exit code 1",
		},
		{
			name: "log restarted",
			steps: []fakeStep{
				{status: StatusRunning, logs: "a\nb\n"},
				{status: StatusRunning, logs: "x\n"},
				{status: StatusSucceeded, logs: "x\ny\n"},
			},
			wantOut:    "a\nb\n[workbench: the job's log was truncated or rotated; printing it again]\nx\ny\n",
			wantStatus: StatusSucceeded,
		},
		{
			name: "stopped",
			steps: []fakeStep{
				{status: StatusRunning, logs: "working\n"},
				{status: StatusStopped, message: "Job was intentionally stopped.", logs: "working\n"},
			},
			wantOut:    "working\n",
			wantStatus: StatusStopped,
			wantErr:    "STOPPED: Job was intentionally stopped.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFakeRay(t)
			f.addJob("raysubmit_x", tc.steps...)
			c := newTestClient(t, srv, nil)
			var out bytes.Buffer
			info, err := c.Follow(context.Background(), "raysubmit_x", &out)
			if out.String() != tc.wantOut {
				t.Errorf("output\n got %q\nwant %q", out.String(), tc.wantOut)
			}
			if info.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s", info.Status, tc.wantStatus)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var je *JobError
			if !errors.As(err, &je) || je.Status != tc.wantStatus || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want a *JobError containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestJobStatusLogsStopList(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRay(t)
	f.addJob("raysubmit_a", fakeStep{status: StatusRunning, logs: "hello\n"})
	f.addJob("raysubmit_b", fakeStep{status: StatusSucceeded, message: "Job finished successfully."})
	c := newTestClient(t, srv, nil)
	ctx := context.Background()

	info, err := c.Job(ctx, "raysubmit_a")
	if err != nil || info.Status != StatusRunning || info.ID() != "raysubmit_a" || info.Entrypoint != "python main.py" {
		t.Fatalf("Job = %+v, %v", info, err)
	}
	logs, err := c.Logs(ctx, "raysubmit_a")
	if err != nil || logs != "hello\n" {
		t.Fatalf("Logs = %q, %v", logs, err)
	}
	jobs, err := c.List(ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("List = %+v, %v", jobs, err)
	}
	stopped, err := c.Stop(ctx, "raysubmit_a")
	if err != nil || !stopped {
		t.Fatalf("Stop = %v, %v", stopped, err)
	}
	stopped, err = c.Stop(ctx, "raysubmit_b")
	if err != nil || stopped {
		t.Fatalf("Stop of a finished job = %v, %v; want false", stopped, err)
	}
	v, err := c.Version(ctx)
	if err != nil || v.RayVersion != "2.51.1" {
		t.Fatalf("Version = %+v, %v", v, err)
	}
}

func TestListAcceptsLegacyObject(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"raysubmit_b": map[string]any{"status": "RUNNING", "entrypoint": "python main.py"},
			"raysubmit_a": map[string]any{"status": "SUCCEEDED", "entrypoint": "python main.py"},
		})
	}))
	defer srv.Close()
	c := newTestClient(t, srv, nil)
	jobs, err := c.List(context.Background())
	if err != nil || len(jobs) != 2 || jobs[0].ID() != "raysubmit_a" || jobs[1].Status != StatusRunning {
		t.Fatalf("List = %+v, %v", jobs, err)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRay(t)
	c := newTestClient(t, srv, nil)
	_, err := c.Job(context.Background(), "raysubmit_missing")
	var he *HTTPError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &he) || he.StatusCode != 404 {
		t.Fatalf("err = %#v, want a 404 *HTTPError", err)
	}
	if !strings.Contains(err.Error(), `job "raysubmit_missing" not found`) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("message = %q", err)
	}
	if n := f.count("GET /api/jobs/raysubmit_missing"); n != 1 {
		t.Errorf("a 404 was tried %d times; it must not be retried", n)
	}
	if _, err := c.Stop(context.Background(), "raysubmit_missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stop: err = %v", err)
	}
	if _, err := c.Follow(context.Background(), "raysubmit_missing", io.Discard); !errors.Is(err, ErrNotFound) {
		t.Errorf("Follow: err = %v", err)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failFirst int // requests answered 500 before the API answers
		call      func(*Client) error
		route     string
		wantCalls int
		wantErr   bool
	}{
		{"GET recovers after two 500s", 2, func(c *Client) error { _, err := c.Job(context.Background(), "raysubmit_a"); return err }, "GET /api/jobs/raysubmit_a", 3, false},
		{"GET gives up after MaxAttempts", 100, func(c *Client) error { _, err := c.Logs(context.Background(), "raysubmit_a"); return err }, "GET /api/jobs/raysubmit_a/logs", 3, true},
		{"submit is never retried", 100, func(c *Client) error {
			_, err := c.Submit(context.Background(), SubmitRequest{Entrypoint: "python main.py"})
			return err
		}, "POST /api/jobs/", 1, true},
		{"stop is never retried", 100, func(c *Client) error { _, err := c.Stop(context.Background(), "raysubmit_a"); return err }, "POST /api/jobs/raysubmit_a/stop", 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFakeRay(t)
			f.addJob("raysubmit_a", fakeStep{status: StatusRunning})
			failed := 0
			f.fail = func(w http.ResponseWriter, r *http.Request) bool {
				if failed >= tc.failFirst {
					return false
				}
				failed++
				http.Error(w, "Traceback (most recent call last):\n  ...\nRuntimeError: GCS unavailable", http.StatusInternalServerError)
				return true
			}
			c := newTestClient(t, srv, nil)
			err := tc.call(c)
			if n := f.count(tc.route); n != tc.wantCalls {
				t.Errorf("%s sent %d times, want %d", tc.route, n, tc.wantCalls)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var he *HTTPError
			if !errors.As(err, &he) || he.StatusCode != 500 || !strings.Contains(err.Error(), "500 Internal Server Error") || !strings.Contains(err.Error(), "GCS unavailable") {
				t.Fatalf("err = %v, want a 500 *HTTPError quoting the body", err)
			}
		})
	}
}

func TestRetryStopsWithinMaxElapsed(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRay(t)
	f.fail = func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	}
	c := newTestClient(t, srv, func(cfg *Config) {
		cfg.Retry = RetryPolicy{MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: time.Minute}
	})
	c.randUint = func() uint64 { return ^uint64(0) >> 1 } // the longest delay
	if _, err := c.Job(context.Background(), "x"); err == nil {
		t.Fatal("no error")
	}
	if calls, _, _ := f.snapshot(); len(calls) != 1 {
		t.Errorf("%d tries; a delay past MaxElapsed must end the retries", len(calls))
	}
}

func TestRetryHonoursContext(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRay(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.fail = func(w http.ResponseWriter, r *http.Request) bool {
		cancel() // the caller gives up while the client waits to retry
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	}
	c := newTestClient(t, srv, func(cfg *Config) {
		cfg.Retry = RetryPolicy{MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour, MaxElapsed: 10 * time.Hour}
	})
	_, err := c.Job(ctx, "x")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if calls, _, _ := f.snapshot(); len(calls) != 1 {
		t.Errorf("%d tries after the context was cancelled", len(calls))
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	t.Parallel()
	f, srv := newFakeRay(t)
	f.fail = f.hang
	tr := &countingTransport{next: srv.Client().Transport}
	c := newTestClient(t, srv, func(cfg *Config) {
		cfg.RequestTimeout = 20 * time.Millisecond
		cfg.Retry.MaxAttempts = 2
		cfg.HTTPClient = &http.Client{Transport: tr}
	})
	_, err := c.Job(context.Background(), "raysubmit_a")
	var te *TimeoutError
	if !errors.As(err, &te) || te.Limit != 20*time.Millisecond || !strings.Contains(err.Error(), "no response within 20ms") {
		t.Fatalf("err = %v, want a *TimeoutError", err)
	}
	if n := tr.count(); n != 2 {
		t.Errorf("a timed-out GET was tried %d times, want MaxAttempts = 2", n)
	}

	// A submit that times out is not retried: it may have started the job.
	_, err = c.Submit(context.Background(), SubmitRequest{Entrypoint: "python main.py"})
	if !errors.As(err, &te) {
		t.Fatalf("submit err = %v", err)
	}
	if n := tr.count(); n != 3 {
		t.Errorf("a timed-out submit was sent %d times, want once", n-2)
	}
}

func TestUnreachableCluster(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there now
	c, err := NewClient(Config{Address: addr, Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background())
	var ne *NetworkError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "cannot reach the cluster") {
		t.Fatalf("err = %v, want a *NetworkError", err)
	}
}

func TestNewClientRejectsBadAddress(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"", "ftp://head:8265", "http://"} {
		if _, err := NewClient(Config{Address: addr}); err == nil {
			t.Errorf("address %q accepted", addr)
		}
	}
	c, err := NewClient(Config{Address: "head-node:8265/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.url("/api/jobs/").String(); got != "http://head-node:8265/api/jobs/" {
		t.Errorf("url = %s", got)
	}
	c, _ = NewClient(Config{Address: "https://proxy.example/ray/"})
	if got := c.url("/api/jobs/" + "a%2Fb").String(); got != "https://proxy.example/ray/api/jobs/a%2Fb" {
		t.Errorf("url with prefix = %s", got)
	}
}

// TestSecretsNeverPrinted sends a token that the server echoes back in its
// error bodies, and checks that no error, String, format verb, JSON or slog
// output of the client's types contains it, while the request did carry it.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	const token = "tok_9f8e7d6c5b4a"
	f, srv := newFakeRay(t)
	f.fail = func(w http.ResponseWriter, r *http.Request) bool {
		// A proxy that echoes the request's headers in its error page.
		http.Error(w, "bad gateway; request had Authorization: "+r.Header.Get("Authorization"), http.StatusBadGateway)
		return true
	}
	h, err := ParseHeader("Authorization: Bearer $RAY_TOKEN", func(k string) (string, bool) {
		if k == "RAY_TOKEN" {
			return token, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Address: strings.Replace(srv.URL, "http://", "http://alice:hunter2pass@", 1),
		Headers: Headers{h, {Name: "X-Api-Key", Value: "key-123456789"}},
		Retry:   RetryPolicy{MaxAttempts: 1},
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	_, err = c.Job(context.Background(), "raysubmit_a")
	texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))

	f.fail = f.hang
	c2, _ := NewClient(Config{Address: cfg.Address, Headers: cfg.Headers, RequestTimeout: 10 * time.Millisecond, Retry: RetryPolicy{MaxAttempts: 1}})
	_, err = c2.Logs(context.Background(), "raysubmit_a")
	texts = append(texts, err.Error(), fmt.Sprintf("%#v", err))

	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := strings.Replace(dead.URL, "http://", "http://alice:hunter2pass@", 1)
	dead.Close()
	c3, _ := NewClient(Config{Address: deadAddr, Headers: cfg.Headers, Retry: RetryPolicy{MaxAttempts: 1}})
	_, err = c3.List(context.Background())
	texts = append(texts, err.Error())

	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("client", "header", h, "value", h.Value, "headers", cfg.Headers)
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("client", "value", h.Value)
	js, _ := json.Marshal(cfg.Headers)
	texts = append(texts, c.String(), fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprintf("%v %s %q %x %X %d", h.Value, h.Value, h.Value, h.Value, h.Value, h.Value),
		fmt.Sprintf("%v %+v %#v", h, cfg.Headers, h), string(js), logBuf.String())

	for _, text := range texts {
		for _, secret := range []string{token, "key-123456789", "hunter2pass"} {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q printed in: %s", secret, text)
			}
		}
	}
	if !strings.Contains(texts[0], "[REDACTED]") {
		t.Errorf("the echoed token was not replaced by [REDACTED]: %s", texts[0])
	}
	_, headers, _ := f.snapshot()
	if got := headers[0].Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Authorization sent as %q", got)
	}
	if got := headers[0].Get("X-Api-Key"); got != "key-123456789" {
		t.Errorf("X-Api-Key sent as %q", got)
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	env := map[string]string{"RAY_TOKEN": "abc123", "EMPTY": "", "NL": "a\nb"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, name, value, err string
	}{
		{in: "Authorization: Bearer $RAY_TOKEN", name: "Authorization", value: "Bearer abc123"},
		{in: "Authorization:Bearer ${RAY_TOKEN}x", name: "Authorization", value: "Bearer abc123x"},
		{in: "X-Cost: $$5 and $ and $1", name: "X-Cost", value: "$5 and $ and $1"},
		{in: "X-Empty: $EMPTY", name: "X-Empty", value: ""},
		{in: "Authorization: Bearer $NOPE", err: "environment variable NOPE is not set"},
		{in: "Authorization: ${RAY_TOKEN", err: "unterminated"},
		{in: "X-Bad: $NL", err: "line break"},
		{in: "no colon", err: "Name: value"},
		{in: "Bad Name: v", err: "not a valid HTTP header name"},
	}
	for _, tc := range tests {
		h, err := ParseHeader(tc.in, lookup)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "abc123") {
				t.Errorf("%q: error reveals a value: %v", tc.in, err)
			}
			continue
		}
		if err != nil || h.Name != tc.name || h.Value.Reveal() != tc.value {
			t.Errorf("%q = %q %q, %v; want %q %q", tc.in, h.Name, h.Value.Reveal(), err, tc.name, tc.value)
		}
	}
}

// TestPackageURIMatchesRay recomputes the URI with Ray's algorithm
// (packaging.py _hash_directory, transcribed to stdlib Python) for a folder
// with nested and empty subfolders.
func TestPackageURIMatchesRay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"main.py": "print('hi')\n", "README.md": "# job\n", "sub/data.txt": "x", "sub/deeper/y.bin": "\x00\x01",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	uri, err := PackageURI(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "gcs://_ray_pkg_") || len(uri) != len("gcs://_ray_pkg_")+16+len(".zip") {
		t.Fatalf("uri = %s", uri)
	}

	// Deterministic zip, readable, holding the files and the empty folder.
	z1, err := ZipPackage(dir)
	if err != nil {
		t.Fatal(err)
	}
	z2, _ := ZipPackage(dir)
	if !bytes.Equal(z1, z2) {
		t.Error("zipping the same folder twice gave different bytes")
	}
	zr, err := zip.NewReader(bytes.NewReader(z1), int64(len(z1)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if fmt.Sprint(names) != "[README.md empty/ main.py sub/data.txt sub/deeper/y.bin]" {
		t.Errorf("zip holds %v", names)
	}

	py, err := execLookPython()
	if err != nil {
		t.Skip("python3 not found; skipping the cross-check with Ray's algorithm")
	}
	const rayHash = `
import hashlib, sys
from pathlib import Path
def xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b)) if a and b else a or b
root = Path(sys.argv[1]).absolute()
h = b"0" * 8
def travel(p):
    global h
    s = hashlib.sha1(str(p.relative_to(root)).encode())
    if not p.is_dir():
        s.update(p.read_bytes())
    h = xor(h, s.digest())
    if p.is_dir():
        for c in p.iterdir():
            travel(c)
travel(root)
print("gcs://_ray_pkg_" + h.hex() + ".zip")
`
	out, err := runPython(py, rayHash, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.TrimSpace(out); got != uri {
		t.Errorf("Ray's algorithm gives %s, PackageURI %s", got, uri)
	}
}

func execLookPython() (string, error) { return exec.LookPath("python3") }

func runPython(py, code string, args ...string) (string, error) {
	out, err := exec.Command(py, append([]string{"-c", code}, args...)...).CombinedOutput()
	return string(out), err
}
