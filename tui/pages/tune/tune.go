// Package tune is the tuning screen: start from a scenario, change batch
// size, concurrency, block count, intra-op threads and device with keys,
// re-run with one key, and keep a history of every configuration tried
// with its measured throughput. The best can be saved as a scenario YAML.
package tune

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
)

// Knob names, in the order the screen lists them.
var knobNames = []string{"batch size", "concurrency", "blocks", "intra-op threads", "device"}

// Trial is one configuration tried and how it did.
type Trial struct {
	Knobs backend.Knobs
	Rec   *bench.Record
	Err   error
}

// Model is the tuning screen.
type Model struct {
	common   common.Common
	backend  backend.Backend
	base     string
	knobs    backend.Knobs
	cursor   int
	pane     runpane.Model
	feed     *feed.Feed
	running  bool
	history  []Trial
	gen      int
	cancel   context.CancelFunc
	ctx      context.Context
	status   string
	gpu      bool
	maxConc  int
	hasTrial bool
}

type (
	tickMsg struct{ gen int }
	// DoneMsg reports that a trial ended.
	DoneMsg struct {
		Gen   int
		Knobs backend.Knobs
		Rec   *bench.Record
		Err   error
	}
	savedMsg struct {
		path string
		err  error
	}
)

// New returns the screen starting from scenario base's knobs.
func New(c common.Common, b backend.Backend, base string) *Model {
	info := b.Info()
	m := &Model{common: c, backend: b, base: base, ctx: context.Background(), gpu: info.GPU, maxConc: max(2*info.Cores, 4)}
	if s, ok := backend.Find(b.Scenarios(), base); ok {
		m.knobs = s.Knobs
	} else {
		m.knobs = backend.Knobs{Batch: 64, Concurrency: 1, Device: "cpu"}
	}
	m.pane = m.newPane()
	return m
}

func (m *Model) newPane() runpane.Model {
	info := m.backend.Info()
	return runpane.New(m.common, fmt.Sprint(len(m.history)+1), m.base, m.knobs.String(), m.common.Styles.Right, info.GPU, info.Cores)
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) {
	m.common = c
	m.pane.SetCommon(c)
}

// SetContext sets the context runs start from (the root's).
func (m *Model) SetContext(ctx context.Context) { m.ctx = ctx }

// Knobs are the current settings.
func (m *Model) Knobs() backend.Knobs { return m.knobs }

// History is every trial so far.
func (m *Model) History() []Trial { return m.history }

// Stop cancels a trial in flight.
func (m *Model) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.gen++
	m.running = false
}

// Adjust moves knob i one step down (dir < 0) or up.
func (m *Model) Adjust(i, dir int) {
	k := &m.knobs
	switch i {
	case 0:
		k.Batch = step2(k.Batch, dir, 1, 1024)
	case 1:
		k.Concurrency = min(max(1, k.Concurrency+dir), m.maxConc)
	case 2:
		k.Blocks = step2(k.Blocks, dir, 0, 256)
	case 3:
		k.IntraOp = min(max(0, k.IntraOp+dir), 64)
	case 4:
		if m.gpu && k.Device != "cuda" {
			k.Device = "cuda"
		} else {
			k.Device = "cpu"
		}
	}
}

// step2 halves or doubles v within [lo, hi]; 0 (auto) steps to 1 and back.
func step2(v, dir, lo, hi int) int {
	switch {
	case dir > 0 && v == 0:
		return 1
	case dir > 0:
		return min(v*2, hi)
	case v <= 1:
		return lo
	default:
		return max(v/2, lo)
	}
}

// Run starts a trial with the current knobs.
func (m *Model) Run() tea.Cmd {
	m.Stop()
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancel = cancel
	m.gen++
	m.running, m.hasTrial = true, true
	m.feed = feed.New()
	m.pane = m.newPane()
	m.pane.Start()
	gen, b, f, k := m.gen, m.backend, m.feed, m.knobs
	spec := backend.RunSpec{Scenario: m.base, Label: k.String(), Knobs: &k}
	return tea.Batch(func() tea.Msg {
		rec, err := b.Run(ctx, spec, f.Bus)
		return DoneMsg{Gen: gen, Knobs: k, Rec: rec, Err: err}
	}, m.tick())
}

func (m *Model) tick() tea.Cmd {
	gen := m.gen
	return tea.Tick(common.TickInterval, func(time.Time) tea.Msg { return tickMsg{gen} })
}

// Apply folds an event into the running trial's pane (tests).
func (m *Model) Apply(ev pipeline.Event) {
	m.hasTrial = true
	m.pane.Apply(ev)
}

// Finish ends the current trial with rec, as a finished run would.
func (m *Model) Finish(k backend.Knobs, rec *bench.Record, err error) {
	diag := ""
	if rec != nil && err == nil {
		diag = m.backend.Diagnose(rec)
	}
	m.pane.Finish(rec, err, diag)
	m.history = append(m.history, Trial{Knobs: k, Rec: rec, Err: err})
	m.running = false
}

// Best is the fastest trial, ok false when none finished.
func (m *Model) Best() (Trial, bool) {
	best, ok := Trial{}, false
	for _, t := range m.history {
		if t.Rec != nil && t.Err == nil && (!ok || t.Rec.Throughput > best.Rec.Throughput) {
			best, ok = t, true
		}
	}
	return best, ok
}

// Update changes knobs, runs trials and saves the best.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.common.Keys
	switch msg := msg.(type) {
	case tickMsg:
		if msg.gen != m.gen || !m.running {
			return nil
		}
		m.feed.Drain(func(ev pipeline.Event) { m.pane.Apply(ev) })
		return m.tick()
	case DoneMsg:
		if msg.Gen != m.gen {
			return nil
		}
		m.feed.Drain(func(ev pipeline.Event) { m.pane.Apply(ev) })
		m.feed.Close()
		m.Finish(msg.Knobs, msg.Rec, msg.Err)
		return nil
	case savedMsg:
		m.status = "saved " + msg.path
		if msg.err != nil {
			m.status = "save failed: " + msg.err.Error()
		}
		return nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up, k.ShiftTab):
			m.cursor = (m.cursor + len(knobNames) - 1) % len(knobNames)
		case key.Matches(msg, k.Down, k.Tab):
			m.cursor = (m.cursor + 1) % len(knobNames)
		case key.Matches(msg, k.Left):
			m.Adjust(m.cursor, -1)
		case key.Matches(msg, k.Right):
			m.Adjust(m.cursor, +1)
		case key.Matches(msg, k.Rerun):
			return m.Run()
		case key.Matches(msg, k.Save):
			best, ok := m.Best()
			if !ok {
				m.status = "nothing to save yet: run a configuration first (enter)"
				return nil
			}
			b, base := m.backend, m.base
			return func() tea.Msg { p, err := b.SaveScenario(base, best.Knobs); return savedMsg{p, err} }
		case key.Matches(msg, k.Back):
			m.Stop()
			return common.Nav(common.NavMsg{Page: common.PageHome})
		}
	}
	return nil
}

// Help lists the tuning keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	return k.PageHelp(k.Up, k.Down, k.Left, k.Right, k.Rerun, k.Save, k.Back)
}

func (m *Model) knobValue(i int) string {
	auto := func(n int) string {
		if n == 0 {
			return "auto"
		}
		return fmt.Sprint(n)
	}
	switch i {
	case 0:
		return fmt.Sprint(m.knobs.Batch)
	case 1:
		return fmt.Sprint(m.knobs.Concurrency)
	case 2:
		return auto(m.knobs.Blocks)
	case 3:
		return auto(m.knobs.IntraOp)
	}
	if m.knobs.Device == "" {
		return "cpu"
	}
	return m.knobs.Device
}

func (m *Model) knobList(w int) string {
	st := m.common.Styles
	lines := []string{st.Header.Render(common.Fit("knobs (from "+m.base+")", w))}
	for i, n := range knobNames {
		v := "◂ " + m.knobValue(i) + " ▸"
		line := common.Fit("  "+n, w-12) + common.FitLeft(v, 12)
		if i == m.cursor {
			line = st.Selected.Render(common.Fit("▸ "+n, w-12) + common.FitLeft(v, 12))
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (m *Model) historyTable(w, maxRows int) string {
	st := m.common.Styles
	if len(m.history) == 0 {
		return st.Faint.Render(common.Fit("no trials yet: change a knob, then enter", w))
	}
	cols := []common.Column{{Title: "#", Width: 3, Numeric: true}, {Title: "configuration"}, {Title: "img/s", Width: 11, Numeric: true}, {Title: "vs first", Width: 8, Numeric: true}}
	cols[1].Width = max(10, w-3-11-8-3)
	first := 0.0
	if r := m.history[0].Rec; r != nil {
		first = r.Throughput
	}
	best := -1
	if b, ok := m.Best(); ok {
		for i, t := range m.history {
			if t.Rec == b.Rec {
				best = i
			}
		}
	}
	start := max(0, len(m.history)-maxRows)
	var rows [][]string
	for i := start; i < len(m.history); i++ {
		t := m.history[i]
		row := []string{fmt.Sprint(i + 1), t.Knobs.String(), "failed", ""}
		if t.Rec != nil && t.Err == nil {
			row[2] = common.Rate(t.Rec.Throughput)
			if first > 0 {
				row[3] = fmt.Sprintf("×%.2f", t.Rec.Throughput/first)
			}
		}
		rows = append(rows, row)
	}
	return common.Table(st, cols, rows, func(i int) (lipgloss.Style, bool) { return st.Best, i+start == best })
}

// View renders knobs, history and the live trial.
func (m *Model) View(w, h int) string {
	st := m.common.Styles
	var status string
	if m.status != "" {
		status = "\n" + st.Accent.Render(common.Fit(m.status, w))
	}
	if m.common.Compact() {
		knobs := m.knobList(w)
		hist := m.historyTable(w, 3)
		ph := max(6, h-lipgloss.Height(knobs)-lipgloss.Height(hist)-lipgloss.Height(status))
		pane := m.pane.View(w, ph, m.running)
		if !m.hasTrial {
			pane = common.Block(st.Faint.Render("enter runs the configuration above"), w, ph)
		}
		return knobs + "\n" + pane + "\n" + hist + status
	}
	lw := min(56, w/3)
	left := m.knobList(lw) + "\n\n" + st.Header.Render("history") + "\n" + m.historyTable(lw, max(3, h-12))
	left = common.Block(left, lw, h-lipgloss.Height(status))
	pw := w - lw - 1
	pane := m.pane.View(pw, h-lipgloss.Height(status), m.running)
	if !m.hasTrial {
		pane = common.Block(st.Faint.Render("enter runs the configuration on the left; its live view appears here"), pw, h-lipgloss.Height(status))
	}
	return lipgloss.JoinHorizontal(lipgloss.Top, left, " ", pane) + status
}
