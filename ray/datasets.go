package ray

// The Ray dashboard's Ray Data view comes from one endpoint,
// GET /api/data/datasets/{job_id}, served by
// python/ray/dashboard/modules/data/data_head.py (ray-project/ray, Ray 2.9
// onwards; read at commit 2c327605f28c). Its answer is
//
//	{"datasets": [{"dataset": tag, "job_id", "state", "progress", "total",
//	  "total_rows", "start_time", "end_time", "operators": [{"operator": tag,
//	  "name", "state", "progress", "total", "total_rows", "queued_blocks",
//	  <metrics>}], <metrics>}]}
//
// newest start_time first. state, progress, total, start/end time and the
// operator list come from Ray Data's _StatsActor (python/ray/data/_internal/
// stats.py); total_rows, name and queued_blocks only from newer releases.
// The metrics are Prometheus queries: ray_data_output_rows {max},
// ray_data_spilled_bytes {max}, and ray_data_current_bytes,
// ray_data_cpu_usage_cores, ray_data_gpu_usage_cores {value, max}. Each is
// initialised to the number 0 and replaced by Prometheus's value, which is a
// string ("12.5"), when Prometheus answers. So a number means "Prometheus
// had nothing", never a measured zero. Any failure inside the handler is a
// 503 with the exception's text; a Ray without the module is a 404.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Gauge is one of data_head.py's metric objects. Value is the current sum
// over the dataset or operator, Max its maximum over the last hour. Known
// flags say whether Prometheus supplied each: Ray's placeholder for
// "nothing from Prometheus" is the number 0, which decodes as unknown.
type Gauge struct {
	Value, Max       float64
	HasValue, HasMax bool
}

// UnmarshalJSON reads {"value": …, "max": …}, where each member is either
// Ray's number placeholder or Prometheus's string.
func (g *Gauge) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("metric: %w", err)
	}
	var err error
	if g.Value, g.HasValue, err = promValue(raw["value"]); err != nil {
		return err
	}
	g.Max, g.HasMax, err = promValue(raw["max"])
	return err
}

// promValue decodes one member: a JSON string is Prometheus's sample value
// (which may be "NaN" or "+Inf": unknown too); anything else is the
// placeholder.
func promValue(m json.RawMessage) (float64, bool, error) {
	m = bytes.TrimSpace(m)
	if len(m) == 0 || m[0] != '"' {
		return 0, false, nil
	}
	var s string
	if err := json.Unmarshal(m, &s); err != nil {
		return 0, false, err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("metric value %q: %w", s, err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, nil
	}
	return v, true, nil
}

// DataMetrics are the Prometheus-backed metrics data_head.py attaches to a
// dataset and to each operator.
type DataMetrics struct {
	OutputRows   Gauge `json:"ray_data_output_rows"`   // max only: a running count
	SpilledBytes Gauge `json:"ray_data_spilled_bytes"` // max only
	CurrentBytes Gauge `json:"ray_data_current_bytes"` // object store bytes held now
	CPUCores     Gauge `json:"ray_data_cpu_usage_cores"`
	GPUCores     Gauge `json:"ray_data_gpu_usage_cores"`
}

// Known reports whether Prometheus supplied any metric at all; false on a
// cluster without Prometheus (or before its first scrape).
func (m DataMetrics) Known() bool {
	for _, g := range []Gauge{m.OutputRows, m.SpilledBytes, m.CurrentBytes, m.CPUCores, m.GPUCores} {
		if g.HasValue || g.HasMax {
			return true
		}
	}
	return false
}

// The states Ray Data reports for a dataset or operator (DatasetState in
// stats.py; releases before it said RUNNING, FINISHED and FAILED only).
const (
	DataPending  = "PENDING"
	DataRunning  = "RUNNING"
	DataFinished = "FINISHED"
	DataFailed   = "FAILED"
)

// OperatorInfo is one physical operator of a dataset. Operator is Ray's tag,
// "<name>_<index>" ("MapBatches(Predictor)_2"); Name is the bare name,
// which older releases leave out (Label falls back to the tag). Progress is
// finished tasks out of Total expected outputs (blocks). QueuedBlocks is the
// blocks waiting at its input, nil where the release does not report it.
type OperatorInfo struct {
	Operator     string `json:"operator"`
	Name         string `json:"name"`
	State        string `json:"state"`
	Progress     int64  `json:"progress"`
	Total        int64  `json:"total"`
	TotalRows    int64  `json:"total_rows"`
	QueuedBlocks *int64 `json:"queued_blocks"`
	DataMetrics
}

// Label is the operator's display name: Name, else the tag.
func (o OperatorInfo) Label() string {
	if o.Name != "" {
		return o.Name
	}
	return o.Operator
}

// DatasetInfo is one dataset a job executed. Dataset is Ray's tag,
// "<name>_<uuid>_<run>" where name is what Dataset.set_name gave, else
// "dataset". Times are Unix seconds; EndTime is 0 while it runs.
type DatasetInfo struct {
	Dataset   string         `json:"dataset"`
	JobID     string         `json:"job_id"`
	State     string         `json:"state"`
	Progress  int64          `json:"progress"`
	Total     int64          `json:"total"`
	TotalRows int64          `json:"total_rows"`
	StartTime float64        `json:"start_time"`
	EndTime   float64        `json:"end_time"`
	Operators []OperatorInfo `json:"operators"`
	DataMetrics
}

// Named reports whether the dataset's tag was made from name, as export's
// Dataset.set_name(name) makes it.
func (d DatasetInfo) Named(name string) bool {
	return name != "" && strings.HasPrefix(d.Dataset, name+"_")
}

// ErrNoDataView matches (errors.Is) a datasets request the cluster cannot
// answer: a Ray without the data module (404) or one whose handler failed
// (503, e.g. the stats actor is not up yet). The rest of a watch goes on.
var ErrNoDataView = errors.New("the Ray dashboard has no Ray Data view for this job")

// DataViewError is a datasets request the cluster did not answer.
type DataViewError struct{ Err *HTTPError }

// Error is one line, suited to a status line: what is missing and why.
func (e *DataViewError) Error() string {
	switch e.Err.StatusCode {
	case http.StatusNotFound:
		return "no Ray Data metrics: this cluster's dashboard has no /api/data/datasets (Ray before 2.9, or a minimal install without the dashboard's data module)"
	}
	return fmt.Sprintf("no Ray Data metrics yet: the dashboard answered %d %s (%s)", e.Err.StatusCode, http.StatusText(e.Err.StatusCode), e.Err.Body)
}

// Is makes errors.Is(err, ErrNoDataView) true.
func (e *DataViewError) Is(target error) bool { return target == ErrNoDataView }

// Unwrap returns the HTTP error.
func (e *DataViewError) Unwrap() error { return e.Err }

// Datasets returns the datasets Ray job jobID (Ray's job ID, as in
// JobInfo.JobID, not the submission ID) has executed, newest first. A 404 or
// 503 is a *DataViewError matching ErrNoDataView. It is not retried: the
// caller polls again anyway, and a 503 here is usually not transient
// within one poll.
func (c *Client) Datasets(ctx context.Context, jobID string) ([]DatasetInfo, error) {
	if jobID == "" {
		return nil, errors.New("ray: datasets: the job has no Ray job ID yet (it is still PENDING)")
	}
	req := request{method: http.MethodGet, path: "/api/data/datasets/" + url.PathEscape(jobID), noRetry: true}
	body, err := c.do(ctx, req)
	var he *HTTPError
	if errors.As(err, &he) && (he.StatusCode == http.StatusNotFound || he.StatusCode == http.StatusServiceUnavailable) {
		return nil, &DataViewError{Err: he}
	}
	if err != nil {
		return nil, err
	}
	var resp struct {
		Datasets []DatasetInfo `json:"datasets"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, c.decodeError(req, err)
	}
	return resp.Datasets, nil
}
