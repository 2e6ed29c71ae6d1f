// Package race is the race screen: two runs side by side, each in a
// runpane, measured one after the other so that neither steals the other's
// cores, then a verdict line with the speedup, its spread, and the top
// diagnosis. A key exports the report.
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
	common   common.Common
	backend  backend.Backend
	specs    [2]backend.RunSpec
	panes    [2]runpane.Model
	feeds    [2]*feed.Feed
	active   int
	gen      int // run generation, so ticks of a cancelled race stop
	cancel   context.CancelFunc
	status   string
	running  bool
	nextSide func() tea.Cmd
}

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

// New returns a race between two scenarios, not yet started.
func New(c common.Common, b backend.Backend, left, right backend.RunSpec) *Model {
	info := b.Info()
	m := &Model{common: c, backend: b, specs: [2]backend.RunSpec{left, right}}
	for i, sp := range m.specs {
		accent := c.Styles.Left
		if i == 1 {
			accent = c.Styles.Right
		}
		m.panes[i] = runpane.New(c, string(rune('A'+i)), sp.Scenario, label(b, sp), accent, info.GPU, info.Cores)
	}
	return m
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
	ctx, m.cancel = context.WithCancel(ctx)
	m.gen++
	m.running = true
	return tea.Batch(m.startSide(ctx, 0), m.tick())
}

// Stop cancels a race in progress.
func (m *Model) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
}

func (m *Model) startSide(ctx context.Context, side int) tea.Cmd {
	f := feed.New()
	m.feeds[side] = f
	m.panes[side].Start()
	gen, spec, b := m.gen, m.specs[side], m.backend
	next := func() tea.Cmd { return nil }
	if side == 0 {
		next = func() tea.Cmd { return m.startSide(ctx, 1) }
	}
	m.nextSide = next
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
		if msg.Side == 0 && msg.Err == nil {
			return m.nextSide()
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
	for i := range m.panes {
		if r := m.panes[i].Record(); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Finished reports whether both runs have ended.
func (m *Model) Finished() bool {
	for i := range m.panes {
		if s := m.panes[i].Status(); s != runpane.Done && s != runpane.Failed {
			return false
		}
	}
	return true
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
	a, b := m.panes[0].Record(), m.panes[1].Record()
	switch {
	case m.Finished() && a != nil && b != nil:
		lines = append(lines, st.Verdict.Render(common.Fit(Verdict(m.specs[0].Scenario, m.specs[1].Scenario, a, b), w)))
		if d := m.backend.Diagnose(a); d != "" {
			lines = append(lines, common.Fit(st.Label.Render("top diagnosis ("+m.specs[0].Scenario+") ")+st.Teaching.Render(d), w))
		}
	case m.Finished():
		lines = append(lines, st.Bad.Render(common.Fit("the race did not finish: see the failed pane", w)))
	default:
		lines = append(lines, st.Faint.Render(common.Fit("runs go one after the other, so neither steals the other's cores", w)))
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

func windows(r *bench.Record) []float64 {
	if len(r.Windows) > 0 {
		return r.Windows
	}
	return []float64{r.Throughput}
}
