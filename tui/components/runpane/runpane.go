// Package runpane is one side of a race: a live view of one run built from
// the pipeline's event stream. It charts throughput and telemetry, shows
// progress with an ETA, lists the operators the way Ray's progress lines do
// with the bottleneck highlighted, and counts model loads, batches and
// errors. Its numbers have the record's definitions: the headline is the
// overall throughput so far (rows done over time since the start), the
// latest chart window is labelled "now", the drain tail (once only the sink
// has work left) is kept out of the chart and its peak, and once the run
// ends every figure shown is the record's, formatted by bench's metrics
// registry. It never reads a clock: everything it shows comes from events and
// the final record, so the same events always draw the same pane.
package runpane

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/tui/common"
	"workbench/tui/components/chart"
)

// Status is where the pane's run is.
type Status int

// Pane statuses.
const (
	Waiting Status = iota
	Running
	Done
	Failed
)

func (s Status) String() string {
	return [...]string{"waiting", "running", "done", "failed"}[s]
}

// Model is one run's pane.
type Model struct {
	common common.Common
	// Side is the pane's mark ("A", "B"); Name the scenario; Label its
	// knobs.
	Side, Name, Label string
	accent            lipgloss.Style
	gpu               bool
	cores             int

	status               Status
	tput, cpu, rss       chart.Model
	gpuUtil, gpuMem      chart.Model
	snap                 *pipeline.Snapshot
	prevAt               time.Duration
	prevRows             int64
	prevOp               map[string]int64
	opRate               map[string]float64
	loads, batches, errs int64
	// loadsStarted is the job's live count of model loads begun (a
	// pipeline.Stat); batchSize, from a Stat or SetBatchSize, turns rows
	// into batches planned.
	loadsStarted, batchSize int64
	// drain is true once the run entered its drain tail.
	drain bool
	// restarts and retries are the inference pool's recovery from failing
	// actors; shown only when there was any.
	restarts, retries int64
	rec               *bench.Record
	err               error
	diag              string
	// version counts changes; View redraws only when it or the size moved,
	// because a bordered pane is the costliest thing on screen.
	version   int
	viewKey   [4]int
	viewCache string
}

// New returns a waiting pane. gpu selects GPU charts over CPU and RSS;
// cores scales CPU percentages to the machine.
func New(c common.Common, side, name, label string, accent lipgloss.Style, gpu bool, cores int) Model {
	s := c.Styles
	m := Model{common: c, Side: side, Name: name, Label: label, accent: accent, gpu: gpu, cores: max(cores, 1),
		prevOp: map[string]int64{}, opRate: map[string]float64{}}
	m.tput = chart.New(c, "throughput", common.Rate, accent)
	m.cpu = chart.New(c, "CPU", common.Pct, s.CPUChart)
	m.cpu.Max = 100
	m.cpu.ValueStyle = s.Util
	m.rss = chart.New(c, "RSS", common.Bytes, s.MemChart)
	m.gpuUtil = chart.New(c, "GPU util", common.Pct, s.CPUChart)
	m.gpuUtil.Max = 100
	m.gpuUtil.ValueStyle = s.Util
	m.gpuMem = chart.New(c, "GPU mem", common.Pct, s.MemChart)
	m.gpuMem.Max = 100
	m.gpuMem.ValueStyle = s.MemUsed
	return m
}

// SetBatchSize tells the pane the run's batch size, so it can say how many
// batches are planned before the job publishes its own (0: unknown).
func (m *Model) SetBatchSize(n int) {
	if m.batchSize == 0 {
		m.batchSize = int64(n)
	}
	m.version++
}

// SetCommon hands the pane new sizes and styles.
func (m *Model) SetCommon(c common.Common) {
	m.common = c
	m.version++
}

// Status reports where the run is.
func (m *Model) Status() Status { return m.status }

// Start marks the run as started.
func (m *Model) Start() {
	m.status = Running
	m.version++
}

// Apply folds one event into the pane.
func (m *Model) Apply(ev pipeline.Event) {
	m.version++
	if ev.Snapshot != nil {
		m.applySnapshot(ev.Snapshot)
	}
	switch p := ev.Payload.(type) {
	case pipeline.Stat:
		m.applyStat(p)
	case nvml.Sample:
		m.applySample(p)
	case *nvml.Sample:
		m.applySample(*p)
	}
}

// minRateInterval is the shortest span a throughput point is computed over.
const minRateInterval = 100 * time.Millisecond

// Stat names the pane understands (classify's, by value: the pane knows no
// job).
const (
	statModelLoadsStarted = "model_loads_started"
	statBatchSize         = "batch_size"
)

func (m *Model) applyStat(st pipeline.Stat) {
	switch st.Name {
	case statModelLoadsStarted:
		m.loadsStarted = max(m.loadsStarted, st.Value)
		m.loads = max(m.loads, m.loadsStarted)
	case statBatchSize:
		m.batchSize = st.Value
	}
}

// Draining reports whether s is in the run's drain tail: the run is done,
// every row has reached the sink, or every operator but the sink has
// finished all its rows. What is left then is the sink flushing and the
// last batches trickling out, which the record's steady windows leave out
// too (only whole windows count); charted, it reads as a spike or a cliff
// that a user takes for the run's speed.
func Draining(s *pipeline.Snapshot) bool {
	if s.Done || (s.RowsTotal > 0 && s.RowsDone >= s.RowsTotal) {
		return true
	}
	if s.RowsTotal <= 0 || len(s.Ops) < 2 {
		return false
	}
	for _, op := range s.Ops[:len(s.Ops)-1] {
		if op.Metrics.RowsOut < s.RowsTotal {
			return false
		}
	}
	return true
}

// modelOp is the operator whose batches the pane counts: the last one
// before the sink that counts batches (the model stage in a job shaped
// read → preprocess → infer → write), or the last one that does.
func modelOp(ops []pipeline.OpSnapshot) int {
	last := -1
	for i, op := range ops {
		if op.Metrics.Batches > 0 && (i < len(ops)-1 || last < 0) {
			last = i
		}
	}
	return last
}

func (m *Model) applySnapshot(s *pipeline.Snapshot) {
	if m.status == Waiting {
		m.status = Running
	}
	m.drain = m.drain || Draining(s)
	// A rate over a sliver of time is noise: the final snapshot follows the
	// previous one by milliseconds and carries the writer's last block, so
	// it would chart as a spike that flattens the rest. Such a snapshot
	// updates the counters but adds no chart point, and neither does one in
	// the drain tail.
	if dt := s.At - m.prevAt; dt >= minRateInterval {
		if !m.drain {
			m.tput.Push(float64(s.RowsDone-m.prevRows) / dt.Seconds())
		}
		for _, op := range s.Ops {
			m.opRate[op.Name] = float64(op.Metrics.RowsOut-m.prevOp[op.Name]) / dt.Seconds()
			m.prevOp[op.Name] = op.Metrics.RowsOut
		}
		m.prevAt, m.prevRows = s.At, s.RowsDone
	}
	var loads int64
	m.batches, m.errs, m.restarts, m.retries = 0, 0, 0, 0
	for _, op := range s.Ops {
		m.restarts += op.Metrics.ActorRestarts
		m.retries += op.Metrics.TaskRetries
		loads += op.Metrics.ConstructorCalls
		m.errs = max(m.errs, op.Metrics.ErrorRows)
	}
	// Loads begun inside a UDF are invisible to the engine; the job's own
	// count, when it publishes one, is at least the constructors'.
	m.loads = max(loads, m.loadsStarted)
	if i := modelOp(s.Ops); i >= 0 {
		m.batches = s.Ops[i].Metrics.Batches
	}
	m.snap = s
}

func (m *Model) applySample(s nvml.Sample) {
	m.cpu.Push(100 * s.Host.ProcCPUCores / float64(m.cores))
	m.rss.Push(float64(s.Host.ProcRSSBytes))
	if len(s.GPUs) > 0 {
		g := s.GPUs[0]
		m.gpuUtil.Push(g.GPUUtilPct)
		if g.MemTotalBytes > 0 {
			m.gpuMem.Push(100 * float64(g.MemUsedBytes) / float64(g.MemTotalBytes))
		}
	}
}

// Finish records how the run ended and its top diagnosis.
func (m *Model) Finish(rec *bench.Record, err error, diagnosis string) {
	m.rec, m.err, m.diag = rec, err, diagnosis
	m.version++
	m.status = Done
	if err != nil {
		m.status = Failed
	}
	if rec != nil {
		m.loads, m.batches, m.errs = rec.ModelLoads, int64(rec.Batches), int64(rec.Errors)
		if rec.Config.BatchSize > 0 {
			m.batchSize = int64(rec.Config.BatchSize)
		}
		m.restarts, m.retries = rec.ActorRestarts, rec.TaskRetries
	}
}

// planned is the number of batches the run will make, 0 while unknown.
func (m *Model) planned() int64 {
	total := int64(0)
	if m.snap != nil {
		total = m.snap.RowsTotal
	}
	if m.rec != nil {
		total = int64(m.rec.Images)
	}
	if total <= 0 || m.batchSize <= 0 {
		return 0
	}
	return (total + m.batchSize - 1) / m.batchSize
}

// Record is the finished run's record, nil until then.
func (m *Model) Record() *bench.Record { return m.rec }

// Throughput is the run's overall throughput, the record's definition
// (rows done over time since the start): the record's once finished, so
// far while running.
func (m *Model) Throughput() float64 {
	if m.rec != nil {
		return m.rec.Throughput
	}
	if m.snap != nil && m.snap.At > 0 {
		return float64(m.snap.RowsDone) / m.snap.At.Seconds()
	}
	return 0
}

// View renders the pane in a w×h box, border included.
func (m *Model) View(w, h int, active bool) string {
	a := 0
	if active {
		a = 1
	}
	key := [4]int{m.version, w, h, a}
	if m.viewCache != "" && key == m.viewKey {
		return m.viewCache
	}
	m.viewCache, m.viewKey = m.view(w, h, active), key
	return m.viewCache
}

func (m *Model) view(w, h int, active bool) string {
	st := m.common.Styles
	box := st.Pane
	if active {
		box = st.PaneActive
	}
	iw, ih := w-box.GetHorizontalFrameSize(), h-box.GetVerticalFrameSize()
	if iw < 10 || ih < 4 {
		return common.Block("", w, h)
	}
	var body string
	if ih < 22 {
		body = m.compact(iw, ih)
	} else {
		body = m.full(iw, ih)
	}
	return box.Render(common.Block(body, iw, ih))
}

func (m *Model) title(w int) string {
	st := m.common.Styles
	left := m.accent.Bold(true).Render(m.Side) + " " + st.Bold.Render(m.Name)
	var right string
	switch m.status {
	case Waiting:
		right = st.Faint.Render("waiting")
	case Running:
		at := time.Duration(0)
		if m.snap != nil {
			at = m.snap.At
		}
		right = st.Running.Render("running " + common.Duration(at))
	case Done:
		right = st.OK.Render("done " + common.Duration(time.Duration(m.rec.WallSeconds*float64(time.Second))))
	case Failed:
		right = st.Bad.Render("failed")
	}
	gap := max(1, w-lipgloss.Width(left)-lipgloss.Width(right))
	return common.Fit(left+strings.Repeat(" ", gap)+right, w)
}

func (m *Model) progress(w int) string {
	st := m.common.Styles
	var done, total int64
	var at time.Duration
	if m.snap != nil {
		done, total, at = m.snap.RowsDone, m.snap.RowsTotal, m.snap.At
	}
	if m.rec != nil {
		done, total = int64(m.rec.Images), int64(m.rec.Images)
	}
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	eta := "ETA ?"
	switch {
	case m.status == Done:
		eta = "finished"
	case m.status == Failed:
		eta = "stopped"
	case done > 0 && total > 0 && at > 0:
		rate := float64(done) / at.Seconds()
		eta = "ETA " + common.Duration(time.Duration(float64(total-done)/rate*float64(time.Second)))
	}
	text := fmt.Sprintf(" %d/%d rows · %s", done, total, eta)
	if total == 0 && m.rec == nil && m.status != Done && m.status != Failed {
		// A listing that streams: the total arrives when it ends.
		text = fmt.Sprintf(" %d rows · counting…", done)
	}
	bw := max(4, w-lipgloss.Width(text))
	return m.accent.Render(common.Bar(frac, bw)) + st.Value.Render(common.Fit(text, w-bw))
}

func (m *Model) telemetry() (a, b *chart.Model) {
	if m.gpu {
		return &m.gpuUtil, &m.gpuMem
	}
	return &m.cpu, &m.rss
}

func (m *Model) opTable(w int, compact bool) string {
	st := m.common.Styles
	if m.snap == nil || len(m.snap.Ops) == 0 {
		return st.Faint.Render("operators appear when the run starts")
	}
	bn := pipeline.FindBottleneck(m.snap.Ops).Op
	if m.rec != nil && m.rec.Bottleneck != "" {
		bn, _, _ = strings.Cut(m.rec.Bottleneck, " (")
	}
	cols := []common.Column{{Title: "operator"}, {Title: "state", Width: 15}, {Title: "active", Width: 6, Numeric: true},
		{Title: "queued", Width: 7, Numeric: true}, {Title: "rows/s", Width: 8, Numeric: true}}
	if compact {
		cols = []common.Column{{Title: "operator"}, {Title: "state", Width: 8}, {Title: "act", Width: 3, Numeric: true},
			{Title: "queue", Width: 5, Numeric: true}}
	}
	fixed := 0
	for _, c := range cols[1:] {
		fixed += c.Width + 1
	}
	cols[0].Width = max(8, w-fixed)
	rows := make([][]string, len(m.snap.Ops))
	bnRow := -1
	flagged := make([]bool, len(m.snap.Ops))
	for i, op := range m.snap.Ops {
		mm := op.Metrics
		name, mark := op.Name, "  "
		if op.Name == bn {
			mark, bnRow = "▶ ", i
		}
		if compact {
			if short, ok := strings.CutPrefix(name, "MapBatches("); ok {
				name = strings.TrimSuffix(short, ")")
			}
		}
		name = mark + name
		if issue := mm.Issue(); issue != "" {
			name, flagged[i] = markIssue(name, string(issue), cols[0].Width), true
		}
		state := mm.State.String()
		if mm.State == pipeline.StateBackpressured && mm.BackpressuredBy != "" {
			state = "backpressured:" + mm.BackpressuredBy
		}
		if m.status == Done || m.status == Failed {
			state = pipeline.StateDone.String()
		}
		rows[i] = []string{name, state, fmt.Sprint(mm.TasksRunning), fmt.Sprint(mm.QueuedRows),
			bench.FormatValue(m.opRate[op.Name], "")}
		if compact {
			if state != pipeline.StateDone.String() && len(state) > 8 {
				state = state[:7] + "…"
			}
			rows[i] = []string{name, state, fmt.Sprint(mm.TasksRunning), fmt.Sprint(mm.QueuedRows)}
		}
	}
	return common.Table(st, cols, rows, func(i int) (lipgloss.Style, bool) {
		if i == bnRow {
			return st.Highlight, true
		}
		return st.Warn, flagged[i]
	})
}

// markIssue appends the issue to an operator's name, " !stall", or only
// " !" when the column cannot hold the word, so the marker is never the
// part truncated away.
func markIssue(name, issue string, w int) string {
	for _, marked := range []string{name + " !" + issue, name + " !"} {
		if lipgloss.Width(marked) <= w {
			return marked
		}
	}
	return ansi.Truncate(name, max(w-2, 1), "…") + " !"
}

// counters says model loads (begun, while running), batches done out of
// planned, and errors. Done and planned are told apart, "batches 9/100",
// because a bare number early in a run reads as a total.
func (m *Model) counters(w int, compact bool) string {
	st := m.common.Styles
	loads := "model loads "
	if compact {
		loads = "loads "
	}
	errs := st.Value.Render(fmt.Sprint(m.errs))
	if m.errs > 0 {
		errs = st.Bad.Render(fmt.Sprint(m.errs))
	}
	batches := fmt.Sprint(m.batches)
	if p := m.planned(); p > 0 && m.batches <= p {
		batches += "/" + fmt.Sprint(p)
	} else if m.rec == nil {
		batches += "/?"
	}
	var recovery string
	if m.restarts+m.retries > 0 {
		recovery = st.Label.Render(" · restarts ") + st.Bad.Render(fmt.Sprint(m.restarts)) +
			st.Label.Render(" · retries ") + st.Bad.Render(fmt.Sprint(m.retries))
	}
	return common.Fit(st.Label.Render(loads)+st.Value.Render(bench.FormatCount(float64(m.loads)))+
		st.Label.Render(" · batches ")+st.Value.Render(batches)+
		st.Label.Render(" · errors ")+errs+recovery, w)
}

// metric formats v as the metrics registry does, so the pane reads as the
// summary and the reports.
func metric(name string, v float64) string {
	mi, _ := bench.LookupMetric(name)
	return mi.Format(v)
}

// headline is the throughput chart's header: the overall throughput so far
// (the record's once done), then the latest window as "now" while running
// or the steady throughput once done, then the peak of the charted
// windows, which leave out the drain tail.
// In a compact pane the figures after the headline drop their unit.
func (m *Model) headline(w int, compact bool) string {
	st := m.common.Styles
	f := func(name string, v float64) string {
		if compact {
			return bench.FormatValue(v, "")
		}
		return metric(name, v)
	}
	h := st.Label.Render("throughput ") + m.accent.Bold(true).Render(metric(bench.MetricThroughput, m.Throughput()))
	switch {
	case m.rec != nil:
		h += st.Label.Render("  steady ") + st.Value.Render(f(bench.MetricSteadyTput, m.rec.SteadyTput))
	case m.tput.Len() > 0 && !m.drain:
		h += st.Label.Render("  now ") + st.Value.Render(f(bench.MetricThroughput, m.tput.Last()))
	case m.drain:
		h += st.Faint.Render("  draining")
	}
	if m.tput.Len() > 1 {
		h += st.Faint.Render("  peak " + f(bench.MetricThroughput, m.tput.Peak()))
	}
	return common.Fit(h, w)
}

// latency is the finished run's steady throughput, time to first result
// and p95 batch latency, from the record.
func (m *Model) latency(w int, compact bool) string {
	st := m.common.Styles
	r := m.rec
	if r == nil {
		return ""
	}
	if compact {
		return common.Fit(st.Label.Render("ttfr ")+st.Value.Render(metric(bench.MetricTTFR, r.TTFRSeconds))+
			st.Label.Render(" · p95 ")+st.Value.Render(metric(bench.MetricLatencyP95, r.LatencyP95)), w)
	}
	return common.Fit(st.Label.Render("first result ")+st.Value.Render(metric(bench.MetricTTFR, r.TTFRSeconds))+
		st.Label.Render(" · p95 batch latency ")+st.Value.Render(metric(bench.MetricLatencyP95, r.LatencyP95)), w)
}

func (m *Model) result(w int, compact bool) string {
	st := m.common.Styles
	switch {
	case m.err != nil:
		return st.Bad.Render(common.Fit("error: "+m.err.Error(), w))
	case m.rec != nil:
		wall := common.Duration(time.Duration(m.rec.WallSeconds * float64(time.Second)))
		tput := metric(bench.MetricThroughput, m.rec.Throughput)
		s := st.Label.Render("result ") + m.accent.Bold(true).Render(tput) +
			st.Faint.Render(fmt.Sprintf(" · %d images in %s", m.rec.Images, wall))
		if compact {
			s = m.accent.Bold(true).Render(tput) + st.Faint.Render(" in "+wall)
		}
		return common.Fit(s, w)
	}
	return ""
}

func (m *Model) full(w, h int) string {
	st := m.common.Styles
	ta, tb := m.telemetry()
	half := (w - 2) / 2
	// Room for five operators whatever this run has, so two panes side by
	// side keep their charts and bars on the same rows.
	opLines := 1 + 5
	if m.snap != nil {
		opLines = max(opLines, 1+len(m.snap.Ops))
	}
	// Fixed lines: title, label, blanks, chart headers, progress, table,
	// counters, result, diagnosis. The rest goes to the charts, two thirds
	// to throughput.
	fixed := 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + opLines + 1 + 1 + 1 + 1 + 2
	spare := max(4, h-fixed)
	th := max(2, spare*3/5)
	mh := max(1, spare-th)
	tel := lipgloss.JoinHorizontal(lipgloss.Top, ta.View(half, mh), "  ", tb.View(w-2-half, mh))
	parts := []string{
		m.title(w),
		st.Faint.Render(common.Fit(m.Label, w)),
		"",
		m.headline(w, false),
		m.tput.Spark(w, th),
		"",
		tel,
		"",
		m.progress(w),
		"",
		common.Block(m.opTable(w, false), w, opLines),
		"",
		m.counters(w, false),
		m.result(w, false),
		m.latency(w, false),
	}
	if m.rec != nil && m.rec.BatchProbe != nil {
		// batch_size: auto's decision: the ceiling it measured per size
		// and the knee it took, as the record and the report show it.
		parts = append(parts, common.Fit(st.Label.Render("batch ")+st.Faint.Render(m.rec.BatchProbe.String()), w))
	}
	if m.diag != "" {
		parts = append(parts, lipgloss.NewStyle().Width(w).Render(st.Label.Render("diagnosis ")+st.Teaching.Render(m.diag)))
	}
	return strings.Join(parts, "\n")
}

func (m *Model) compact(w, h int) string {
	st := m.common.Styles
	ta, tb := m.telemetry()
	opLines := 1
	if m.snap != nil {
		opLines += len(m.snap.Ops)
	}
	fixed := 1 + 1 + 1 + 1 + 1 + opLines + 1 + 1
	th := max(1, h-fixed)
	tel := common.Fit(st.Label.Render(ta.Title+" ")+ta.ValueStyleOr(st.Value).Render(ta.Format(ta.Last()))+
		st.Label.Render("  "+tb.Title+" ")+tb.ValueStyleOr(st.Value).Render(tb.Format(tb.Last())), w)
	// Once done, the progress bar (full) gives way to the latencies.
	prog := m.progress(w)
	if l := m.latency(w, true); l != "" {
		prog = l
	}
	parts := []string{
		m.title(w),
		m.headline(w, true),
		m.tput.Spark(w, th),
		tel,
		prog,
		m.opTable(w, true),
		m.counters(w, true),
	}
	if r := m.result(w, true); r != "" {
		parts = append(parts, r)
	}
	return strings.Join(parts, "\n")
}

// Loads is the model loads the pane shows: begun so far while running, the
// record's once done.
func (m *Model) Loads() int64 { return m.loads }
