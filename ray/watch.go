package ray

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Log receives the job's log as it grows, complete lines only, as
	// Follow writes it; nil skips the log.
	Log io.Writer
	// NoData skips the Ray Data view (Follow's behaviour).
	NoData bool
	// OnPoll is called after every poll with what it saw; nil for none.
	OnPoll func(Snapshot)
	// Now is the clock, for tests; nil is time.Now.
	Now func() time.Time
}

// Snapshot is one poll of a watched job: its status and its datasets'
// operators with rates computed from the previous poll.
type Snapshot struct {
	At       time.Time
	Job      JobInfo
	Datasets []DatasetView
	// DataNote is one line when the Ray Data view could not be read (an
	// older Ray, a 503, the job not started yet); "" when it was.
	DataNote string
}

// DatasetView is a dataset as the watch draws it.
type DatasetView struct {
	DatasetInfo
	Ops []OpView
	// RowsPerSec is the dataset's output rows per second since the last
	// poll; HasRate is false until two polls saw ray_data_output_rows.
	RowsPerSec float64
	HasRate    bool
	// Bottleneck is this poll's verdict; Usual is the operator named most
	// often over the polls while the dataset ran, the one a record keeps.
	Bottleneck Bottleneck
	Usual      Bottleneck
	// PeakCPU and PeakGPU are the most cores seen in use (Prometheus's max
	// over its window, or any polled value above it); MeanCPU and MeanGPU
	// average the polled values while it ran. Has* say whether Prometheus
	// ever supplied them.
	PeakCPU, PeakGPU, MeanCPU, MeanGPU float64
	HasCPU, HasGPU                     bool
}

// OpView is an operator as the watch draws it.
type OpView struct {
	OperatorInfo
	RowsPerSec float64
	HasRate    bool
	// PeakCPU, PeakGPU and PeakBytes are the most cores and object store
	// bytes seen over the polls so far (any polled value or Prometheus
	// max), so a record keeps them after the operator ended and its
	// gauges fell back.
	PeakCPU, PeakGPU, PeakBytes float64
}

// Wall is the dataset's run time: end − start once it ended, else up to at.
func (d DatasetInfo) Wall(at time.Time) time.Duration {
	if d.StartTime <= 0 {
		return 0
	}
	end := d.EndTime
	if end <= 0 {
		end = float64(at.UnixNano()) / 1e9
	}
	return time.Duration(max(0, end-d.StartTime) * float64(time.Second))
}

// watcher keeps what a watch remembers between polls.
type watcher struct {
	prev     map[string]float64     // output rows by dataset or dataset/operator tag
	opPeaks  map[string]*[3]float64 // CPU, GPU, bytes by dataset/operator tag
	prevAt   time.Time
	samples  map[string]*coreSamples
	votes    map[string]map[string]int // dataset → bottleneck op → polls
	evidence map[string]map[string]string
}

type coreSamples struct {
	cpu, gpu   float64
	nCPU, nGPU int
	peakCPU    float64
	peakGPU    float64
	hasC, hasG bool
}

func newWatcher() *watcher {
	return &watcher{prev: map[string]float64{}, opPeaks: map[string]*[3]float64{}, samples: map[string]*coreSamples{},
		votes: map[string]map[string]int{}, evidence: map[string]map[string]string{}}
}

// observe turns one datasets answer into views, updating rates, core
// samples and bottleneck votes.
func (w *watcher) observe(ds []DatasetInfo, at time.Time) []DatasetView {
	dt := at.Sub(w.prevAt).Seconds()
	rate := func(key string, g Gauge) (float64, bool) {
		if !g.HasMax {
			return 0, false
		}
		old, ok := w.prev[key]
		w.prev[key] = g.Max
		if !ok || dt <= 0 || w.prevAt.IsZero() {
			return 0, false
		}
		return max(0, g.Max-old) / dt, true
	}
	views := make([]DatasetView, 0, len(ds))
	for _, d := range ds {
		v := DatasetView{DatasetInfo: d}
		v.RowsPerSec, v.HasRate = rate(d.Dataset, d.OutputRows)
		for _, o := range d.Operators {
			ov := OpView{OperatorInfo: o}
			ov.RowsPerSec, ov.HasRate = rate(d.Dataset+"/"+o.Operator, o.OutputRows)
			p := w.opPeaks[d.Dataset+"/"+o.Operator]
			if p == nil {
				p = &[3]float64{}
				w.opPeaks[d.Dataset+"/"+o.Operator] = p
			}
			for i, g := range []Gauge{o.CPUCores, o.GPUCores, o.CurrentBytes} {
				p[i] = max(p[i], g.Max, g.Value) // unknown gauges hold 0
			}
			ov.PeakCPU, ov.PeakGPU, ov.PeakBytes = p[0], p[1], p[2]
			v.Ops = append(v.Ops, ov)
		}
		s := w.samples[d.Dataset]
		if s == nil {
			s = &coreSamples{}
			w.samples[d.Dataset] = s
		}
		running := d.State == DataRunning
		for _, c := range []struct {
			g    Gauge
			sum  *float64
			n    *int
			peak *float64
			has  *bool
		}{{d.CPUCores, &s.cpu, &s.nCPU, &s.peakCPU, &s.hasC}, {d.GPUCores, &s.gpu, &s.nGPU, &s.peakGPU, &s.hasG}} {
			if c.g.HasMax {
				*c.peak, *c.has = max(*c.peak, c.g.Max), true
			}
			if c.g.HasValue {
				*c.peak, *c.has = max(*c.peak, c.g.Value), true
				if running {
					*c.sum += c.g.Value
					*c.n++
				}
			}
		}
		v.PeakCPU, v.PeakGPU, v.HasCPU, v.HasGPU = s.peakCPU, s.peakGPU, s.hasC, s.hasG
		if s.nCPU > 0 {
			v.MeanCPU = s.cpu / float64(s.nCPU)
		}
		if s.nGPU > 0 {
			v.MeanGPU = s.gpu / float64(s.nGPU)
		}
		v.Bottleneck = FindBottleneck(d.Operators)
		if running && v.Bottleneck.Op != "" {
			if w.votes[d.Dataset] == nil {
				w.votes[d.Dataset], w.evidence[d.Dataset] = map[string]int{}, map[string]string{}
			}
			w.votes[d.Dataset][v.Bottleneck.Op]++
			w.evidence[d.Dataset][v.Bottleneck.Op] = v.Bottleneck.Evidence
		}
		v.Usual = w.usual(d.Dataset, v.Bottleneck)
		views = append(views, v)
	}
	w.prevAt = at
	return views
}

// usual is the bottleneck named in most polls of dataset; with no votes it
// is the current verdict.
func (w *watcher) usual(dataset string, now Bottleneck) Bottleneck {
	votes := w.votes[dataset]
	best, n, total := "", 0, 0
	for op, k := range votes {
		total += k
		if k > n || k == n && op < best {
			best, n = op, k
		}
	}
	if best == "" {
		return now
	}
	return Bottleneck{Op: best, Known: true,
		Evidence: fmt.Sprintf("named in %d of %d polls while it ran; last: %s", n, total, w.evidence[dataset][best])}
}

// Watch polls job id (a submission ID) every PollInterval until it ends: its
// status, its log (when opts.Log is set) and, once Ray has given it a job
// ID, its datasets from the dashboard's Ray Data view. Rates come from the
// difference between polls. A cluster without the Ray Data view, or one that
// answers it with a 503, gets a one-line DataNote and the rest goes on.
//
// It returns the last Snapshot, and a *JobError when the job ended FAILED or
// STOPPED.
func (c *Client) Watch(ctx context.Context, id string, opts WatchOptions) (Snapshot, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	lw := &logWriter{w: opts.Log}
	w := newWatcher()
	t := time.NewTicker(c.poll)
	defer t.Stop()
	var snap Snapshot
	for {
		info, err := c.Job(ctx, id)
		if err != nil {
			return snap, err
		}
		terminal := info.Status.Terminal()
		if opts.Log != nil {
			logs, err := c.Logs(ctx, id)
			if err != nil {
				return snap, err
			}
			if err := lw.emit(logs, terminal); err != nil {
				return snap, fmt.Errorf("ray: writing the job's log: %w", err)
			}
		}
		snap = Snapshot{At: now(), Job: info}
		if !opts.NoData {
			snap.Datasets, snap.DataNote = c.pollData(ctx, info, w, snap.At)
		}
		if opts.OnPoll != nil {
			opts.OnPoll(snap)
		}
		if terminal {
			if info.Status == StatusSucceeded {
				return snap, nil
			}
			return snap, &JobError{JobID: id, Status: info.Status, Message: info.Message, ErrorType: info.ErrorType}
		}
		select {
		case <-ctx.Done():
			return snap, fmt.Errorf("ray: watching job %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// pollData reads the job's datasets; any failure becomes the one-line note,
// because the job's status and log matter more than its metrics.
func (c *Client) pollData(ctx context.Context, info JobInfo, w *watcher, at time.Time) ([]DatasetView, string) {
	if info.JobID == "" {
		return nil, "no Ray Data metrics yet: the job has no Ray job ID until it starts"
	}
	ds, err := c.Datasets(ctx, info.JobID)
	switch {
	case err != nil:
		return nil, Note(err)
	case len(ds) == 0:
		return nil, "no datasets yet: Ray Data registers a dataset when it starts executing"
	}
	return w.observe(ds, at), ""
}

// logWriter writes a growing log once: complete lines as they come, the
// unterminated tail when the job ends.
type logWriter struct {
	w       io.Writer
	printed string // always whole lines
}

func (l *logWriter) emit(logs string, final bool) error {
	if !strings.HasPrefix(logs, l.printed) {
		// Ray's log for a job only grows; if it did not, say so rather
		// than print a garbled diff.
		if _, err := io.WriteString(l.w, "[workbench: the job's log was truncated or rotated; printing it again]\n"); err != nil {
			return err
		}
		l.printed = ""
	}
	fresh := logs[len(l.printed):]
	if !final {
		fresh = fresh[:strings.LastIndexByte(fresh, '\n')+1]
	} else if fresh != "" && !strings.HasSuffix(fresh, "\n") {
		fresh += "\n"
	}
	if fresh == "" {
		return nil
	}
	_, err := io.WriteString(l.w, fresh)
	l.printed += fresh // after a final emit, nothing more is written
	return err
}

// Tracker turns successive datasets answers into views with rates, core
// averages and bottleneck votes, for a caller that polls on its own
// schedule (the TUI) rather than through Watch.
type Tracker struct{ w *watcher }

// NewTracker returns a Tracker that has seen nothing yet.
func NewTracker() *Tracker { return &Tracker{w: newWatcher()} }

// Observe adds one poll taken at at and returns its views.
func (t *Tracker) Observe(ds []DatasetInfo, at time.Time) []DatasetView { return t.w.observe(ds, at) }

// Note is the one line a poll error becomes on a status line: a cluster
// without the Ray Data view, a 503, or any other failure; "" for nil.
func Note(err error) string {
	var dv *DataViewError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &dv):
		return dv.Error()
	}
	// An auth error carries its advice on a line of its own.
	return "no Ray Data metrics this poll: " + strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
