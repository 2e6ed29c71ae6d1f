package ray

// The endpoints and JSON shapes follow the Ray Jobs REST API as documented for
// Ray 2.4x–2.5x (docs.ray.io/en/latest/cluster/running-applications/
// job-submission/rest.html and its OpenAPI page api.html) and as Ray's own
// JobSubmissionClient uses them (python/ray/dashboard/modules/job/sdk.py,
// job_head.py):
//
//	GET  /api/version                        → {version, ray_version, ray_commit}
//	POST /api/jobs/                          → {submission_id, job_id}
//	GET  /api/jobs/                          → [JobDetails…]
//	GET  /api/jobs/{id}                      → JobDetails, 404 if unknown
//	GET  /api/jobs/{id}/logs                 → {logs}
//	POST /api/jobs/{id}/stop                 → {stopped}
//	GET  /api/packages/{protocol}/{name}     → 200 if the package exists, 404 if not
//	PUT  /api/packages/{protocol}/{name}     ← the zip's bytes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Config configures a Client. Zero fields take the documented defaults.
type Config struct {
	// Address is the Ray dashboard's HTTP address, e.g.
	// "http://head-node:8265". A path prefix (for a proxy) is kept.
	Address string
	// Headers go on every request. Their values never appear in errors or
	// String output.
	Headers Headers
	// HTTPClient sends the requests; nil uses a new http.Client. Per-request
	// timeouts come from RequestTimeout, not from HTTPClient.Timeout.
	HTTPClient *http.Client
	// RequestTimeout bounds each request (default 30s); UploadTimeout bounds
	// a package upload, which may be hundreds of MiB (default 10m).
	RequestTimeout time.Duration
	UploadTimeout  time.Duration
	// Retry governs retries of GET requests. POSTs and PUTs are never
	// retried: a submit or stop that reached the server must not run twice.
	Retry RetryPolicy
	// PollInterval is how often Follow and Watch ask for status, logs and
	// dataset metrics (default 2s).
	PollInterval time.Duration
	// Auth describes where the Authorization header's token came from, for
	// the hint a 401 or 403 carries; it holds no token itself.
	Auth Auth
}

// Format prints the config with URL credentials and header values redacted,
// for every verb, so a config can be logged safely.
func (c Config) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "ray.Config{Address: %s, Headers: %v, RequestTimeout: %v, UploadTimeout: %v, Retry: %+v, PollInterval: %v}",
		redactURLString(c.Address), c.Headers, c.RequestTimeout, c.UploadTimeout, c.Retry, c.PollInterval)
}

// RetryPolicy bounds the retries of a GET that failed with a network error, a
// timeout, a 5xx, a 408 or a 429. Delays grow exponentially from BaseDelay to
// MaxDelay with full jitter; retrying stops after MaxAttempts tries in all or
// once the next delay would pass MaxElapsed since the first try.
type RetryPolicy struct {
	MaxAttempts int           // default 4; 1 disables retries
	BaseDelay   time.Duration // default 250ms
	MaxDelay    time.Duration // default 4s
	MaxElapsed  time.Duration // default 30s
}

// Defaults for Config and RetryPolicy.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultUploadTimeout  = 10 * time.Minute
	DefaultPollInterval   = 2 * time.Second
)

// Client talks to one Ray cluster's Jobs REST API. It is safe for concurrent
// use.
type Client struct {
	base     *url.URL
	headers  Headers
	secrets  []string
	hc       *http.Client
	timeout  time.Duration
	upload   time.Duration
	retry    RetryPolicy
	poll     time.Duration
	auth     Auth
	randUint func() uint64
}

// NewClient checks cfg and returns a Client. It sends nothing.
func NewClient(cfg Config) (*Client, error) {
	addr := strings.TrimSpace(cfg.Address)
	if addr == "" {
		return nil, errors.New("ray: no cluster address (want e.g. http://head-node:8265)")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("ray: cluster address %q: want http(s)://host:port", redactURLString(addr))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		base:     u,
		headers:  append(Headers(nil), cfg.Headers...),
		hc:       cfg.HTTPClient,
		timeout:  orDefault(cfg.RequestTimeout, DefaultRequestTimeout),
		upload:   orDefault(cfg.UploadTimeout, DefaultUploadTimeout),
		poll:     orDefault(cfg.PollInterval, DefaultPollInterval),
		retry:    cfg.Retry.withDefaults(),
		auth:     cfg.Auth,
		randUint: rand.Uint64,
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	for _, h := range c.headers {
		if !validHeaderName(h.Name) {
			return nil, fmt.Errorf("ray: header name %q is not a valid HTTP header name", h.Name)
		}
		if strings.ContainsAny(h.Value.Reveal(), "\r\n\x00") {
			return nil, fmt.Errorf("ray: header %s: value contains a line break or NUL", h.Name)
		}
		c.secrets = append(c.secrets, secretForms(h.Value.Reveal())...)
	}
	return c, nil
}

// String describes the client without revealing header values or URL
// credentials.
func (c *Client) String() string {
	return fmt.Sprintf("ray.Client{address: %s, headers: %v}", c.base.Redacted(), c.headers)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	p.BaseDelay = orDefault(p.BaseDelay, 250*time.Millisecond)
	p.MaxDelay = orDefault(p.MaxDelay, 4*time.Second)
	p.MaxElapsed = orDefault(p.MaxElapsed, 30*time.Second)
	return p
}

// secretForms returns what to scrub from echoed text for one header value:
// the value and each long word of it (the token of "Bearer <token>").
func secretForms(v string) []string {
	forms := []string{v}
	for _, f := range strings.Fields(v) {
		if len(f) >= 8 && f != v {
			forms = append(forms, f)
		}
	}
	return forms
}

// JobStatus is a Ray job's state.
type JobStatus string

// The job states Ray reports.
const (
	StatusPending   JobStatus = "PENDING"
	StatusRunning   JobStatus = "RUNNING"
	StatusStopped   JobStatus = "STOPPED"
	StatusSucceeded JobStatus = "SUCCEEDED"
	StatusFailed    JobStatus = "FAILED"
)

// Terminal reports whether the job will not change state again.
func (s JobStatus) Terminal() bool {
	return s == StatusStopped || s == StatusSucceeded || s == StatusFailed
}

// JobInfo is Ray's JobDetails: one job's state and what it was submitted
// with. Times are Unix milliseconds, 0 when unset.
type JobInfo struct {
	Type           string            `json:"type"`
	JobID          string            `json:"job_id"`
	SubmissionID   string            `json:"submission_id"`
	Status         JobStatus         `json:"status"`
	Entrypoint     string            `json:"entrypoint"`
	Message        string            `json:"message"`
	ErrorType      string            `json:"error_type"`
	StartTime      int64             `json:"start_time"`
	EndTime        int64             `json:"end_time"`
	Metadata       map[string]string `json:"metadata"`
	RuntimeEnv     map[string]any    `json:"runtime_env"`
	DriverExitCode *int              `json:"driver_exit_code"`
}

// ID returns the submission ID, or the job ID for a job that was not
// submitted through the Jobs API.
func (j JobInfo) ID() string {
	if j.SubmissionID != "" {
		return j.SubmissionID
	}
	return j.JobID
}

// VersionInfo is the cluster's answer to GET /api/version.
type VersionInfo struct {
	Version    string `json:"version"` // the Jobs API version
	RayVersion string `json:"ray_version"`
	RayCommit  string `json:"ray_commit"`
}

// SubmitRequest is the body of POST /api/jobs/. Zero fields are left out, as
// Ray's SDK strips None values.
type SubmitRequest struct {
	Entrypoint        string            `json:"entrypoint"`
	SubmissionID      string            `json:"submission_id,omitempty"`
	RuntimeEnv        *RuntimeEnv       `json:"runtime_env,omitempty"`
	Metadata          map[string]string `json:"metadata,omitempty"`
	EntrypointNumCPUs float64           `json:"entrypoint_num_cpus,omitempty"`
	EntrypointNumGPUs float64           `json:"entrypoint_num_gpus,omitempty"`
}

// RuntimeEnv is the subset of Ray's runtime_env the workbench uses.
// WorkingDir may be a local folder: Submit uploads it and sends the
// gcs://_ray_pkg_….zip URI instead, as `ray job submit` does.
type RuntimeEnv struct {
	WorkingDir string            `json:"working_dir,omitempty"`
	Pip        []string          `json:"pip,omitempty"`
	EnvVars    map[string]string `json:"env_vars,omitempty"`
}

// Version asks the cluster for its Jobs API and Ray versions; it doubles as
// a connectivity check.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v VersionInfo
	err := c.doJSON(ctx, request{method: http.MethodGet, path: "/api/version"}, &v)
	return v, err
}

// Submit starts a job and returns its submission ID. A local
// RuntimeEnv.WorkingDir is uploaded first (see UploadPackage). Submit is
// never retried.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (string, error) {
	if strings.TrimSpace(req.Entrypoint) == "" {
		return "", errors.New("ray: submit: empty entrypoint")
	}
	if req.RuntimeEnv != nil && req.RuntimeEnv.WorkingDir != "" && !isURI(req.RuntimeEnv.WorkingDir) {
		uri, err := c.UploadPackage(ctx, req.RuntimeEnv.WorkingDir)
		if err != nil {
			return "", err
		}
		env := *req.RuntimeEnv
		env.WorkingDir = uri
		req.RuntimeEnv = &env
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", fmt.Errorf("ray: submit: %w", err)
	}
	var resp struct {
		SubmissionID string `json:"submission_id"`
		JobID        string `json:"job_id"` // deprecated alias, still sent
	}
	if err := c.doJSON(ctx, request{method: http.MethodPost, path: "/api/jobs/", body: body, contentType: "application/json"}, &resp); err != nil {
		return "", err
	}
	if resp.SubmissionID != "" {
		return resp.SubmissionID, nil
	}
	if resp.JobID != "" {
		return resp.JobID, nil
	}
	return "", errors.New("ray: submit: the cluster answered without a submission_id")
}

// Job returns one job's details. A job the cluster does not know is an
// *HTTPError matching ErrNotFound.
func (c *Client) Job(ctx context.Context, id string) (JobInfo, error) {
	var j JobInfo
	err := c.doJSON(ctx, request{method: http.MethodGet, path: "/api/jobs/" + url.PathEscape(id), jobID: id}, &j)
	return j, err
}

// Logs returns everything the job's driver has printed so far.
func (c *Client) Logs(ctx context.Context, id string) (string, error) {
	var resp struct {
		Logs string `json:"logs"`
	}
	err := c.doJSON(ctx, request{method: http.MethodGet, path: "/api/jobs/" + url.PathEscape(id) + "/logs", jobID: id}, &resp)
	return resp.Logs, err
}

// Stop asks the cluster to stop a job. It reports whether the job was still
// running (false: it had already ended). Stop is never retried.
func (c *Client) Stop(ctx context.Context, id string) (bool, error) {
	var resp struct {
		Stopped bool `json:"stopped"`
	}
	err := c.doJSON(ctx, request{method: http.MethodPost, path: "/api/jobs/" + url.PathEscape(id) + "/stop", jobID: id}, &resp)
	return resp.Stopped, err
}

// List returns every job the cluster knows, submitted or not, in the
// cluster's order. (Ray before 2.0 answered with an object keyed by job ID;
// that shape is accepted too, sorted by ID.)
func (c *Client) List(ctx context.Context) ([]JobInfo, error) {
	req := request{method: http.MethodGet, path: "/api/jobs/"}
	body, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var byID map[string]JobInfo
		if err := json.Unmarshal(trimmed, &byID); err != nil {
			return nil, c.decodeError(req, err)
		}
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		jobs := make([]JobInfo, 0, len(ids))
		for _, id := range ids {
			j := byID[id]
			if j.SubmissionID == "" && j.JobID == "" {
				j.SubmissionID = id
			}
			jobs = append(jobs, j)
		}
		return jobs, nil
	}
	var jobs []JobInfo
	if err := json.Unmarshal(trimmed, &jobs); err != nil {
		return nil, c.decodeError(req, err)
	}
	return jobs, nil
}

// request is one call to the cluster.
type request struct {
	method, path string
	body         []byte
	contentType  string
	jobID        string        // for 404 messages
	timeout      time.Duration // 0 = the client's RequestTimeout
	noRetry      bool          // a poll: the next poll is the retry
}

// doJSON sends req and decodes a 2xx body into out.
func (c *Client) doJSON(ctx context.Context, req request, out any) error {
	body, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return c.decodeError(req, err)
	}
	return nil
}

func (c *Client) decodeError(req request, err error) error {
	return fmt.Errorf("ray: %s %s: unexpected response body: %w", req.method, c.redactedURL(req.path), err)
}

// maxBody bounds a response body read into memory; a job's whole log is the
// largest thing the API returns.
const maxBody = 256 << 20

// do sends req, retrying GETs per the retry policy, and returns the body of a
// 2xx response. Any other outcome is an *HTTPError, *NetworkError,
// *TimeoutError, or the caller's context error.
func (c *Client) do(ctx context.Context, req request) ([]byte, error) {
	attempts := 1
	if req.method == http.MethodGet && !req.noRetry {
		attempts = c.retry.MaxAttempts
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		body, err := c.once(ctx, req)
		if err == nil || attempt >= attempts || !retryable(err) {
			return body, err
		}
		delay := c.backoff(attempt)
		if time.Since(start)+delay > c.retry.MaxElapsed {
			return nil, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("ray: %s %s: %w (after: %v)", req.method, c.redactedURL(req.path), ctx.Err(), err)
		case <-t.C:
		}
	}
}

// backoff is the delay before retry number attempt (1-based): a uniformly
// random duration up to min(MaxDelay, BaseDelay·2^(attempt-1)) ("full
// jitter"), so clients that failed together do not retry together.
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.retry.BaseDelay << min(attempt-1, 30)
	if ceil <= 0 || ceil > c.retry.MaxDelay {
		ceil = c.retry.MaxDelay
	}
	return time.Duration(c.randUint() % uint64(ceil+1))
}

// retryable reports whether a failed GET may succeed if tried again.
func retryable(err error) bool {
	var ne *NetworkError
	var te *TimeoutError
	var he *HTTPError
	switch {
	case errors.As(err, &ne), errors.As(err, &te):
		return true
	case errors.As(err, &he):
		return he.StatusCode >= 500 || he.StatusCode == http.StatusTooManyRequests || he.StatusCode == http.StatusRequestTimeout
	}
	return false
}

// errRequestTimeout marks a request context that ran out of its own time,
// as opposed to the caller's.
var errRequestTimeout = errors.New("ray: request timeout")

// once sends req a single time.
func (c *Client) once(ctx context.Context, req request) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ray: %s %s: %w", req.method, c.redactedURL(req.path), err)
	}
	timeout := req.timeout
	if timeout <= 0 {
		timeout = c.timeout
	}
	rctx, cancel := context.WithTimeoutCause(ctx, timeout, errRequestTimeout)
	defer cancel()
	u := c.url(req.path)
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(rctx, req.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("ray: %s %s: %w", req.method, u.Redacted(), err)
	}
	for _, h := range c.headers {
		hr.Header.Add(h.Name, h.Value.Reveal())
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "workbench-ray-client")
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	resp, err := c.hc.Do(hr)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err == nil {
			if resp.StatusCode/100 != 2 {
				he := &HTTPError{Method: req.method, URL: u.Redacted(), StatusCode: resp.StatusCode, Body: excerpt(b, c.secrets), JobID: req.jobID}
				if he.Unauthorized() {
					he.Hint = c.auth.Hint()
				}
				return nil, he
			}
			return b, nil
		}
	}
	// No complete response: say whose deadline it was.
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("ray: %s %s: %w", req.method, u.Redacted(), ctx.Err())
	case errors.Is(context.Cause(rctx), errRequestTimeout):
		return nil, &TimeoutError{Method: req.method, URL: u.Redacted(), Limit: timeout}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the URL, credentials included
	}
	return nil, &NetworkError{Method: req.method, URL: u.Redacted(), Err: err}
}

// url joins path onto the base address.
func (c *Client) url(path string) *url.URL {
	u := *c.base
	// path is already escaped (ids go through url.PathEscape); keep it so.
	u.RawPath = c.base.EscapedPath() + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		p = u.RawPath
	}
	u.Path = p
	return &u
}

func (c *Client) redactedURL(path string) string { return c.url(path).Redacted() }

// redactURLString hides the password of a URL given as text.
func redactURLString(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparseable address)"
}
