// Package sweep is the sweep screen: a small form for the grid (batch sizes
// and concurrencies), then a heatmap of throughput over batch ×
// concurrency that fills in live as cells finish, with failed and skipped
// cells marked and the best cell highlighted. A key exports the report.
package sweep

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"workbench/bench"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/components/heatmap"
)

// Phase is where the sweep is.
type Phase int

// Sweep phases.
const (
	Form Phase = iota
	Running
	Finished
)

// Model is the sweep screen.
type Model struct {
	common   common.Common
	backend  backend.Backend
	scenario string
	fields   [2]textinput.Model
	focus    int
	phase    Phase
	grid     heatmap.Model
	recs     []*bench.Record
	ch       chan *bench.Record
	gen      int
	cancel   context.CancelFunc
	status   string
	err      error
	ctx      context.Context
}

type (
	tickMsg struct{ gen int }
	// DoneMsg reports that the sweep ended.
	DoneMsg struct {
		Gen int
		Err error
	}
	exportedMsg struct {
		path string
		err  error
	}
)

// New returns the form, prefilled with a grid that fits a 2-core machine.
func New(c common.Common, b backend.Backend, scenario string) *Model {
	m := &Model{common: c, backend: b, scenario: scenario, ctx: context.Background()}
	if scenario == "" {
		m.scenario = b.Info().Right
	}
	for i, v := range []string{"1,8,32,64,128", "1,2"} {
		t := textinput.New()
		t.Prompt = ""
		t.CharLimit = 40
		t.SetValue(v)
		t.SetWidth(24)
		m.fields[i] = t
	}
	m.fields[0].Focus()
	return m
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) {
	m.common = c
	m.grid.SetCommon(c)
}

// Phase reports where the sweep is.
func (m *Model) Phase() Phase { return m.phase }

// Stop cancels a sweep in progress.
func (m *Model) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.gen++
}

// ParseList reads "1,8,32" (spaces allowed) into sorted, distinct positive
// integers.
func ParseList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list: give at least one value, e.g. 1,8,32")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Launch parses the form and starts the sweep.
func (m *Model) Launch(ctx context.Context) tea.Cmd {
	batch, err := ParseList(m.fields[0].Value())
	if err != nil {
		m.status = "batch sizes: " + err.Error()
		return nil
	}
	conc, err := ParseList(m.fields[1].Value())
	if err != nil {
		m.status = "concurrency: " + err.Error()
		return nil
	}
	m.Prepare(batch, conc)
	ctx, m.cancel = context.WithCancel(ctx)
	m.gen++
	m.ch = make(chan *bench.Record, len(batch)*len(conc)+1)
	gen, b, ch := m.gen, m.backend, m.ch
	spec := backend.SweepSpec{Scenario: m.scenario, Batch: batch, Concurrency: conc}
	m.status = ""
	return tea.Batch(func() tea.Msg {
		err := b.Sweep(ctx, spec, func(r *bench.Record) {
			select {
			case ch <- r:
			case <-ctx.Done():
			}
		})
		return DoneMsg{Gen: gen, Err: err}
	}, m.tick())
}

// Prepare lays out an empty grid and enters the running phase; tests then
// feed records with Add.
func (m *Model) Prepare(batch, conc []int) {
	m.grid = heatmap.New(m.common, conc, batch)
	m.phase = Running
	m.recs = nil
}

// Add folds one finished cell into the heatmap.
func (m *Model) Add(r *bench.Record) {
	m.recs = append(m.recs, r)
	b, _ := strconv.Atoi(r.Params["batch"])
	c, _ := strconv.Atoi(r.Params["concurrency"])
	if b == 0 {
		b = r.Config.BatchSize
	}
	if c == 0 {
		c, _ = strconv.Atoi(r.Config.Concurrency)
	}
	v := r.Throughput
	if r.SteadyTput > 0 {
		v = r.SteadyTput
	}
	m.grid.Set(c, b, heatmap.Cell{Status: r.Status, Value: v, Reason: r.Reason})
}

// End marks the sweep finished.
func (m *Model) End(err error) {
	m.phase, m.err = Finished, err
}

func (m *Model) tick() tea.Cmd {
	gen := m.gen
	return tea.Tick(common.TickInterval, func(time.Time) tea.Msg { return tickMsg{gen} })
}

func (m *Model) drain() {
	for {
		select {
		case r := <-m.ch:
			m.Add(r)
		default:
			return
		}
	}
}

// Update drives the form and folds in finished cells.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.common.Keys
	switch msg := msg.(type) {
	case tickMsg:
		if msg.gen != m.gen || m.phase != Running {
			return nil
		}
		m.drain()
		return m.tick()
	case DoneMsg:
		if msg.Gen != m.gen {
			return nil
		}
		m.drain()
		m.End(msg.Err)
		return nil
	case exportedMsg:
		m.status = "report written to " + msg.path
		if msg.err != nil {
			m.status = "export failed: " + msg.err.Error()
		}
		return nil
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Back):
			m.Stop()
			return common.Nav(common.NavMsg{Page: common.PageHome})
		case m.phase == Form && key.Matches(msg, k.Tab, k.ShiftTab, k.Up, k.Down):
			m.fields[m.focus].Blur()
			m.focus = 1 - m.focus
			return m.fields[m.focus].Focus()
		case m.phase == Form && key.Matches(msg, k.Enter):
			return m.Launch(m.ctx)
		case m.phase != Form && key.Matches(msg, k.Export):
			if len(m.recs) == 0 {
				return nil
			}
			b, recs := m.backend, slices.Clone(m.recs)
			return func() tea.Msg { p, err := b.Export("sweep", recs); return exportedMsg{p, err} }
		case m.phase == Form:
			var cmd tea.Cmd
			m.fields[m.focus], cmd = m.fields[m.focus].Update(msg)
			return cmd
		}
	}
	return nil
}

// SetContext makes Launch from the form use ctx (the root's).
func (m *Model) SetContext(ctx context.Context) { m.ctx = ctx }

// Help lists the sweep's keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	if m.phase == Form {
		return k.PageHelp(k.Tab, k.Enter, k.Back)
	}
	return k.PageHelp(k.Export, k.Back)
}

// View renders the form or the heatmap.
func (m *Model) View(w, h int) string {
	st := m.common.Styles
	head := st.Accent.Render("Sweep "+m.scenario) + st.Faint.Render("  throughput over batch × concurrency")
	var parts []string
	parts = append(parts, common.Fit(head, w), "")
	if m.phase == Form {
		labels := []string{"batch sizes ", "concurrency "}
		for i, f := range m.fields {
			l := st.Label.Render(labels[i])
			if i == m.focus {
				l = st.Accent.Render("▸ " + labels[i])
			} else {
				l = "  " + l
			}
			parts = append(parts, l+f.View())
		}
		parts = append(parts, "", st.Faint.Render(common.Fit("comma-separated; every pair is one measured run. enter starts the sweep.", w)))
	} else {
		total := len(m.grid.Rows) * len(m.grid.Cols)
		prog := fmt.Sprintf("%d of %d cells", m.grid.Done(), total)
		switch {
		case m.phase == Finished && m.err != nil:
			prog += " · stopped: " + m.err.Error()
		case m.phase == Finished:
			prog += " · finished"
		default:
			prog += " · running"
		}
		parts = append(parts, st.Label.Render(common.Fit(prog, w)), "", m.grid.View(w), "")
		if r, c, ok := m.grid.Best(); ok {
			parts = append(parts, st.Verdict.Render(common.Fit(fmt.Sprintf("best so far: batch %d, concurrency %d → %s", c, r,
				common.Rate(m.grid.Get(r, c).Value)), w)))
		}
		parts = append(parts, st.Faint.Render(common.Fit("★ best · ✗ failed · · skipped (a smaller batch failed, or no gain) · … not run yet", w)))
		if n := m.backend.Info().Notice; n != "" {
			parts = append(parts, st.Faint.Render(common.Fit(n, w)))
		}
	}
	if m.status != "" {
		parts = append(parts, "", st.Accent.Render(common.Fit(m.status, w)))
	}
	return strings.Join(parts, "\n")
}
