// Package tui is workbench's terminal UI: a home screen of scenarios with
// their teaching text, a live side-by-side race, interactive tuning, a sweep
// heatmap, a guided workshop and an nvitop-style GPU screen.
//
// The layout follows soft-serve: package common holds the size, styles and
// key map every component embeds; each component (components/...) and each
// page (pages/...) lives in its own package with a Model and a New. The root
// model follows glow: a state enum names the active page, global keys are
// handled first (quit, help; none but ctrl+c while a page's text field has
// the keys), then the window size, then the message goes to the active page.
//
// The TUI never blocks the engine. Every run publishes on its own event bus;
// a screen subscribes with a buffer (the bus drops events rather than wait)
// and folds what is queued into its models once a second (common.TickInterval),
// so however fast snapshots arrive the screen redraws for them once a
// second, well under the ten-a-second ceiling.
//
// Charts are ntcharts v2 sparklines. The sweep heatmap is drawn with
// lipgloss rather than ntcharts' heatmap, which plots a continuous field: a
// sweep grid is a handful of discrete cells that must carry their value and
// spread, a failed or skipped mark and the best and tied marks as text, so
// the heatmap still reads under NO_COLOR and on a projector. The sweep's
// throughput-vs-batch chart is the same sparkline drawn as bars.
//
// Everything the TUI needs from the rest of workbench goes through
// backend.Backend, so tests drive every screen with backend.Fake and a
// deterministic event script.
package tui

import (
	"context"
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"workbench/bench"
	"workbench/nvml"
	"workbench/pipeline"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/pages/gpu"
	"workbench/tui/pages/home"
	"workbench/tui/pages/jobs"
	"workbench/tui/pages/race"
	"workbench/tui/pages/sweep"
	"workbench/tui/pages/tune"
	"workbench/tui/pages/workshop"
)

type state int

const (
	stateHome state = iota
	stateRace
	stateTune
	stateSweep
	stateWorkshop
	stateJobs
	stateGPU
)

var stateNames = [...]string{"home", "race", "tune", "sweep", "workshop", "jobs", "gpu"}

// page is what the root needs of every page.
type page interface {
	Update(tea.Msg) tea.Cmd
	View(w, h int) string
	Help() common.Help
	SetCommon(common.Common)
}

// stopper is a page that may have runs in flight.
type stopper interface{ Stop() }

// typist is a page whose text field has the keys: the root then leaves
// every key to it but ctrl+c, so q and ? can be typed.
type typist interface{ Typing() bool }

// Options choose where the TUI opens.
type Options struct {
	// Start is the first page: common.PageHome (default), PageRace,
	// PageWorkshop, PageJobs or PageGPU.
	Start string
	// Left and Right are the race pair for Start == PageRace; empty means
	// the backend's default.
	Left, Right string
	// Repeat is the runs of each side of a race, interleaved A B A B
	// (--repeat); 0 means race.DefaultRepeat. The home screen can change it.
	Repeat int
	// Poll is how often the Jobs screen asks the cluster (--poll, as for
	// submit --follow and jobs --watch); 0 means ray.DefaultPollInterval.
	// The screen can change it.
	Poll time.Duration
	// NoColor drops all colour (NO_COLOR).
	NoColor bool
	// Width and Height are the initial size, before the terminal reports
	// its own (tests); zero means 80×24.
	Width, Height int
}

// Model is the root model.
type Model struct {
	ctx      context.Context
	common   common.Common
	backend  backend.Backend
	opts     Options
	state    state
	pages    map[state]page
	help     help.Model
	showHelp bool
}

// New returns the root model. Runs started from it end when ctx does.
func New(ctx context.Context, b backend.Backend, o Options) *Model {
	w, h := o.Width, o.Height
	if w == 0 || h == 0 {
		w, h = 80, 24
	}
	c := common.New(w, h, o.NoColor)
	hm := help.New()
	hm.SetWidth(w)
	if o.NoColor {
		hm.Styles = help.Styles{}
	}
	m := &Model{ctx: ctx, common: c, backend: b, opts: o, help: hm, pages: map[state]page{}}
	hm0 := home.New(c, b)
	hm0.SetRepeat(o.Repeat)
	m.pages[stateHome] = hm0
	return m
}

// Init opens the starting page.
func (m *Model) Init() tea.Cmd {
	switch m.opts.Start {
	case common.PageRace:
		l, r := m.opts.Left, m.opts.Right
		info := m.backend.Info()
		if l == "" {
			l = info.Left
		}
		if r == "" {
			r = info.Right
		}
		return common.Nav(common.NavMsg{Page: common.PageRace, Left: l, Right: r, Repeat: m.opts.Repeat})
	case common.PageWorkshop:
		return common.Nav(common.NavMsg{Page: common.PageWorkshop})
	case common.PageJobs:
		return common.Nav(common.NavMsg{Page: common.PageJobs})
	case common.PageGPU:
		return common.Nav(common.NavMsg{Page: common.PageGPU})
	}
	return nil
}

// Page names the active page.
func (m *Model) Page() string { return stateNames[m.state] }

// Typing reports whether the active page has a text field in focus: every
// key but ctrl+c is then text, for the root and for a host that adds keys
// of its own (the SSH server).
func (m *Model) Typing() bool {
	t, ok := m.pages[m.state].(typist)
	return ok && t.Typing()
}

// Active returns the active page's model, for tests.
func (m *Model) Active() any { return m.pages[m.state] }

// Update handles global keys, then the size, then navigation, then hands
// the message to the active page.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k := m.common.Keys
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if m.Typing() {
			if msg.String() == "ctrl+c" {
				m.stopAll()
				return m, tea.Quit
			}
			break // q and ? are text in a field
		}
		switch {
		case key.Matches(msg, k.Quit):
			m.stopAll()
			return m, tea.Quit
		case key.Matches(msg, k.Help):
			m.showHelp = !m.showHelp
			return m, nil
		}
	case tea.WindowSizeMsg:
		m.common = m.common.Resize(msg.Width, msg.Height)
		m.help.SetWidth(msg.Width)
		for _, p := range m.pages {
			p.SetCommon(m.common)
		}
		return m, nil
	case common.NavMsg:
		return m, m.open(msg)
	}
	return m, m.pages[m.state].Update(msg)
}

func (m *Model) stopAll() {
	for _, p := range m.pages {
		if s, ok := p.(stopper); ok {
			s.Stop()
		}
	}
}

func (m *Model) open(n common.NavMsg) tea.Cmd {
	if s, ok := m.pages[m.state].(stopper); ok && m.state != stateHome {
		s.Stop()
	}
	c, b := m.common, m.backend
	switch n.Page {
	case common.PageHome:
		m.state = stateHome
		return nil
	case common.PageRace:
		rep := n.Repeat
		if rep == 0 {
			rep = m.opts.Repeat
		}
		r := race.New(c, b, backend.RunSpec{Scenario: n.Left, Label: n.Left}, backend.RunSpec{Scenario: n.Right, Label: n.Right}, rep)
		m.pages[stateRace], m.state = r, stateRace
		return r.Start(m.ctx)
	case common.PageTune:
		t := tune.New(c, b, n.Scenario)
		t.SetContext(m.ctx)
		m.pages[stateTune], m.state = t, stateTune
		return nil
	case common.PageSweep:
		s := sweep.New(c, b, n.Scenario)
		s.SetContext(m.ctx)
		m.pages[stateSweep], m.state = s, stateSweep
		return nil
	case common.PageWorkshop:
		w := workshop.New(c, b)
		w.SetRepeat(m.opts.Repeat)
		m.pages[stateWorkshop], m.state = w, stateWorkshop
		return w.Start(m.ctx)
	case common.PageJobs:
		jb, ok := b.(backend.JobsBackend)
		if !ok || jb.Jobs() == nil {
			return nil
		}
		j := jobs.New(c, jb.Jobs())
		j.SetPoll(m.opts.Poll)
		m.pages[stateJobs], m.state = j, stateJobs
		return j.Start(m.ctx)
	case common.PageGPU:
		g := gpu.New(c, b)
		m.pages[stateGPU], m.state = g, stateGPU
		return g.Start(m.ctx)
	}
	return nil
}

// View draws the header, the active page and the help bar.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "workbench · " + m.Page()
	return v
}

// Render is the screen as a string, the same text View puts on screen.
func (m *Model) Render() string {
	w, h := m.common.Width, m.common.Height
	st := m.common.Styles
	p := m.pages[m.state]
	var hv string
	if m.showHelp {
		hv = m.help.FullHelpView(p.Help().FullHelp())
	} else {
		hv = m.help.ShortHelpView(p.Help().ShortHelp())
	}
	hv = st.Footer.Render(common.Block(hv, w, -1))
	head := m.header(w)
	bodyH := max(1, h-lipgloss.Height(head)-lipgloss.Height(hv))
	body := common.Block(p.View(w, bodyH), w, bodyH)
	return head + "\n" + body + "\n" + hv
}

func (m *Model) header(w int) string {
	st := m.common.Styles
	info := m.backend.Info()
	left := st.Title.Render("workbench") + " " + st.Subtitle.Render(stateNames[m.state])
	right := st.Faint.Render(info.Model + " · " + itoa(info.Images) + " images · " + info.Device)
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 2 {
		return common.Fit(left, w)
	}
	return left + spaces(gap) + right
}

// tracked counts the backend calls in flight, so Run can wait for them to
// end (and clean up their partial output) before it returns.
type tracked struct {
	backend.Backend
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers a call, refusing once the TUI has closed: a command
// still in flight when the program ends must not start a run.
func (t *tracked) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

// close refuses new calls and waits for those in flight.
func (t *tracked) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}

func (t *tracked) Run(ctx context.Context, spec backend.RunSpec, bus *pipeline.EventBus) (*bench.Record, error) {
	if !t.enter() {
		return nil, context.Canceled
	}
	defer t.wg.Done()
	return t.Backend.Run(ctx, spec, bus)
}

func (t *tracked) Sweep(ctx context.Context, spec backend.SweepSpec, on func(*bench.Record)) (*bench.SweepResult, error) {
	if !t.enter() {
		return nil, context.Canceled
	}
	defer t.wg.Done()
	return t.Backend.Sweep(ctx, spec, on)
}

// Run opens the TUI on the terminal until the user quits or ctx ends. It
// cancels any run in flight and waits for it to stop before returning, so
// the terminal is restored and no partial output is left behind.
func Run(ctx context.Context, b backend.Backend, o Options, popts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m, closeRuns := Host(ctx, b, o)
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, popts...)...)
	_, err := p.Run()
	cancel()
	closeRuns()
	if err != nil && ctx.Err() != nil && errorsIsKilled(err) {
		return nil
	}
	return err
}

// Host returns the root model for a program the caller runs itself (the
// SSH server wraps it in its own model), and a function to call once that
// program has ended: it cancels the runs the model started and waits for
// them to stop, so they leave no partial output, as Run does.
func Host(ctx context.Context, b backend.Backend, o Options) (*Model, func()) {
	ctx, cancel := context.WithCancel(ctx)
	tb := &tracked{Backend: b}
	return New(ctx, tb, o), func() { cancel(); tb.close() }
}

// Monitor passes the wrapped backend's choice of what the GPU screen
// watches through, as Jobs does the cluster.
func (t *tracked) Monitor() (nvml.Sampler, error) { return backend.Monitor(t.Backend) }

// Jobs passes the wrapped backend's Ray cluster through: without it the
// type assertion in open would see only tracked and never open the Jobs
// screen under Run or Host.
func (t *tracked) Jobs() backend.Jobs {
	if jb, ok := t.Backend.(backend.JobsBackend); ok {
		return jb.Jobs()
	}
	return nil
}
