// Package sweep is the sweep screen: a form for the grid (batch sizes,
// concurrencies and read blocks in the CLI's range grammar), the objective
// and the constraints; then a heatmap of the objective over two of the
// axes, the third sliced (x picks which, [ and ] which value), filling in
// live as cells finish, each cell with its spread, the best cell and those
// tied with it marked; and a throughput-vs-batch chart along the best
// cell's line. Keys export the sweep as an HTML report, and its best cell
// as a scenario YAML or a Ray job.
package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/components/chart"
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

// The form's fields, in order.
const (
	fieldBatch = iota
	fieldConcurrency
	fieldBlocks
	fieldObjective
	fieldConstraints
	nFields
)

var fieldLabels = [nFields]string{"batch sizes ", "concurrency ", "read blocks ", "objective   ", "constraints "}

// Model is the sweep screen.
type Model struct {
	common   common.Common
	backend  backend.Backend
	scenario string
	fields   [nFields]textinput.Model
	focus    int
	phase    Phase
	spec     backend.SweepSpec
	obj      bench.Objective
	cons     bench.ConditionSet
	// recs are the records so far (copies, as the backend hands them
	// over); once the sweep ends, the ranked ones of res.
	recs []*bench.Record
	res  *bench.SweepResult
	// slice is the axis the heatmap slices (an index into spec.Axes(),
	// used with three axes) and at the index of the value shown.
	slice, at int
	ch        chan *bench.Record
	gen       int
	cancel    context.CancelFunc
	status    string
	err       error
	ctx       context.Context
}

type (
	tickMsg struct{ gen int }
	// DoneMsg reports that the sweep ended, with its ranked result.
	DoneMsg struct {
		Gen int
		Res *bench.SweepResult
		Err error
	}
	exportedMsg struct {
		what, path string
		err        error
	}
)

// New returns the form, prefilled with a grid that fits a 2-core machine.
func New(c common.Common, b backend.Backend, scenario string) *Model {
	m := &Model{common: c, backend: b, scenario: scenario, ctx: context.Background()}
	if scenario == "" {
		m.scenario = b.Info().Right
	}
	defaults := [nFields]string{"8..128", "1,2", "", "steady", ""}
	placeholders := [nFields]string{"16..256", "1..4", "the scenario's; e.g. 8,32", "steady", "none; e.g. latency_p95<200ms"}
	for i := range m.fields {
		t := textinput.New()
		t.Prompt = ""
		t.CharLimit = 80
		t.Placeholder = placeholders[i]
		t.SetValue(defaults[i])
		t.SetWidth(32)
		m.fields[i] = t
	}
	m.fields[0].Focus()
	return m
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) { m.common = c }

// Phase reports where the sweep is.
func (m *Model) Phase() Phase { return m.phase }

// Typing reports whether a form field has the keys, so the root leaves
// printable keys (q, ?) to it.
func (m *Model) Typing() bool { return m.phase == Form }

// Result is the ranked sweep, nil until it ends.
func (m *Model) Result() *bench.SweepResult { return m.res }

// Stop cancels a sweep in progress.
func (m *Model) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.gen++
}

// SetField sets a form field (0 batch, 1 concurrency, 2 blocks, 3
// objective, 4 constraints), as typing would.
func (m *Model) SetField(i int, v string) { m.fields[i].SetValue(v) }

// Spec parses the form with the CLI's parsers: the ranges by
// bench.ParseRange, the objective by bench.ParseObjective and the
// constraints by bench.ParseConstraints. Every problem is reported at once.
func (m *Model) Spec() (backend.SweepSpec, error) {
	spec := backend.SweepSpec{Scenario: m.scenario}
	var errs []error
	for _, f := range []struct {
		field int
		flag  string
		to    *[]int
	}{{fieldBatch, "batch", &spec.Batch}, {fieldConcurrency, "concurrency", &spec.Concurrency}, {fieldBlocks, "blocks", &spec.Blocks}} {
		v := strings.TrimSpace(m.fields[f.field].Value())
		if v == "" && f.field == fieldBlocks {
			continue // the scenario's
		}
		vals, err := bench.ParseRange(f.flag, v)
		if err != nil {
			errs = append(errs, err)
		}
		*f.to = vals
	}
	spec.Objective = strings.TrimSpace(m.fields[fieldObjective].Value())
	if _, err := bench.ParseObjective(cmp.Or(spec.Objective, "steady")); err != nil {
		errs = append(errs, err)
	}
	spec.Constraints = strings.TrimSpace(m.fields[fieldConstraints].Value())
	if _, err := bench.ParseConstraints(spec.Constraints); err != nil {
		errs = append(errs, err)
	}
	return spec, errors.Join(errs...)
}

// Launch parses the form and starts the sweep.
func (m *Model) Launch(ctx context.Context) tea.Cmd {
	spec, err := m.Spec()
	if err != nil {
		m.status = err.Error()
		return nil
	}
	m.Prepare(spec)
	ctx, m.cancel = context.WithCancel(ctx)
	m.gen++
	// Room for every run the protocol may make, so the sweep never waits
	// on the screen's tick.
	m.ch = make(chan *bench.Record, gridSize(spec)*bench.DefaultProtocol.WithDefaults().MaxRuns+1)
	gen, b, ch := m.gen, m.backend, m.ch
	m.status = ""
	return tea.Batch(func() tea.Msg {
		res, err := b.Sweep(ctx, spec, func(r *bench.Record) {
			select {
			case ch <- r:
			case <-ctx.Done():
			}
		})
		return DoneMsg{Gen: gen, Res: res, Err: err}
	}, m.tick())
}

func gridSize(spec backend.SweepSpec) int {
	n := 1
	for _, a := range spec.Axes() {
		n *= len(a.Values)
	}
	return n
}

// Prepare lays out an empty grid for spec and enters the running phase;
// tests then feed records with Add and the result with End.
func (m *Model) Prepare(spec backend.SweepSpec) {
	m.spec, m.phase, m.recs, m.res, m.err = spec, Running, nil, nil, nil
	m.obj, _ = bench.ParseObjective(cmp.Or(spec.Objective, "steady"))
	m.cons, _ = bench.ParseConstraints(spec.Constraints)
	m.slice, m.at = len(spec.Axes())-1, 0
}

// Add folds one record into the screen.
func (m *Model) Add(r *bench.Record) { m.recs = append(m.recs, r) }

// End marks the sweep finished with its ranked result (nil when it never
// started), and turns the slice to the best cell.
func (m *Model) End(res *bench.SweepResult, err error) {
	m.phase, m.err, m.res = Finished, err, res
	if res != nil {
		m.recs = res.Records
	}
	m.at = m.bestAt()
}

// bestAt is the index of the best cell's value on the sliced axis, 0
// before the sweep has ranked its cells.
func (m *Model) bestAt() int {
	axes := m.spec.Axes()
	if m.res == nil || m.res.Best() == nil || len(axes) != 3 {
		return 0
	}
	a := axes[m.slice]
	return max(0, slices.Index(sorted(a.Values), atoi(m.res.Best().Params[a.Name])))
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
		m.End(msg.Res, msg.Err)
		return nil
	case exportedMsg:
		m.status = msg.what + " written to " + msg.path
		if msg.err != nil {
			m.status = msg.what + " failed: " + msg.err.Error()
		}
		return nil
	case tea.KeyPressMsg:
		if m.phase == Form {
			return m.updateForm(msg)
		}
		three := len(m.spec.Axes()) == 3
		switch {
		case key.Matches(msg, k.Back):
			m.Stop()
			return common.Nav(common.NavMsg{Page: common.PageHome})
		case three && key.Matches(msg, k.Axis):
			m.slice = (m.slice + 1) % 3
			m.at = m.bestAt()
		case three && key.Matches(msg, k.SliceNext):
			m.at = (m.at + 1) % len(m.spec.Axes()[m.slice].Values)
		case three && key.Matches(msg, k.SlicePrev):
			n := len(m.spec.Axes()[m.slice].Values)
			m.at = (m.at + n - 1) % n
		case key.Matches(msg, k.Report):
			if len(m.recs) == 0 {
				return nil
			}
			b, recs := m.backend, slices.Clone(m.recs)
			return func() tea.Msg { p, err := b.Export("sweep", recs); return exportedMsg{"report", p, err} }
		case key.Matches(msg, k.YAML, k.Ray):
			best, ok := m.best()
			if !ok {
				m.status = "nothing to export yet: the sweep ranks its cells when it ends"
				return nil
			}
			b, scen, recs := m.backend, m.scenario, slices.Clone(m.recs)
			if key.Matches(msg, k.Ray) {
				return func() tea.Msg { p, err := b.ExportRay(scen, recs); return exportedMsg{"Ray job", p, err} }
			}
			kn := m.knobs(best)
			return func() tea.Msg { p, err := b.SaveScenario(scen, kn); return exportedMsg{"scenario", p, err} }
		}
	}
	return nil
}

// updateForm moves between the fields with tab and the arrows (never j
// and k, which are text here) and starts the sweep with enter.
func (m *Model) updateForm(msg tea.KeyPressMsg) tea.Cmd {
	k := m.common.Keys
	step := 0
	switch {
	case key.Matches(msg, k.Back):
		return common.Nav(common.NavMsg{Page: common.PageHome})
	case key.Matches(msg, k.Enter):
		return m.Launch(m.ctx)
	case key.Matches(msg, k.Tab) || msg.Code == tea.KeyDown:
		step = 1
	case key.Matches(msg, k.ShiftTab) || msg.Code == tea.KeyUp:
		step = nFields - 1
	default:
		var cmd tea.Cmd
		m.fields[m.focus], cmd = m.fields[m.focus].Update(msg)
		return cmd
	}
	m.fields[m.focus].Blur()
	m.focus = (m.focus + step) % nFields
	return m.fields[m.focus].Focus()
}

// best is the sweep's best cell by bench.BestCell, the rule export ray
// --from and tune share; ok is false until the sweep has ranked its cells.
func (m *Model) best() (bench.Best, bool) {
	if m.res == nil || m.res.Best() == nil {
		return bench.Best{}, false
	}
	return bench.BestCell(m.recs)
}

// knobs are the scenario's knobs with the best cell's values.
func (m *Model) knobs(b bench.Best) backend.Knobs {
	sc, _ := backend.Find(m.backend.Scenarios(), m.scenario)
	k := sc.Knobs
	for name, to := range map[string]*int{"batch": &k.Batch, "concurrency": &k.Concurrency, "blocks": &k.Blocks} {
		if v, ok := b.Params[name]; ok {
			*to = atoi(v)
		}
	}
	return k
}

// SetContext makes Launch from the form use ctx (the root's).
func (m *Model) SetContext(ctx context.Context) { m.ctx = ctx }

// Help lists the sweep's keys: slicing with three axes, and the exports
// of the best cell once the sweep has ranked them.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	if m.phase == Form {
		return k.PageHelp(k.Tab, k.Enter, k.Back)
	}
	var keys []key.Binding
	if len(m.spec.Axes()) == 3 {
		keys = append(keys, k.Axis, k.SliceNext)
	}
	keys = append(keys, k.Report)
	if m.phase == Finished && m.res != nil && m.res.Best() != nil {
		keys = append(keys, k.YAML, k.Ray)
	}
	return k.PageHelp(append(keys, k.Back)...)
}

// cellKey is a cell's values of batch, concurrency and blocks (0 when the
// grid does not sweep blocks).
type cellKey [3]int

var axisIndex = map[string]int{"batch": 0, "concurrency": 1, "blocks": 2}

func keyOf(params map[string]string) cellKey {
	var k cellKey
	for name, i := range axisIndex {
		k[i] = atoi(params[name])
	}
	return k
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func sorted(xs []int) []int {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}

// cells are the grid's cells as the heatmap draws them: from the ranked
// result once the sweep ends; before, from the records so far, each
// cell's samples summarised by the protocol and the best so far marked.
func (m *Model) cells() map[cellKey]heatmap.Cell {
	out := map[cellKey]heatmap.Cell{}
	if m.res != nil {
		for _, c := range m.res.Cells {
			x := heatmap.Cell{Status: c.Status, Reason: c.Reason}
			if c.OK() {
				x.Summary = c.Samples.Summary
				switch {
				case !c.Stable:
					x.Mark = heatmap.Unstable
				case c.Rank == 1:
					x.Mark = heatmap.Best
				case c.Tied:
					x.Mark = heatmap.Tied
				case len(m.cons.Conds) > 0 && !c.SatisfiesConstraints:
					x.Mark = heatmap.Violates
				}
			}
			out[keyOf(c.Params)] = x
		}
		return out
	}
	groups := map[cellKey][]*bench.Record{}
	var order []cellKey
	for _, r := range m.recs {
		k := keyOf(r.Params)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	best, bestKey, found := 0.0, cellKey{}, false
	for _, k := range order {
		rs := groups[k]
		last := rs[len(rs)-1]
		if last.Status != bench.StatusOK {
			out[k] = heatmap.Cell{Status: last.Status, Reason: last.Reason}
			continue
		}
		s := protocolOf(rs).Samples(rs, m.obj.String()).Summary
		out[k] = heatmap.Cell{Status: bench.StatusOK, Summary: s}
		if !found || m.obj.Gain(best, s.Center) > 0 {
			best, bestKey, found = s.Center, k, true
		}
	}
	if c, ok := out[bestKey]; found && ok {
		c.Mark = heatmap.Best
		out[bestKey] = c
	}
	return out
}

// protocolOf is the protocol a cell's records were measured by.
func protocolOf(rs []*bench.Record) bench.Protocol {
	for _, r := range rs {
		if r.Protocol != nil {
			return *r.Protocol
		}
	}
	return bench.DefaultProtocol
}

// bestKey is the best cell's key and summary: the ranked best once the
// sweep ends, the best so far before; ok is false when there is none.
func (m *Model) bestKey(cells map[cellKey]heatmap.Cell) (cellKey, heatmap.Cell, bool) {
	for k, c := range cells {
		if c.Status == bench.StatusOK && c.Mark == heatmap.Best {
			return k, c, true
		}
	}
	return cellKey{}, heatmap.Cell{}, false
}

// describe names a cell by its swept values: "batch 64, concurrency 2".
func (m *Model) describe(k cellKey, except string) string {
	var parts []string
	for _, a := range m.spec.Axes() {
		if a.Name != except {
			parts = append(parts, fmt.Sprintf("%s %d", a.Name, k[axisIndex[a.Name]]))
		}
	}
	return strings.Join(parts, ", ")
}

// View renders the form or the results.
func (m *Model) View(w, h int) string {
	st := m.common.Styles
	if m.phase == Form {
		return m.formView(w)
	}
	head := st.Accent.Render("Sweep "+m.scenario) + st.Faint.Render("  "+m.obj.String()+" over "+axisNames(m.spec))
	parts := []string{common.Fit(head, w), ""}
	cells := m.cells()
	done := 0
	for _, c := range cells {
		if c.Status != "" {
			done++
		}
	}
	prog := fmt.Sprintf("%d of %d cells", done, gridSize(m.spec))
	switch {
	case m.phase == Finished && m.err != nil:
		prog += " · stopped: " + m.err.Error()
	case m.phase == Finished:
		prog += " · finished"
	default:
		prog += " · running"
	}
	if len(m.cons.Conds) > 0 {
		prog += " · constraints " + m.cons.String()
	}
	parts = append(parts, st.Label.Render(common.Fit(prog, w)))

	// The heatmap: two axes, the third (if any) sliced at one value.
	axes := m.spec.Axes()
	cols, rows := axes[0], axes[1]
	var fixed *backend.Axis
	if len(axes) == 3 {
		sl := axes[m.slice]
		fixed = &sl
		var rest []backend.Axis
		for i, a := range axes {
			if i != m.slice {
				rest = append(rest, a)
			}
		}
		cols, rows = rest[0], rest[1]
		vals := sorted(sl.Values)
		line := fmt.Sprintf("slice: %s %d (%d of %d: %s)", sl.Name, vals[m.at], m.at+1, len(vals), backend.List(vals))
		parts = append(parts, st.Faint.Render(common.Fit(line, w)))
	}
	grid := heatmap.New(m.common, rows.Name, sorted(rows.Values), cols.Name, sorted(cols.Values))
	grid.HigherIsBetter = m.obj.Metric.HigherIsBetter
	if k := m.obj.Metric.Kind; k == bench.KindDuration || k == bench.KindBytes {
		grid.Unit = m.obj.Metric.Unit
	}
	for _, r := range rows.Values {
		for _, c := range cols.Values {
			var k cellKey
			k[axisIndex[rows.Name]], k[axisIndex[cols.Name]] = r, c
			if fixed != nil {
				k[axisIndex[fixed.Name]] = sorted(fixed.Values)[m.at]
			}
			grid.Set(r, c, cells[k])
		}
	}
	parts = append(parts, "", grid.View(w), "")

	bk, bc, hasBest := m.bestKey(cells)
	switch {
	case hasBest && m.res != nil:
		line := fmt.Sprintf("best: %s → %s", m.describe(bk, ""), heatmap.Format(bc.Summary, m.obj.Metric.Unit))
		parts = append(parts, st.Verdict.Render(common.Fit(line, w)))
		if b := m.res.Best(); b.Tied {
			parts = append(parts, st.Faint.Render(common.Fit("tie: "+b.TieBreak, w)))
		}
	case hasBest:
		line := fmt.Sprintf("best so far: %s → %s", m.describe(bk, ""), heatmap.Format(bc.Summary, m.obj.Metric.Unit))
		parts = append(parts, st.Verdict.Render(common.Fit(line, w)))
	case m.phase == Finished:
		parts = append(parts, st.Verdict.Render(common.Fit("no cell completed stably", w)))
	}
	legend := []string{"★ best", "= tied with the best (intervals overlap)", "± spread", "? unstable, unranked"}
	if len(m.cons.Conds) > 0 {
		legend = append(legend, "! violates the constraints")
	}
	legend = append(legend, "✗ failed", "· skipped", "… not run yet")
	for _, l := range wrap(legend, " · ", w) {
		parts = append(parts, st.Faint.Render(l))
	}
	if n := m.backend.Info().Notice; n != "" {
		parts = append(parts, st.Faint.Render(common.Fit(n, w)))
	}

	// What room is left goes to the chart, then the top 3; the status
	// (an export's path, an error) always shows.
	var tail []string
	if m.status != "" {
		tail = append([]string{""}, wrapText(m.status, w, st.Accent)...)
	}
	room := h - lines(parts) - len(tail)
	if hasBest && room >= 4 {
		if c := m.batchChart(cells, bk, w, min(room-1, 12)); c != "" {
			parts = append(parts, "", c)
			room = h - lines(parts) - len(tail)
		}
	}
	if top := m.topLines(w); len(top) > 0 && room >= len(top)+1 {
		parts = append(append(parts, ""), top...)
	}
	return strings.Join(append(parts, tail...), "\n")
}

// topLines lists the sweep's top 3 as the CLI does: each cell with its
// objective's median and spread, and whether it meets the constraints
// and is tied with the best. Nil before the sweep ends.
func (m *Model) topLines(w int) []string {
	if m.res == nil || len(m.res.Top) == 0 {
		return nil
	}
	st := m.common.Styles
	out := []string{st.Label.Render(common.Fit(fmt.Sprintf("top %d by %s:", len(m.res.Top), m.res.Objective), w))}
	for i, c := range m.res.Top {
		var notes []string
		if len(m.cons.Conds) > 0 {
			notes = append(notes, map[bool]string{true: "satisfies the constraints", false: "violates the constraints"}[c.SatisfiesConstraints])
		}
		if c.Tied {
			notes = append(notes, "tied")
		}
		line := fmt.Sprintf("  %d. %s  %s", i+1, c.Label, heatmap.Format(c.Samples.Summary, m.obj.Metric.Unit))
		if len(notes) > 0 {
			line += "  (" + strings.Join(notes, ", ") + ")"
		}
		out = append(out, common.Fit(line, w))
	}
	return out
}

// lines counts the screen lines of parts, some of which hold several.
func lines(parts []string) int {
	n := 0
	for _, p := range parts {
		n += strings.Count(p, "\n") + 1
	}
	return n
}

// wrapText word-wraps s (which may hold several lines) to w cells, each
// line rendered in style.
func wrapText(s string, w int, style lipgloss.Style) []string {
	var out []string
	for _, l := range strings.Split(ansi.Wordwrap(s, w, ""), "\n") {
		out = append(out, style.Render(common.Fit(l, w)))
	}
	return out
}

// batchChart is steady throughput against batch size along the best
// cell's line (its other axes fixed), h lines: a header, the bars and
// their labels. "" when the grid has one batch size.
func (m *Model) batchChart(cells map[cellKey]heatmap.Cell, best cellKey, w, h int) string {
	batches := sorted(m.spec.Batch)
	if len(batches) < 2 {
		return ""
	}
	byKey := map[cellKey][]*bench.Record{}
	for _, r := range m.recs {
		k := keyOf(r.Params)
		byKey[k] = append(byKey[k], r)
	}
	st := m.common.Styles
	ch := chart.New(m.common, "", common.Rate, st.Value)
	var labels []string
	peak, at := 0.0, 0
	for _, b := range batches {
		k := best
		k[0] = b
		label, v := strconv.Itoa(b), 0.0
		switch c := cells[k]; c.Status {
		case bench.StatusOK:
			// The protocol's samples, as the cell's own: with the steady
			// objective the bar is the heatmap's figure.
			v = protocolOf(byKey[k]).Samples(byKey[k], bench.MetricSteadyTput).Summary.Center
		case bench.StatusSkipped:
			label += " ·"
		case "":
		default:
			label += " ✗"
		}
		if v > peak {
			peak, at = v, b
		}
		ch.Push(v)
		labels = append(labels, label)
	}
	head := st.Label.Render("steady throughput vs batch") + st.Faint.Render(" · "+m.describe(best, "batch"))
	if peak > 0 {
		head += st.Faint.Render(fmt.Sprintf(" · peak %s at %d", common.Rate(peak), at))
	}
	return common.Fit(head, w) + "\n" + ch.Bars(labels, w, h-1)
}

// formView is the form: one line a field, then how to fill it in.
func (m *Model) formView(w int) string {
	st := m.common.Styles
	head := st.Accent.Render("Sweep "+m.scenario) + st.Faint.Render("  as workbench sweep: a grid of batch × concurrency × blocks")
	parts := []string{common.Fit(head, w), ""}
	for i, f := range m.fields {
		l := "  " + st.Label.Render(fieldLabels[i])
		if i == m.focus {
			l = st.Accent.Render("▸ " + fieldLabels[i])
		}
		parts = append(parts, common.Fit(l+f.View(), w))
	}
	hints := []string{
		"",
		"ranges as the CLI takes them: 16..256 doubles, 8..64:8 steps, 8,32,128 a list;",
		"empty blocks keep the scenario's. objective: steady, wall, latency_p95 or",
		"images_per_joule. constraints: e.g. latency_p95<200ms,peak_rss<4GiB.",
		"each cell is measured by the protocol (warm-up, windows, ≥3 samples).",
		"enter starts the sweep.",
	}
	for _, l := range hints {
		parts = append(parts, st.Faint.Render(common.Fit(l, w)))
	}
	if m.status != "" {
		parts = append(append(parts, ""), wrapText(m.status, w, st.Failed)...)
	}
	return strings.Join(parts, "\n")
}

// axisNames is "batch × concurrency × blocks" for the spec's axes.
func axisNames(spec backend.SweepSpec) string {
	var names []string
	for _, a := range spec.Axes() {
		names = append(names, a.Name)
	}
	return strings.Join(names, " × ")
}

// wrap joins items with sep into lines of at most w cells, breaking only
// between items (an item wider than w is truncated).
func wrap(items []string, sep string, w int) []string {
	var lines []string
	cur := ""
	for _, it := range items {
		switch {
		case cur == "":
			cur = it
		case lipgloss.Width(cur+sep+it) <= w:
			cur += sep + it
		default:
			lines = append(lines, common.Fit(cur, w))
			cur = it
		}
	}
	if cur != "" {
		lines = append(lines, common.Fit(cur, w))
	}
	return lines
}
