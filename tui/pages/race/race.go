// Package race is the race screen: two scenarios side by side, each in a
// runpane, measured one after the other so that neither steals the other's
// cores and repeated interleaved A B A B (3 pairs by default), then each
// metric's median ± confidence interval, the significance verdict ("~"
// when the difference is not significant, as benchstat and the CLI race
// print), the speedup with its spread, and the top diagnosis. A key
// exports the report.
package race

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"workbench/bench"
	"workbench/pipeline"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/components/feed"
	"workbench/tui/components/runpane"
)

// Model is the race screen.
type Model struct {
	common  common.Common
	backend backend.Backend
	specs   [2]backend.RunSpec
	panes   [2]runpane.Model
	feeds   [2]*feed.Feed
	active  int
	gen     int // run generation, so ticks of a cancelled race stop
	cancel  context.CancelFunc
	status  string
	running bool
	// repeat is the runs of each side; run is the index of the current
	// run in the interleaved order A B A B …; recs holds each side's
	// finished records.
	repeat int
	run    int
	recs   [2][]*bench.Record
	failed bool
	ctx    context.Context
}

// DefaultRepeat is the runs of each side a race makes unless told: the
// fewest that give each metric a median and a Mann-Whitney test something
// to rank, short enough for a class to wait for.
const DefaultRepeat = 3

// Msgs the race sends itself.
type (
	tickMsg struct{ gen int }
	// DoneMsg reports that one side's run ended.
	DoneMsg struct {
		Gen  int
		Side int
		Rec  *bench.Record
		Err  error
	}
	exportedMsg struct {
		path string
		err  error
	}
)

// New returns a race between two scenarios, repeat runs each (0 means
// DefaultRepeat), not yet started.
func New(c common.Common, b backend.Backend, left, right backend.RunSpec, repeat int) *Model {
	if repeat <= 0 {
		repeat = DefaultRepeat
	}
	m := &Model{common: c, backend: b, specs: [2]backend.RunSpec{left, right}, repeat: repeat}
	for i := range m.specs {
		m.panes[i] = m.newPane(i, 0)
	}
	return m
}

// newPane is side's pane for its rep-th run.
func (m *Model) newPane(side, rep int) runpane.Model {
	info := m.backend.Info()
	c, sp := m.common, m.specs[side]
	accent := c.Styles.Left
	if side == 1 {
		accent = c.Styles.Right
	}
	name := sp.Scenario
	if m.repeat > 1 {
		name = fmt.Sprintf("%s · run %d/%d", sp.Scenario, rep+1, m.repeat)
	}
	p := runpane.New(c, string(rune('A'+side)), name, label(m.backend, sp), accent, info.GPU, info.Cores)
	if k := knobs(m.backend, sp); k != nil {
		p.SetBatchSize(k.Batch)
	}
	return p
}

// Repeat is the runs of each side.
func (m *Model) Repeat() int { return m.repeat }

func knobs(b backend.Backend, sp backend.RunSpec) *backend.Knobs {
	if sp.Knobs != nil {
		return sp.Knobs
	}
	if s, ok := backend.Find(b.Scenarios(), sp.Scenario); ok {
		return &s.Knobs
	}
	return nil
}

func label(b backend.Backend, sp backend.RunSpec) string {
	if sp.Knobs != nil {
		return sp.Knobs.String()
	}
	if s, ok := backend.Find(b.Scenarios(), sp.Scenario); ok {
		return s.Knobs.String()
	}
	return sp.Label
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) {
	m.common = c
	for i := range m.panes {
		m.panes[i].SetCommon(c)
	}
}

// Panes exposes the panes, for tests and the workshop.
func (m *Model) Panes() *[2]runpane.Model { return &m.panes }

// Start begins the race: the left run first.
func (m *Model) Start(ctx context.Context) tea.Cmd {
	m.ctx, m.cancel = context.WithCancel(ctx)
	m.gen++
	m.running = true
	return tea.Batch(m.startRun(0), m.tick())
}

// Stop cancels a race in progress.
func (m *Model) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
}

// startRun starts run i of the interleaved order: side i%2, repeat i/2.
// From the second repeat on, the side's pane starts afresh, so what it
// shows is always one run's, as its record says.
func (m *Model) startRun(i int) tea.Cmd {
	m.run = i
	side, rep := i%2, i/2
	if rep > 0 {
		m.panes[side] = m.newPane(side, rep)
	}
	f := feed.New()
	m.feeds[side] = f
	m.panes[side].Start()
	gen, spec, b, ctx := m.gen, m.specs[side], m.backend, m.ctx
	return func() tea.Msg {
		rec, err := b.Run(ctx, spec, f.Bus)
		return DoneMsg{Gen: gen, Side: side, Rec: rec, Err: err}
	}
}

func (m *Model) tick() tea.Cmd {
	gen := m.gen
	return tea.Tick(common.TickInterval, func(_ time.Time) tea.Msg { return tickMsg{gen} })
}

// Apply folds an event into one side; tests drive the screen with it.
func (m *Model) Apply(side int, ev pipeline.Event) { m.panes[side].Apply(ev) }

func (m *Model) drain() {
	for i, f := range m.feeds {
		f.Drain(func(ev pipeline.Event) { m.panes[i].Apply(ev) })
	}
}

// Update handles the race's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.common.Keys
	switch msg := msg.(type) {
	case tickMsg:
		if msg.gen != m.gen || !m.running {
			return nil
		}
		m.drain()
		return m.tick()
	case DoneMsg:
		if msg.Gen != m.gen {
			return nil
		}
		m.drain()
		m.feeds[msg.Side].Close()
		diag := ""
		if msg.Rec != nil && msg.Err == nil {
			diag = m.backend.Diagnose(msg.Rec)
		}
		m.panes[msg.Side].Finish(msg.Rec, msg.Err, diag)
		if msg.Err == nil && msg.Rec != nil {
			m.recs[msg.Side] = append(m.recs[msg.Side], msg.Rec)
		} else {
			m.failed = true
		}
		if !m.failed && m.run+1 < 2*m.repeat {
			return m.startRun(m.run + 1)
		}
		m.running = false
		return nil
	case exportedMsg:
		if msg.err != nil {
			m.status = "export failed: " + msg.err.Error()
		} else {
			m.status = "report written to " + msg.path
		}
		return nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Tab, k.Left, k.Right):
			m.active = 1 - m.active
		case key.Matches(msg, k.Export):
			recs := m.records()
			if len(recs) == 0 {
				m.status = "nothing to export yet: wait for a run to finish"
				return nil
			}
			b := m.backend
			m.status = "exporting…"
			return func() tea.Msg {
				p, err := b.Export("race", recs)
				return exportedMsg{p, err}
			}
		case key.Matches(msg, k.Back):
			m.Stop()
			m.gen++
			m.running = false
			return common.Nav(common.NavMsg{Page: common.PageHome})
		}
	}
	return nil
}

func (m *Model) records() []*bench.Record {
	var out []*bench.Record
	for i := range m.recs {
		out = append(out, m.recs[i]...)
	}
	// A race fed by events alone (tests) has records only in its panes.
	if len(out) == 0 {
		for i := range m.panes {
			if r := m.panes[i].Record(); r != nil {
				out = append(out, r)
			}
		}
	}
	return out
}

// Records returns each side's finished records, in run order.
func (m *Model) Records() [2][]*bench.Record { return m.recs }

// AddRecord files a finished run's record under side, as a finished run
// does; tests build a repeated race's result with it.
func (m *Model) AddRecord(side int, rec *bench.Record) {
	m.recs[side] = append(m.recs[side], rec)
}

// Finished reports whether the race has ended: both panes done or failed,
// and no run left to start.
func (m *Model) Finished() bool {
	for i := range m.panes {
		if s := m.panes[i].Status(); s != runpane.Done && s != runpane.Failed {
			return false
		}
	}
	return !m.running || m.failed || len(m.recs[0])+len(m.recs[1]) >= 2*m.repeat
}

// sides are the records the verdict compares: the filed ones, or the
// panes' when none were filed.
func (m *Model) sides() (a, b []*bench.Record) {
	a, b = m.recs[0], m.recs[1]
	if len(a) == 0 && m.panes[0].Record() != nil {
		a = []*bench.Record{m.panes[0].Record()}
	}
	if len(b) == 0 && m.panes[1].Record() != nil {
		b = []*bench.Record{m.panes[1].Record()}
	}
	return a, b
}

// Help lists the race's keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	return k.PageHelp(k.Export, k.Tab, k.Back)
}

// View renders the race in the body area (width × height).
func (m *Model) View(width, height int) string {
	foot := m.footer(width)
	fh := lipgloss.Height(foot)
	ph := max(6, height-fh)
	lw := width / 2
	left := m.panes[0].View(lw, ph, m.active == 0)
	right := m.panes[1].View(width-lw, ph, m.active == 1)
	return lipgloss.JoinHorizontal(lipgloss.Top, left, right) + "\n" + foot
}

func (m *Model) footer(w int) string {
	st := m.common.Styles
	var lines []string
	a, b := m.sides()
	nameA, nameB := m.specs[0].Scenario, m.specs[1].Scenario
	switch {
	case m.Finished() && len(a) > 0 && len(b) > 0:
		if !m.common.Compact() && (len(a) > 1 || len(b) > 1) {
			for _, l := range strings.Split(Table(nameA, nameB, a, b), "\n") {
				lines = append(lines, common.Fit(st.Value.Render(l), w))
			}
		}
		lines = append(lines, st.Verdict.Render(common.Fit(Speedup(nameA, nameB, a, b), w)))
		if len(a) > 1 && len(b) > 1 && len(a) < MinRunsForTest {
			// Too few runs for a run-level test: say what the windows
			// within the runs show, labelled as such.
			lines = append(lines, st.Faint.Render(common.Fit("within runs: "+Verdict(nameA, nameB, pooled(a), pooled(b)), w)))
		}
		if d := m.backend.Diagnose(a[len(a)-1]); d != "" {
			lines = append(lines, common.Fit(st.Label.Render("top diagnosis ("+m.specs[0].Scenario+") ")+st.Teaching.Render(d), w))
		}
	case m.Finished():
		lines = append(lines, st.Bad.Render(common.Fit("the race did not finish: see the failed pane", w)))
	default:
		msg := "runs go one after the other, so neither steals the other's cores"
		if m.repeat > 1 {
			msg = fmt.Sprintf("run %d of %d, interleaved A B A B so drift hits both alike; one at a time, so neither steals the other's cores",
				m.run+1, 2*m.repeat)
		}
		lines = append(lines, st.Faint.Render(common.Fit(msg, w)))
	}
	if n := m.backend.Info().Notice; n != "" {
		lines = append(lines, st.Faint.Render(common.Fit(n, w)))
	}
	if m.status != "" {
		lines = append(lines, st.Accent.Render(common.Fit(m.status, w)))
	}
	return strings.Join(lines, "\n")
}

// Verdict compares two finished runs: B's throughput over A's, as the
// ratio of their median window throughputs with the spread of the ratio's
// confidence interval, and "~" when a Mann-Whitney test finds no
// significant difference (as benchstat prints).
func Verdict(nameA, nameB string, a, b *bench.Record) string {
	wa, wb := windows(a), windows(b)
	sa, sb := bench.Summarize(wa, bench.DefaultConfidence), bench.Summarize(wb, bench.DefaultConfidence)
	if len(wa) < bench.StabilityWindows || len(wb) < bench.StabilityWindows ||
		sa.Center <= 0 || sb.Center <= 0 || math.IsNaN(sa.Center) || math.IsNaN(sb.Center) {
		// Too short a run for windows: compare whole-run throughput.
		if a.Throughput > 0 && b.Throughput > 0 {
			return fmt.Sprintf("%s %s vs %s %s: %.2f× (whole runs; too short for a spread)", nameA, common.Rate(a.Throughput),
				nameB, common.Rate(b.Throughput), b.Throughput/a.Throughput)
		}
		return fmt.Sprintf("%s %s vs %s %s", nameA, common.Rate(a.Throughput), nameB, common.Rate(b.Throughput))
	}
	ratio := sb.Center / sa.Center
	spread := ""
	if lo, hi := sb.Lo/sa.Hi, sb.Hi/sa.Lo; !math.IsInf(lo, 0) && !math.IsInf(hi, 0) && sa.Lo > 0 {
		spread = fmt.Sprintf(" ± %.0f%%", 100*max(hi-ratio, ratio-lo)/ratio)
	}
	_, p := bench.MannWhitney(wa, wb)
	ps := fmt.Sprintf("p=%.3f", p)
	if p < 0.001 {
		ps = "p<0.001"
	}
	n := fmt.Sprintf(" (median of %d/%d windows, %s)", len(wa), len(wb), ps)
	if p > bench.DefaultAlpha {
		return fmt.Sprintf("%s ~ %s: no significant difference (%.2f×%s)%s", nameB, nameA, ratio, spread, n)
	}
	word := "faster"
	if ratio < 1 {
		word, ratio = "slower", 1/ratio
	}
	return fmt.Sprintf("%s is %.2f× %s than %s%s%s", nameB, ratio, word, nameA, spread, n)
}

// MinRunsForTest is the fewest runs a side needs before a Mann-Whitney
// test at DefaultAlpha can find any difference: with 3 and 3 the smallest
// two-sided p is 0.1.
const MinRunsForTest = 4

// pooled merges runs into one record for Verdict: every run's throughput
// windows, and the median whole-run throughput.
func pooled(recs []*bench.Record) *bench.Record {
	p := &bench.Record{}
	var tp []float64
	for _, r := range recs {
		p.Windows = append(p.Windows, windows(r)...)
		tp = append(tp, r.Throughput)
	}
	p.Throughput = bench.Summarize(tp, bench.DefaultConfidence).Center
	return p
}

// raceMetrics are the metrics a repeated race compares, in the order the
// CLI race prints them.
var raceMetrics = []string{bench.MetricThroughput, bench.MetricSteadyTput, bench.MetricTTFR,
	bench.MetricLatencyP95, bench.MetricModelLoads}

func sample(recs []*bench.Record, m bench.MetricInfo) []float64 {
	var xs []float64
	for _, r := range recs {
		if v, ok := m.Value(r); ok {
			xs = append(xs, v)
		}
	}
	return xs
}

// Table is a repeated race's comparison, one line per metric: each side's
// median ± the spread of its 95% confidence interval (counts as integers)
// and B's change over A, "~" when a Mann-Whitney test finds no significant
// difference, as benchstat and the CLI race print it.
func Table(nameA, nameB string, a, b []*bench.Record) string {
	cols := []common.Column{{Title: "metric", Width: 22}, {Title: nameA, Width: 18, Numeric: true},
		{Title: nameB, Width: 18, Numeric: true}, {Title: "change", Width: 22, Numeric: true}}
	var rows [][]string
	for _, name := range raceMetrics {
		mi, _ := bench.LookupMetric(name)
		xa, xb := sample(a, mi), sample(b, mi)
		if len(xa) == 0 || len(xb) == 0 {
			continue
		}
		c := bench.Compare(xa, xb, bench.DefaultAlpha)
		change := c.FormatDelta()
		if mi.Kind == bench.KindCount && slicesEqual(xa) && slicesEqual(xb) {
			change = fmt.Sprintf("%s → %s", bench.FormatCount(xa[0]), bench.FormatCount(xb[0]))
		} else {
			change += fmt.Sprintf(" (p=%.3f)", c.P)
		}
		rows = append(rows, []string{mi.Label, mi.FormatSample(xa), mi.FormatSample(xb), change})
	}
	return common.Table(&common.Styles{}, cols, rows, nil)
}

func slicesEqual(xs []float64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// Speedup is the race's verdict line. With one run a side it is Verdict,
// over each run's throughput windows. With more it compares the runs'
// throughputs: B's median over A's with the spread of the ratio (interval
// arithmetic on the two confidence intervals, bench.NewRatio), p and n, and
// "~" with the reason when the difference is not significant, as the CLI
// race does; too few runs for a test say how many are needed.
func Speedup(nameA, nameB string, a, b []*bench.Record) string {
	if len(a) == 1 && len(b) == 1 {
		return Verdict(nameA, nameB, a[0], b[0])
	}
	mi, _ := bench.LookupMetric(bench.MetricThroughput)
	xa, xb := sample(a, mi), sample(b, mi)
	c := bench.Compare(xa, xb, bench.DefaultAlpha)
	r := bench.NewRatio(c.B, c.A)
	n := fmt.Sprintf("(median of %d/%d runs, p=%.3f)", len(xa), len(xb), c.P)
	if !c.Significant {
		why := ""
		if len(c.Warnings) > 0 {
			why = "; " + c.Warnings[0]
		}
		return fmt.Sprintf("%s vs %s: %s ~ not significant %s%s", nameB, nameA, r, n, why)
	}
	return fmt.Sprintf("%s runs at %s the throughput of %s %s", nameB, r, nameA, n)
}

func windows(r *bench.Record) []float64 {
	if len(r.Windows) > 0 {
		return r.Windows
	}
	return []float64{r.Throughput}
}
