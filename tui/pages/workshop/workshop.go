// Package workshop is the guided lesson: it shows the slow pipeline, then
// fixes one mistake per step, each with its explanation, and measures every
// step live on this machine. The last page is a table of what each fix
// bought, from those measurements. Presenters move with space and
// backspace.
package workshop

import (
	"context"
	"fmt"
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
	"workbench/tui/pages/race"
)

// Model is the workshop.
type Model struct {
	common  common.Common
	backend backend.Backend
	steps   []backend.Step
	panes   []runpane.Model
	cur     int // len(steps) is the summary
	ctx     context.Context
	feed    *feed.Feed
	running int // step in flight, -1 when none
	gen     int
	cancel  context.CancelFunc
	status  string
	// repeat is the runs of each step; recs holds each step's finished
	// records, so a step's gain is judged as a repeated race judges it.
	repeat int
	recs   [][]*bench.Record
}

// SetRepeat sets the runs of each step (0 keeps race.DefaultRepeat).
func (m *Model) SetRepeat(n int) {
	if n > 0 {
		m.repeat = n
	}
}

type (
	tickMsg struct{ gen int }
	// DoneMsg reports that a step's run ended.
	DoneMsg struct {
		Gen, Step int
		Rec       *bench.Record
		Err       error
	}
	exportedMsg struct {
		path string
		err  error
	}
)

// New returns the workshop at its first step, not yet measuring.
func New(c common.Common, b backend.Backend) *Model {
	m := &Model{common: c, backend: b, steps: b.Lesson(), running: -1, ctx: context.Background(), repeat: race.DefaultRepeat}
	m.recs = make([][]*bench.Record, len(m.steps))
	info := b.Info()
	for i, s := range m.steps {
		label := s.Spec.Label
		if s.Spec.Knobs != nil {
			label = s.Spec.Knobs.String()
		}
		m.panes = append(m.panes, runpane.New(c, fmt.Sprint(i), s.Title, label, c.Styles.Right, info.GPU, info.Cores))
	}
	return m
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) {
	m.common = c
	for i := range m.panes {
		m.panes[i].SetCommon(c)
	}
}

// Start measures the first step.
func (m *Model) Start(ctx context.Context) tea.Cmd {
	m.ctx = ctx
	return m.measure(0)
}

// Stop cancels the step in flight.
func (m *Model) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.running = -1
	m.gen++
}

// Step is the step shown; len(steps) is the summary.
func (m *Model) Step() int { return m.cur }

// Pane returns step i's pane, for tests.
func (m *Model) Pane(i int) *runpane.Model { return &m.panes[i] }

func (m *Model) measure(i int) tea.Cmd {
	if i >= len(m.steps) || len(m.recs[i]) >= m.repeat {
		return nil
	}
	m.Stop()
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancel = cancel
	m.gen++
	m.running = i
	m.feed = feed.New()
	name := m.steps[i].Title
	if m.repeat > 1 {
		name = fmt.Sprintf("%s · run %d/%d", name, len(m.recs[i])+1, m.repeat)
	}
	m.panes[i] = runpane.New(m.common, fmt.Sprint(i), name, m.panes[i].Label, m.common.Styles.Right, m.backend.Info().GPU, m.backend.Info().Cores)
	m.panes[i].Start()
	gen, spec, b, f := m.gen, m.steps[i].Spec, m.backend, m.feed
	return tea.Batch(func() tea.Msg {
		rec, err := b.Run(ctx, spec, f.Bus)
		return DoneMsg{Gen: gen, Step: i, Rec: rec, Err: err}
	}, m.tick())
}

func (m *Model) tick() tea.Cmd {
	gen := m.gen
	return tea.Tick(common.TickInterval, func(time.Time) tea.Msg { return tickMsg{gen} })
}

func (m *Model) drain() {
	if m.running >= 0 {
		i := m.running
		m.feed.Drain(func(ev pipeline.Event) { m.panes[i].Apply(ev) })
	}
}

// Apply folds an event into step i's pane; tests drive the screen with it.
func (m *Model) Apply(i int, ev pipeline.Event) {
	if m.panes[i].Status() == runpane.Waiting {
		m.panes[i].Start()
	}
	m.panes[i].Apply(ev)
}

// Finish ends step i with rec, as a finished run would.
func (m *Model) Finish(i int, rec *bench.Record, err error) {
	diag := ""
	if rec != nil && err == nil {
		diag = m.backend.Diagnose(rec)
	}
	m.panes[i].Finish(rec, err, diag)
	if rec != nil && err == nil {
		m.recs[i] = append(m.recs[i], rec)
	}
}

// Update moves between steps and folds in the running step's events.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.common.Keys
	switch msg := msg.(type) {
	case tickMsg:
		if msg.gen != m.gen || m.running < 0 {
			return nil
		}
		m.drain()
		return m.tick()
	case DoneMsg:
		if msg.Gen != m.gen {
			return nil
		}
		m.drain()
		m.feed.Close()
		m.Finish(msg.Step, msg.Rec, msg.Err)
		m.running = -1
		if msg.Err == nil && msg.Step == m.cur {
			return m.measure(msg.Step) // the step's next run, if any
		}
		return nil
	case exportedMsg:
		m.status = "report written to " + msg.path
		if msg.err != nil {
			m.status = "export failed: " + msg.err.Error()
		}
		return nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Next, k.Right, k.Enter):
			if m.cur < len(m.steps) {
				m.cur++
				return m.measure(m.cur)
			}
		case key.Matches(msg, k.Prev, k.Left):
			if m.cur > 0 {
				m.cur--
				if m.running != m.cur {
					return m.measure(m.cur)
				}
			}
		case key.Matches(msg, k.Export):
			recs := m.records()
			if len(recs) == 0 {
				return nil
			}
			b := m.backend
			return func() tea.Msg { p, err := b.Export("workshop", recs); return exportedMsg{p, err} }
		case key.Matches(msg, k.Back):
			m.Stop()
			return common.Nav(common.NavMsg{Page: common.PageHome})
		}
	}
	return nil
}

func (m *Model) records() []*bench.Record {
	var out []*bench.Record
	for _, rs := range m.recs {
		out = append(out, rs...)
	}
	return out
}

// median is the median whole-run throughput of step i's runs, 0 when none.
func (m *Model) median(i int) float64 {
	var xs []float64
	for _, r := range m.recs[i] {
		xs = append(xs, r.Throughput)
	}
	if len(xs) == 0 {
		return 0
	}
	return bench.Summarize(xs, bench.DefaultConfidence).Center
}

// Help lists the workshop's keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	return k.PageHelp(k.Next, k.Prev, k.Export, k.Back)
}

// View renders the current step, or the summary after the last one.
func (m *Model) View(w, h int) string {
	if len(m.steps) == 0 {
		return m.common.Styles.Faint.Render("no lesson: the backend has no steps")
	}
	if m.cur >= len(m.steps) {
		return m.summary(w, h)
	}
	st := m.common.Styles
	s := m.steps[m.cur]
	dots := ""
	for i := range len(m.steps) + 1 {
		switch {
		case i == m.cur:
			dots += st.Accent.Render("●")
		case i < len(m.steps) && m.panes[i].Status() == runpane.Done:
			dots += st.OK.Render("●")
		default:
			dots += st.Faint.Render("○")
		}
	}
	head := st.Accent.Render(fmt.Sprintf("Step %d of %d · %s", m.cur+1, len(m.steps), s.Title)) + "  " + dots
	explainW := w
	var fix string
	if m.cur == 0 {
		fix = st.Label.Render("start here: ") + st.Teaching.Render(s.Mistake)
	} else {
		fix = st.Label.Render("fixes: ") + st.Teaching.Render(s.Mistake)
	}
	explain := common.Teaching(s.Explain, explainW, st.Value, st.Teaching)
	if m.common.Compact() {
		explain = common.Block(explain, w, 2)
	}
	cmp := m.comparison(w)
	top := strings.Join([]string{common.Fit(head, w), common.Fit(fix, w), explain, cmp}, "\n")
	ph := max(6, h-lipgloss.Height(top)-1)
	foot := ""
	if m.status != "" {
		foot = "\n" + st.Accent.Render(common.Fit(m.status, w))
		ph--
	}
	return top + "\n" + m.panes[m.cur].View(w, ph, true) + foot
}

// comparison says what this step bought over the previous one, measured.
func (m *Model) comparison(w int) string {
	st := m.common.Styles
	if m.cur == 0 {
		return st.Faint.Render(common.Fit("the baseline: every later step is measured against it", w))
	}
	prev, cur := m.recs[m.cur-1], m.recs[m.cur]
	switch {
	case len(prev) == 0:
		return st.Faint.Render(common.Fit("the previous step was left before it finished; backspace measures it again", w))
	case len(cur) < m.repeat && m.running == m.cur:
		return st.Faint.Render(common.Fit(fmt.Sprintf("previous step: %s · measuring this step, run %d of %d…",
			common.Rate(m.median(m.cur-1)), len(cur)+1, m.repeat), w))
	case len(cur) == 0:
		return st.Faint.Render(common.Fit("this step was left before it finished; backspace and space measure it again", w))
	}
	// As the race judges: the median over runs, the ratio's spread, and
	// "~" when the gain is not significant.
	return st.Verdict.Render(common.Fit(race.Speedup("the previous step", "this step", prev, cur), w))
}

func gain(from, to float64) string {
	if from <= 0 {
		return "?"
	}
	return fmt.Sprintf("×%.2f", to/from)
}

func (m *Model) summary(w, h int) string {
	st := m.common.Styles
	cols := []common.Column{{Title: "step", Width: 4, Numeric: true}, {Title: "fix"}, {Title: "img/s", Width: 12, Numeric: true},
		{Title: "vs previous", Width: 11, Numeric: true}, {Title: "vs slow", Width: 8, Numeric: true}}
	cols[1].Width = max(10, w-4-12-11-8-4)
	var rows [][]string
	var first, prev float64
	for i, s := range m.steps {
		row := []string{fmt.Sprint(i + 1), s.Title, "not measured", "", ""}
		if v := m.median(i); v > 0 {
			row[2] = common.Rate(v)
			if i == 0 {
				first = v
			}
			if i > 0 {
				row[3] = gain(prev, v)
				row[4] = gain(first, v)
			}
			prev = v
		} else {
			prev = 0
		}
		rows = append(rows, row)
	}
	best := -1
	bestV := 0.0
	for i := range m.steps {
		if v := m.median(i); v > bestV {
			best, bestV = i, v
		}
	}
	t := common.Table(st, cols, rows, func(i int) (lipgloss.Style, bool) { return st.Highlight, i == best })
	head := st.Accent.Render("What each fix bought, measured on this machine")
	note := st.Faint.Render(common.Fit("each step keeps the fixes before it; ratios are of median whole-run throughput over each step's runs", w))
	out := head + "\n" + note + "\n\n" + t
	if n := m.backend.Info().Notice; n != "" {
		out += "\n" + st.Faint.Render(common.Fit(n, w))
	}
	if m.status != "" {
		out += "\n\n" + st.Accent.Render(m.status)
	}
	return out
}
