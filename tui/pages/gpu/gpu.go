// Package gpu is the GPU screen, after nvitop: a row per GPU (util, SM
// activity, tensor activity, DRAM bandwidth, memory, power, clocks, PCIe,
// this process's memory) and the selected GPU's history as sparklines,
// with the host's CPU and memory underneath. On a machine without a GPU it
// says so, with nvml's reason, and shows the host alone.
//
// The screen runs its own sampler (backend.Monitor) for as long as it is
// open, at backend.MonitorHz, and folds what arrived into its charts once a
// second, as the run screens do. A metric a GPU cannot give (GPM before
// Hopper, NVJPG where the driver says NOT_SUPPORTED) is not charted as
// zero: the screen names it and says why.
package gpu

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
	"workbench/nvml"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/components/chart"
)

// History is how many samples each chart keeps: ten minutes at
// backend.MonitorHz, wider than any terminal.
const History = 600

// Model is the GPU screen.
type Model struct {
	common  common.Common
	backend backend.Backend
	cores   int

	gen     int // sampler generation, so messages of a stopped one are dropped
	sampler nvml.Sampler
	samples <-chan nvml.Sample
	started bool
	err     error

	gpuOK  bool
	reason string
	devs   []nvml.SeriesGPU
	gpus   []*gpuView
	host   hostView
	cursor int
	n      int // samples folded in
}

// gpuView is one GPU's latest reading and history.
type gpuView struct {
	last   nvml.GPUSample
	seen   bool
	charts map[nvml.Metric]*chart.Model
}

// hostView is the host's history.
type hostView struct {
	last   nvml.HostSample
	seen   bool
	charts []*chart.Model // in hostCharts order
}

type (
	startedMsg struct {
		gen     int
		sampler nvml.Sampler
		err     error
	}
	tickMsg struct{ gen int }
)

// gpuCharts are the per-GPU histories, in the order they are drawn: what
// the GPU did beside util first, then memory, power, clocks and transfers.
var gpuCharts = []struct {
	m     nvml.Metric
	title string
	unit  string // bench unit, or "MHz", "W", "C"
	pct   bool   // a percentage, drawn against 100 and coloured by nvitop's thresholds
}{
	{nvml.GPUUtil, "util", bench.UnitPercent, true},
	{nvml.SMActivity, "SM activity", bench.UnitPercent, true},
	{nvml.TensorActivity, "tensor", bench.UnitPercent, true},
	{nvml.SMOccupancy, "SM occupancy", bench.UnitPercent, true},
	{nvml.DRAMBandwidth, "DRAM bw", bench.UnitPercent, true},
	{nvml.MemUsed, "memory", bench.UnitBytes, false},
	{nvml.ProcGPUMem, "this process", bench.UnitBytes, false},
	{nvml.Power, "power", "W", false},
	{nvml.SMClock, "SM clock", "MHz", false},
	{nvml.MemClock, "mem clock", "MHz", false},
	{nvml.PCIeRx, "PCIe rx", "B/s", false},
	{nvml.PCIeTx, "PCIe tx", "B/s", false},
	{nvml.NVJPGUtil, "NVJPG", bench.UnitPercent, true},
	{nvml.Temperature, "temp", "C", false},
}

// labels name metrics in sentences about what is unavailable.
var labels = func() map[nvml.Metric]string {
	m := map[nvml.Metric]string{}
	for _, c := range gpuCharts {
		m[c.m] = c.title
	}
	m[nvml.MemUtil], m[nvml.Energy], m[nvml.MemTotal] = "memory util", "energy", "memory total"
	return m
}()

// New returns the screen; Start begins sampling.
func New(c common.Common, b backend.Backend) *Model {
	m := &Model{common: c, backend: b, cores: max(1, b.Info().Cores)}
	m.host = newHost(c, m.cores)
	return m
}

// SetCommon re-lays-out the screen. The charts keep theirs: they draw at
// the size they are given and share the styles.
func (m *Model) SetCommon(c common.Common) { m.common = c }

// Start makes and starts the sampler off the UI goroutine (NVML's first
// Init opens the driver library) and reports it with a message.
func (m *Model) Start(ctx context.Context) tea.Cmd {
	m.gen++
	gen, b := m.gen, m.backend
	return func() tea.Msg {
		s, err := backend.Monitor(b)
		if err == nil {
			if err = s.Start(ctx); err != nil {
				s = nil
			}
		}
		return startedMsg{gen: gen, sampler: s, err: err}
	}
}

// Stop ends sampling; the sampler releases NVML.
func (m *Model) Stop() {
	m.gen++
	if m.sampler != nil {
		m.sampler.Stop()
		m.sampler = nil
	}
}

func (m *Model) tick() tea.Cmd {
	gen := m.gen
	return tea.Tick(common.TickInterval, func(time.Time) tea.Msg { return tickMsg{gen} })
}

// Update handles the sampler's messages and the keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.common.Keys
	switch msg := msg.(type) {
	case startedMsg:
		if msg.gen != m.gen {
			if msg.sampler != nil {
				msg.sampler.Stop() // the screen closed while it started
			}
			return nil
		}
		m.started, m.err = true, msg.err
		if msg.err != nil {
			return nil
		}
		m.sampler = msg.sampler
		m.samples, _ = msg.sampler.Subscribe(16) // Stop closes it
		m.gpuOK, m.reason = msg.sampler.GPUStatus()
		m.drain()
		return m.tick()
	case tickMsg:
		if msg.gen != m.gen || m.sampler == nil {
			return nil
		}
		m.drain()
		return m.tick()
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Up):
			m.cursor = max(0, m.cursor-1)
		case key.Matches(msg, k.Down):
			m.cursor = min(max(0, len(m.gpus)-1), m.cursor+1)
		case key.Matches(msg, k.Back):
			m.Stop()
			return common.Nav(common.NavMsg{Page: common.PageHome})
		}
	}
	return nil
}

// drain folds every queued sample in and refreshes what the devices can
// give, which grows as NOT_SUPPORTED answers arrive.
func (m *Model) drain() {
	for {
		select {
		case s, ok := <-m.samples:
			if !ok {
				m.samples = nil
				return
			}
			m.Apply(s)
			continue
		default:
		}
		break
	}
	if m.sampler != nil {
		m.devs = m.sampler.Devices()
	}
}

// Apply folds one sample into the histories. A metric the sample did not
// read adds no point, so a gap never draws as a zero.
func (m *Model) Apply(s nvml.Sample) {
	m.n++
	for i, g := range s.GPUs {
		for len(m.gpus) <= i {
			m.gpus = append(m.gpus, m.newGPU())
		}
		v := m.gpus[i]
		v.last, v.seen = g, true
		for _, c := range gpuCharts {
			if x, ok := g.Value(c.m); ok {
				ch := v.charts[c.m]
				if c.m == nvml.MemUsed || c.m == nvml.ProcGPUMem {
					ch.Max = float64(g.MemTotalBytes)
				}
				ch.Push(x)
			}
		}
	}
	h := &m.host
	h.last, h.seen = s.Host, true
	for i, c := range hostCharts {
		if !s.Host.Missing.Has(c.m) {
			h.charts[i].Push(c.value(s.Host))
		}
	}
}

func (m *Model) newGPU() *gpuView {
	st := m.common.Styles
	v := &gpuView{charts: map[nvml.Metric]*chart.Model{}}
	for _, c := range gpuCharts {
		ch := chart.New(m.common, c.title, formatter(c.unit), st.Right)
		ch.Keep = History
		if c.pct {
			ch.Max, ch.ValueStyle = 100, st.Util
		}
		switch c.m {
		case nvml.MemUsed, nvml.ProcGPUMem:
			ch.Style = st.MemChart
		case nvml.Power, nvml.Temperature:
			ch.Style = st.Left
		}
		v.charts[c.m] = &ch
	}
	v.charts[nvml.MemUsed].ValueStyle = func(x float64) lipgloss.Style {
		return st.MemUsed(100 * x / max(1, v.charts[nvml.MemUsed].Max))
	}
	return v
}

// hostCharts are the host's histories, from nvml's /proc readings.
var hostCharts = []struct {
	m     nvml.Metric
	title string
	value func(nvml.HostSample) float64
}{
	{nvml.SysCPU, "host CPU", func(h nvml.HostSample) float64 { return h.SysCPUPct }},
	{nvml.ProcCPU, "this process CPU", func(h nvml.HostSample) float64 { return h.ProcCPUCores }},
	{nvml.ProcRSS, "this process RSS", func(h nvml.HostSample) float64 { return float64(h.ProcRSSBytes) }},
	{nvml.Load1, "load 1m", func(h nvml.HostSample) float64 { return h.Load1 }},
}

func newHost(c common.Common, cores int) hostView {
	st := c.Styles
	var h hostView
	for _, hc := range hostCharts {
		var ch chart.Model
		switch hc.m {
		case nvml.SysCPU:
			ch = chart.New(c, hc.title, common.Pct, st.CPUChart)
			ch.Max, ch.ValueStyle = 100, st.Util
		case nvml.ProcCPU:
			ch = chart.New(c, hc.title, cores2, st.CPUChart)
			ch.Max = float64(cores)
			ch.ValueStyle = func(v float64) lipgloss.Style { return st.Util(100 * v / float64(cores)) }
		case nvml.ProcRSS:
			ch = chart.New(c, hc.title, common.Bytes, st.MemChart)
		default:
			ch = chart.New(c, hc.title, func(v float64) string { return fmt.Sprintf("%.2f", v) }, st.Faint)
		}
		ch.Keep = History
		h.charts = append(h.charts, &ch)
	}
	return h
}

func cores2(v float64) string { return fmt.Sprintf("%.2f cores", v) }

// formatter prints a value in unit: percentages and bytes as the reports
// do, clocks whole as nvidia-smi does.
func formatter(unit string) func(float64) string {
	switch unit {
	case "MHz":
		return func(v float64) string { return fmt.Sprintf("%.0f MHz", v) }
	case "C":
		return func(v float64) string { return fmt.Sprintf("%.0f°C", v) }
	case "W":
		return func(v float64) string { return fmt.Sprintf("%.0f W", v) }
	case "B/s":
		return func(v float64) string { return bench.FormatValue(v, bench.UnitBytes) + "/s" }
	}
	return func(v float64) string { return bench.FormatValue(v, unit) }
}

// Help lists the screen's keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	if len(m.gpus) > 1 {
		return k.PageHelp(k.Up, k.Down, k.Back)
	}
	return k.PageHelp(k.Back)
}

// View renders the screen in width × height cells.
func (m *Model) View(width, height int) string {
	st := m.common.Styles
	switch {
	case !m.started:
		return st.Faint.Render("starting telemetry…")
	case m.err != nil:
		return st.Bad.Render(common.Fit("telemetry could not start: "+m.err.Error(), width))
	case !m.gpuOK:
		return m.noGPUView(width, height)
	}
	return m.gpuView(width, height)
}

// noGPUView says there is no GPU, and why, and charts the host.
func (m *Model) noGPUView(w, h int) string {
	st := m.common.Styles
	wrap := lipgloss.NewStyle().Width(w)
	head := st.Warn.Render(wrap.Render(m.reason)) + "\n" +
		st.Faint.Render(wrap.Render("GPU metrics (util, SM activity, tensor, memory, power, clocks, PCIe) need an NVIDIA GPU and its driver. This is the host."))
	rest := max(2, h-lipgloss.Height(head)-1)
	return head + "\n\n" + grid(m.host.charts, w, rest)
}

// gpuView is the table of GPUs, what is unavailable and why, the selected
// GPU's histories and the host line.
func (m *Model) gpuView(w, h int) string {
	st := m.common.Styles
	var top []string
	top = append(top, common.Fit(m.statusLine(), w))
	top = append(top, m.table(w))
	for _, n := range m.unavailableNotes() {
		top = append(top, st.Warn.Render(lipgloss.NewStyle().Width(w).Render(n)))
	}
	head := strings.Join(top, "\n")
	hostLine := m.hostLine(w)
	if len(m.gpus) == 0 {
		return head + "\n" + st.Faint.Render("waiting for the first sample…")
	}
	m.cursor = min(m.cursor, len(m.gpus)-1)
	g := m.gpus[m.cursor]
	title := st.Header.Render(fmt.Sprintf("GPU %d history", g.last.Index))
	if len(m.gpus) > 1 {
		title += st.Faint.Render("  (↑/↓ picks a GPU)")
	}
	var charts []*chart.Model
	for _, c := range gpuCharts {
		if ch := g.charts[c.m]; ch.Len() > 0 {
			charts = append(charts, ch)
		}
	}
	rest := h - lipgloss.Height(head) - 1 - 1 // title and host line
	body := head + "\n" + common.Fit(title, w)
	if rest >= 2 {
		body += "\n" + grid(charts, w, rest)
	}
	return common.Block(body, w, max(1, h-1)) + "\n" + hostLine
}

// statusLine names the GPUs, the driver and how much history there is.
func (m *Model) statusLine() string {
	st := m.common.Styles
	parts := []string{}
	if len(m.devs) > 0 {
		d := m.devs[0]
		name := d.Name
		if d.Architecture != "" {
			name += " (" + d.Architecture + ")"
		}
		parts = append(parts, fmt.Sprintf("%d× %s", len(m.devs), name))
		if d.DriverVersion != "" {
			parts = append(parts, "driver "+d.DriverVersion)
		}
		if d.CUDADriverVersion != "" {
			parts = append(parts, "CUDA "+d.CUDADriverVersion)
		}
	}
	parts = append(parts, fmt.Sprintf("%d samples, 1 a second", m.n))
	return st.Label.Render(strings.Join(parts, " · "))
}

// column is one column of the GPU table: its title, width, and how a cell
// reads from a GPU.
type column struct {
	title   string
	width   int
	compact bool // shown on small terminals too
	cell    func(g nvml.GPUSample, st *common.Styles) string
}

func (m *Model) columns() []column {
	pct := func(metric nvml.Metric) func(nvml.GPUSample, *common.Styles) string {
		return func(g nvml.GPUSample, st *common.Styles) string {
			v, ok := g.Value(metric)
			if !ok {
				return "n/a"
			}
			return st.Util(v).Render(common.Pct(v))
		}
	}
	return []column{
		{"GPU", 3, true, func(g nvml.GPUSample, _ *common.Styles) string { return fmt.Sprint(g.Index) }},
		{"name", 22, false, func(g nvml.GPUSample, _ *common.Styles) string { return m.name(g.Index) }},
		{"util", 6, true, pct(nvml.GPUUtil)},
		{"SM act", 6, true, pct(nvml.SMActivity)},
		{"tensor", 6, true, pct(nvml.TensorActivity)},
		{"DRAM bw", 7, false, pct(nvml.DRAMBandwidth)},
		{"memory", 21, false, func(g nvml.GPUSample, st *common.Styles) string {
			if g.Missing.Has(nvml.MemUsed) || g.MemTotalBytes == 0 {
				return "n/a"
			}
			p := 100 * float64(g.MemUsedBytes) / float64(g.MemTotalBytes)
			return fmt.Sprintf("%s/%s ", common.Bytes(float64(g.MemUsedBytes)), common.Bytes(float64(g.MemTotalBytes))) +
				st.MemUsed(p).Render(common.Pct(p))
		}},
		{"mem", 6, true, func(g nvml.GPUSample, st *common.Styles) string {
			if g.Missing.Has(nvml.MemUsed) || g.MemTotalBytes == 0 {
				return "n/a"
			}
			p := 100 * float64(g.MemUsedBytes) / float64(g.MemTotalBytes)
			return st.MemUsed(p).Render(common.Pct(p))
		}},
		{"power", 6, true, value(nvml.Power, formatter("W"))},
		{"SM/mem clk", 10, false, func(g nvml.GPUSample, _ *common.Styles) string {
			sm, ok1 := g.Value(nvml.SMClock)
			mc, ok2 := g.Value(nvml.MemClock)
			f := func(v float64, ok bool) string {
				if !ok {
					return "n/a"
				}
				return fmt.Sprintf("%.0f", v)
			}
			return f(sm, ok1) + "/" + f(mc, ok2)
		}},
		{"PCIe rx/tx", 19, false, func(g nvml.GPUSample, _ *common.Styles) string {
			f := func(metric nvml.Metric) string {
				v, ok := g.Value(metric)
				if !ok {
					return "n/a"
				}
				return bench.FormatValue(v, bench.UnitBytes)
			}
			return f(nvml.PCIeRx) + "/" + f(nvml.PCIeTx) + "/s"
		}},
		{"this proc", 9, true, value(nvml.ProcGPUMem, common.Bytes)},
		{"temp", 5, false, value(nvml.Temperature, formatter("C"))},
	}
}

func value(metric nvml.Metric, f func(float64) string) func(nvml.GPUSample, *common.Styles) string {
	return func(g nvml.GPUSample, _ *common.Styles) string {
		if v, ok := g.Value(metric); ok {
			return f(v)
		}
		return "n/a"
	}
}

// name is the GPU's name from the device list.
func (m *Model) name(index int) string {
	for _, d := range m.devs {
		if d.Index == index {
			return d.Name
		}
	}
	return ""
}

// table draws a row per GPU, the selected one highlighted; the compact
// layout keeps the columns that fit 80 cells. Columns that do not fit are
// dropped from the right.
func (m *Model) table(w int) string {
	st := m.common.Styles
	compact := m.common.Compact()
	var cols []column
	used := 0
	for _, c := range m.columns() {
		if compact && !c.compact || compact && c.title == "memory" || !compact && c.title == "mem" {
			continue
		}
		if used+c.width+1 > w {
			break
		}
		cols = append(cols, c)
		used += c.width + 1
	}
	tc := make([]common.Column, len(cols))
	for i, c := range cols {
		tc[i] = common.Column{Title: c.title, Width: c.width, Numeric: i > 0 && c.title != "name"}
	}
	rows := make([][]string, len(m.gpus))
	for i, g := range m.gpus {
		for _, c := range cols {
			rows[i] = append(rows[i], c.cell(g.last, st))
		}
	}
	return common.Table(st, tc, rows, func(i int) (lipgloss.Style, bool) {
		return st.Selected, len(m.gpus) > 1 && i == m.cursor
	})
}

// unavailableNotes say, one line per reason, what the GPUs cannot give:
// "GPU 0, 1: SM activity, tensor, SM occupancy and DRAM bw unavailable:
// GPM needs Hopper or newer (this GPU is Ampere)".
func (m *Model) unavailableNotes() []string {
	order := make([]nvml.Metric, len(gpuCharts))
	for i, c := range gpuCharts {
		order[i] = c.m
	}
	type note struct{ metrics, reason string }
	gpus := map[note][]string{}
	var notes []note
	for _, d := range m.devs {
		for _, u := range nvml.ByReason(d.Unavailable, order) {
			names := make([]string, len(u.Metrics))
			for i, x := range u.Metrics {
				names[i] = labels[x]
			}
			k := note{andList(names), u.Reason}
			if _, seen := gpus[k]; !seen {
				notes = append(notes, k)
			}
			gpus[k] = append(gpus[k], fmt.Sprint(d.Index))
		}
	}
	var out []string
	for _, k := range notes {
		out = append(out, fmt.Sprintf("GPU %s: %s unavailable: %s", strings.Join(gpus[k], ", "), k.metrics, k.reason))
	}
	return out
}

func andList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// hostLine is the host in one line, under the GPU histories.
func (m *Model) hostLine(w int) string {
	st := m.common.Styles
	h := m.host.last
	kv := func(k, v string) string { return st.Label.Render(k+" ") + st.Value.Render(v) }
	var parts []string
	if !h.Missing.Has(nvml.SysCPU) {
		parts = append(parts, st.Label.Render("host CPU ")+st.Util(h.SysCPUPct).Render(common.Pct(h.SysCPUPct)))
	}
	if !h.Missing.Has(nvml.Load1) {
		parts = append(parts, kv("load", fmt.Sprintf("%.2f", h.Load1)))
	}
	if !h.Missing.Has(nvml.ProcCPU) {
		parts = append(parts, kv("this process", cores2(h.ProcCPUCores)))
	}
	if !h.Missing.Has(nvml.ProcRSS) {
		parts = append(parts, kv("RSS", common.Bytes(float64(h.ProcRSSBytes))))
	}
	if !m.host.seen {
		parts = nil
	}
	return common.Fit(strings.Join(parts, st.Faint.Render(" · ")), w)
}

// grid lays charts out in columns of at least 40 cells (at most 3), each a
// header over a sparkline, as tall as h allows up to 6 rows; charts that
// do not fit even one row high are left out.
func grid(charts []*chart.Model, w, h int) string {
	if len(charts) == 0 || h < 2 || w < 10 {
		return ""
	}
	cols := min(3, max(1, w/40))
	gap := 2
	colW := (w - gap*(cols-1)) / cols
	rows := int(math.Ceil(float64(len(charts)) / float64(cols)))
	if rows*2 > h {
		rows = h / 2
		charts = charts[:min(len(charts), rows*cols)]
	}
	cellH := min(7, h/rows)
	spacer := common.Block("", gap, cellH)
	var lines []string
	for r := range rows {
		var cells []string
		for c := range cols {
			if c > 0 {
				cells = append(cells, spacer)
			}
			cell := ""
			if i := r*cols + c; i < len(charts) {
				cell = charts[i].View(colW, cellH-1)
			}
			cells = append(cells, common.Block(cell, colW, cellH))
		}
		lines = append(lines, lipgloss.JoinHorizontal(lipgloss.Top, cells...))
	}
	return strings.Join(lines, "\n")
}

// Samples is how many samples the screen has folded in, for tests.
func (m *Model) Samples() int { return m.n }
