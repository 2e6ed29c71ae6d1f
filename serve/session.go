package serve

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"workbench/pipeline"
	"workbench/tui"
	"workbench/tui/backend"
	"workbench/tui/common"
	"workbench/tui/components/runpane"
	"workbench/tui/pages/workshop"
)

// identity is who a connection authenticated as.
type identity struct {
	// Fingerprint is the key's SHA256 fingerprint, as ssh-keygen -l prints.
	Fingerprint string
	// Name is the authorized_keys comment, else the fingerprint's start.
	Name       string
	Instructor bool
}

// Short is a file-name-safe tag for the key.
func (i identity) Short() string {
	fp := strings.TrimPrefix(i.Fingerprint, "SHA256:")
	fp = strings.Map(func(r rune) rune {
		if r == '/' || r == '+' || r == '=' {
			return '_'
		}
		return r
	}, fp)
	return fp[:min(8, len(fp))]
}

// session is one SSH connection's TUI.
type session struct {
	srv     *Server
	id      identity
	backend backend.Backend // the session's own backend, as configured
	inbox   chan tea.Msg    // from the classroom: follow, stop, state changes
	mu      sync.Mutex
	ticket  *Ticket
	input   atomic.Int64 // unix nanoseconds of the last key from the client
}

// send hands m to the session's screen, never blocking the sender; a
// session so far behind that its inbox is full loses it.
func (s *session) send(m tea.Msg) {
	select {
	case s.inbox <- m:
	default:
	}
}

func (s *session) setTicket(t *Ticket) {
	s.mu.Lock()
	s.ticket = t
	s.mu.Unlock()
}

func (s *session) waiting() *Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ticket
}

// Keys the server adds to every screen.
var (
	keyWatch     = key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "watch the run in progress"))
	keyBroadcast = key.NewBinding(key.WithKeys("B"), key.WithHelp("B", "broadcast my screen"))
	keyRelease   = key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "release/hold runs"))
	keyReport    = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "workshop report"))
	keyQuit      = key.NewBinding(key.WithKeys("q", "ctrl+c"))
	keyLeave     = key.NewBinding(key.WithKeys("esc", "v"))
)

type (
	inboxMsg    struct{ m tea.Msg }
	queueMsg    struct{}
	waitTickMsg struct{}
	// followerMsg carries a message of the follower's own commands, so it
	// reaches the follower model and not the session's own.
	followerMsg struct {
		gen int
		msg tea.Msg
	}
	specTickMsg struct{ gen int }
	noteMsg     string
)

// model wraps one session's TUI: the workbench root model, a status line
// under it with the queue and the classroom, a read-only spectator view of
// the run in progress, and, while the instructor broadcasts, a follower
// model that mirrors the instructor's screen.
type model struct {
	s       *session
	ctx     context.Context
	root    *tui.Model
	w, h    int
	noColor bool
	styles  *common.Styles

	// What opened the root's page and the keys pressed on it since: what
	// a broadcast starts from.
	nav  *common.NavMsg
	keys []tea.KeyPressMsg

	follow       *tui.Model
	followCancel context.CancelFunc
	followGen    int

	spec      *runpane.Model
	specLive  *Live
	specCh    <-chan pipeline.Event
	specStop  func()
	specGen   int
	waitTick  bool
	lastStep  int
	note      string
	lessonTit []string
}

func newModel(ctx context.Context, s *session, root *tui.Model, w, h int, noColor bool) *model {
	m := &model{s: s, ctx: ctx, root: root, w: w, h: h, noColor: noColor, styles: common.NewStyles(noColor), lastStep: -1}
	for _, st := range s.backend.Lesson() {
		m.lessonTit = append(m.lessonTit, st.Title)
	}
	return m
}

func (m *model) listenInbox() tea.Cmd {
	in, done := m.s.inbox, m.ctx.Done()
	return func() tea.Msg {
		select {
		case msg := <-in:
			return inboxMsg{msg}
		case <-done:
			return nil
		}
	}
}

func (m *model) listenQueue() tea.Cmd {
	ch, done := m.s.srv.queue.Changed(), m.ctx.Done()
	return func() tea.Msg {
		select {
		case <-ch:
			return queueMsg{}
		case <-done:
			return nil
		}
	}
}

// Init starts the root model and the listeners.
func (m *model) Init() tea.Cmd {
	return tea.Batch(m.root.Init(), m.listenInbox(), m.listenQueue())
}

// wrap tags the messages a follower command produces, through batches,
// and drops a follower's quit: only the participant ends the session.
func wrap(gen int, c tea.Cmd) tea.Cmd {
	if c == nil {
		return nil
	}
	return func() tea.Msg {
		switch msg := c().(type) {
		case nil, tea.QuitMsg:
			return nil
		case tea.BatchMsg:
			out := make(tea.BatchMsg, 0, len(msg))
			for _, c := range msg {
				out = append(out, wrap(gen, c))
			}
			return out
		default:
			return followerMsg{gen, msg}
		}
	}
}

func (m *model) bodyH() int { return max(1, m.h-1) }

// Update routes a message: the server's first, then the size, then keys
// (the server's keys, then read-only modes, then the page), then the rest
// to the root model.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case inboxMsg:
		return m, tea.Batch(m.inbox(msg.m), m.listenInbox())
	case queueMsg:
		return m, tea.Batch(m.listenQueue(), m.armWait())
	case waitTickMsg:
		m.waitTick = false
		return m, m.armWait()
	case noteMsg:
		m.note = string(msg)
		return m, nil
	case followerMsg:
		if m.follow == nil || msg.gen != m.followGen {
			return m, nil
		}
		_, c := m.follow.Update(msg.msg)
		return m, wrap(m.followGen, c)
	case specTickMsg:
		if msg.gen != m.specGen || m.spec == nil {
			return m, nil
		}
		return m, m.drainSpec()
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		inner := tea.WindowSizeMsg{Width: m.w, Height: m.bodyH()}
		if m.follow != nil {
			m.follow.Update(inner)
		}
		if m.spec != nil {
			m.spec.SetCommon(common.New(m.w, m.bodyH(), m.noColor))
		}
		_, c := m.root.Update(inner)
		return m, c
	case tea.KeyPressMsg:
		m.s.input.Store(time.Now().UnixNano())
		return m, m.key(msg)
	case common.NavMsg:
		m.nav, m.keys = &msg, nil
		m.s.srv.class.Nav(m.s, msg)
	}
	_, c := m.root.Update(msg)
	m.trackStep()
	return m, c
}

func (m *model) key(k tea.KeyPressMsg) tea.Cmd {
	if m.spec == nil && m.follow == nil && m.root.Typing() && k.String() != "ctrl+c" {
		return m.forward(k) // text in a form's field: q, e, v, B and R too
	}
	if key.Matches(k, keyQuit) {
		m.stopWatching()
		m.stopFollowing()
		_, c := m.root.Update(k)
		return c
	}
	if m.spec != nil {
		if key.Matches(k, keyLeave) {
			m.stopWatching()
		}
		return nil // read-only
	}
	if m.s.id.Instructor {
		switch {
		case key.Matches(k, keyBroadcast):
			if m.s.srv.class.Broadcasting() {
				m.s.srv.class.StopBroadcast()
				m.note = "broadcast stopped: everyone has their own screen"
			} else {
				m.s.srv.class.StartBroadcast(m.s, m.nav, m.keys)
				m.note = "broadcasting: every participant's screen follows yours"
			}
			return nil
		case key.Matches(k, keyRelease):
			held := !m.s.srv.class.Held()
			m.s.srv.class.SetHeld(held)
			m.note = map[bool]string{true: "runs held", false: "participants released: one queue slot each"}[held]
			return nil
		case key.Matches(k, keyReport):
			srv := m.s.srv
			return func() tea.Msg {
				p, err := srv.WorkshopReport()
				if err != nil {
					return noteMsg("workshop report failed: " + err.Error())
				}
				return noteMsg("workshop report written to " + p)
			}
		}
	}
	if key.Matches(k, keyWatch) {
		return m.startWatching()
	}
	if m.follow != nil {
		m.note = "following the instructor's screen: read-only"
		return nil
	}
	return m.forward(k)
}

// forward hands a key to the session's own screen and, for a broadcasting
// instructor, to the followers'.
func (m *model) forward(k tea.KeyPressMsg) tea.Cmd {
	m.keys = append(m.keys, k)
	m.s.srv.class.Key(m.s, k)
	_, c := m.root.Update(k)
	m.trackStep()
	return c
}

// trackStep files the instructor's workshop step for the report.
func (m *model) trackStep() {
	if !m.s.id.Instructor || m.root.Page() != common.PageWorkshop {
		return
	}
	w, ok := m.root.Active().(*workshop.Model)
	if !ok || w.Step() == m.lastStep {
		return
	}
	m.lastStep = w.Step()
	title := "summary"
	if m.lastStep < len(m.lessonTit) {
		title = m.lessonTit[m.lastStep]
	}
	m.s.srv.class.SetStep(m.lastStep, title)
}

func (m *model) inbox(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case followStartMsg:
		m.stopFollowing()
		ctx, cancel := context.WithCancel(m.ctx)
		m.followCancel = cancel
		m.followGen++
		gen := m.followGen
		f := tui.New(ctx, msg.b, tui.Options{Width: m.w, Height: m.bodyH(), NoColor: m.noColor})
		m.follow = f
		cmds := []tea.Cmd{wrap(gen, f.Init())}
		if msg.nav != nil {
			_, c := f.Update(*msg.nav)
			cmds = append(cmds, wrap(gen, c))
		}
		for _, k := range msg.keys {
			_, c := f.Update(k)
			cmds = append(cmds, wrap(gen, c))
		}
		m.note = "the instructor is broadcasting: your screen follows theirs (q still quits)"
		return tea.Batch(cmds...)
	case followStopMsg:
		m.stopFollowing()
		m.note = "broadcast over: your own screen again"
	case classroomMsg:
	}
	return nil
}

func (m *model) stopFollowing() {
	if m.followCancel != nil {
		m.followCancel()
	}
	m.follow, m.followCancel = nil, nil
	m.followGen++
}

// armWait ticks the status line once a second while this session has a
// run waiting, so its ETA counts down.
func (m *model) armWait() tea.Cmd {
	if m.waitTick || m.s.waiting() == nil {
		return nil
	}
	m.waitTick = true
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return waitTickMsg{} })
}

// startWatching opens the read-only view of the oldest run in progress.
func (m *model) startWatching() tea.Cmd {
	var live *Live
	for _, t := range m.s.srv.queue.Running() {
		if l := t.Live(); l != nil {
			live = l
			break
		}
	}
	if live == nil {
		m.note = "nothing is running now"
		return nil
	}
	m.stopWatching()
	c := common.New(m.w, m.bodyH(), m.noColor)
	info := m.s.backend.Info()
	p := runpane.New(c, "▶", live.Who, live.Label, c.Styles.Right, info.GPU, info.Cores)
	p.Start()
	hist, ch, stop := live.Watch(1024)
	for _, ev := range hist {
		p.Apply(ev)
	}
	m.spec, m.specLive, m.specCh, m.specStop = &p, live, ch, stop
	m.specGen++
	m.note = "watching " + live.Who + "'s run (read-only): esc or v to leave"
	return m.specTick()
}

func (m *model) specTick() tea.Cmd {
	gen := m.specGen
	return tea.Tick(common.TickInterval, func(time.Time) tea.Msg { return specTickMsg{gen} })
}

func (m *model) drainSpec() tea.Cmd {
	for {
		select {
		case ev, ok := <-m.specCh:
			if !ok {
				rec, err := m.specLive.Result()
				m.spec.Finish(rec, err, "")
				m.note = m.specLive.Who + "'s run ended: esc or v to leave"
				return nil
			}
			m.spec.Apply(ev)
		default:
			return m.specTick()
		}
	}
}

func (m *model) stopWatching() {
	if m.specStop != nil {
		m.specStop()
	}
	m.spec, m.specLive, m.specCh, m.specStop = nil, nil, nil, nil
	m.specGen++
}

// View draws the active screen and the status line under it.
func (m *model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "workbench · " + m.root.Page()
	return v
}

// Render is the screen as text.
func (m *model) Render() string {
	var body string
	switch {
	case m.spec != nil:
		body = m.spec.View(m.w, m.bodyH(), true)
	case m.follow != nil:
		body = m.follow.Render()
	default:
		body = m.root.Render()
	}
	return common.Block(body, m.w, m.bodyH()) + "\n" + m.status()
}

// status is the one line the server adds: who you are, the queue, the
// classroom and the last thing that happened.
func (m *model) status() string {
	st := m.styles
	srv := m.s.srv
	parts := []string{st.Accent.Render("serve") + " " + m.s.id.Name}
	if m.s.id.Instructor {
		parts[0] += st.Highlight.Render(" (instructor)")
	}
	if srv.cfg.Open {
		parts = append(parts, st.Bad.Render("OPEN SERVER: any key gets in"))
	}
	if t := m.s.waiting(); t != nil {
		p := srv.queue.PlaceOf(t)
		if p.Position > 0 {
			eta := "ETA unknown until a run ends"
			if p.Known {
				eta = "ETA ~" + p.ETA.Round(time.Second).String()
			}
			parts = append(parts, st.Warn.Render(fmt.Sprintf("queued #%d of %d", p.Position, p.Waiting))+" · "+eta+" · v watch")
		}
	}
	if len(parts) < 3 || m.s.waiting() == nil {
		run := srv.queue.Running()
		switch {
		case len(run) > 0:
			parts = append(parts, fmt.Sprintf("running %d/%d: %s (%s)", len(run), srv.queue.Slots(), run[0].Who, run[0].Label))
		default:
			parts = append(parts, st.Faint.Render(fmt.Sprintf("queue empty · %d slot(s)", srv.queue.Slots())))
		}
	}
	switch {
	case m.follow != nil:
		parts = append(parts, st.Highlight.Render("following the instructor (read-only)"))
	case srv.class.Held() && !m.s.id.Instructor:
		parts = append(parts, st.Faint.Render("runs held by the instructor"))
	}
	if m.s.id.Instructor {
		b := "B broadcast"
		if srv.class.Broadcasting() {
			b = st.Highlight.Render("B stop broadcast")
		}
		r := "R release"
		if !srv.class.Held() {
			r = "R hold"
		}
		parts = append(parts, b+" · "+r+" · e report")
	}
	if m.note != "" {
		parts = append(parts, st.Accent.Render(m.note))
	}
	return st.Footer.Render(common.Fit(strings.Join(parts, " │ "), m.w))
}
