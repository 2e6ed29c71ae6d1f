// Package jobs is the Jobs screen: the jobs on a Ray cluster (the tuned
// pipeline handed over with `workbench export ray` and `workbench submit`),
// their status, the selected job's Ray Data operators from the dashboard
// (when the cluster's Jobs has backend.DataJobs) and the tail of its log,
// refreshed every poll interval (--poll, as submit --follow and jobs
// --watch; + and - change it on the screen). Once the selected job has
// ended, the screen puts it beside the local run it was tuned from, with
// the comparison `workbench report local.json cluster.json` prints.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
	"workbench/ray"
	"workbench/tui/backend"
	"workbench/tui/common"
)

// PollSteps are the intervals + and - step through: from once a second,
// as often as the dashboard's numbers change, to once a minute for a long
// job watched on the side.
var PollSteps = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute}

// keyMap is the screen's own keys beside the shared ones.
type keyMap struct {
	Slower, Faster, Poll key.Binding // Poll is the pair's help entry
	Pick                 key.Binding
	PageUp, PageDown     key.Binding
	// Ops switches an ended job between its comparison and its Ray Data
	// operators.
	Ops key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return keyMap{
		Slower:   b([]string{"+", "="}, "+", "poll less often"),
		Faster:   b([]string{"-"}, "-", "poll more often"),
		Poll:     b([]string{"+", "=", "-"}, "+/-", "poll interval"),
		Pick:     b([]string{"o"}, "o", "compare with a local run"),
		PageUp:   b([]string{"pgup", "ctrl+u"}, "pgup", "scroll up"),
		PageDown: b([]string{"pgdown", "ctrl+d"}, "pgdn", "scroll down"),
		Ops:      b([]string{"v"}, "v", "operators"),
	}
}

// Model is the Jobs screen.
type Model struct {
	common common.Common
	jobs   backend.Jobs
	ctx    context.Context
	poll   time.Duration
	keys   keyMap
	list   []ray.JobInfo
	cursor int
	log    string
	logID  string
	err    error
	when   time.Time
	gen    int
	// The selected job's Ray Data view: a tracker per job keeps rates
	// across polls; data is the last snapshot drawn.
	data    ray.Snapshot
	dataID  string
	tracker *ray.Tracker
	// ended is when the screen first saw each job ended. A Ray Data
	// answer from before then may still show the dataset running, so only
	// a later one becomes the cluster record.
	ended map[string]time.Time
	// cmp is the selected ended job's local run; pick is the list of
	// results files while the user picks one.
	cmp  comparison
	pick *picker
	// picked is the results file the user picked for each job; it wins
	// over the job's metadata until the screen closes.
	picked map[string]string
	// scroll is the first comparison line shown; maxScroll is the last
	// useful value, from the latest View.
	scroll, maxScroll int
	// ops shows an ended job's Ray Data operators instead of its
	// comparison with the local run (v switches).
	ops bool
}

// comparison is what the screen knows of the local run a finished job is
// compared with.
type comparison struct {
	id          string // the job
	path, label string // the results file and the cell in it
	source      string // how path was found: the job's metadata, or picked
	pending     bool
	local       *bench.Record
	note        string // why there is no local run, one line
}

// picker lists the local results files the user can compare the job with.
type picker struct {
	id     string
	files  []string
	err    error
	loaded bool
	cursor int
}

type (
	listMsg struct {
		gen  int
		list []ray.JobInfo
		err  error
		at   time.Time
	}
	logMsg struct {
		id, log string
		err     error
	}
	dataMsg struct {
		id  string
		ds  []ray.DatasetInfo
		err error
		at  time.Time
	}
	pollMsg  struct{ gen int }
	localMsg struct {
		id, path string
		recs     []*bench.Record
		err      error
	}
	filesMsg struct {
		id    string
		files []string
		err   error
	}
)

// New returns the screen for the cluster behind jobs, polling every
// ray.DefaultPollInterval until SetPoll says otherwise.
func New(c common.Common, jobs backend.Jobs) *Model {
	return &Model{common: c, jobs: jobs, ctx: context.Background(), poll: ray.DefaultPollInterval,
		keys: newKeyMap(), ended: map[string]time.Time{}, picked: map[string]string{}}
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) { m.common = c }

// SetPoll sets how often the screen asks the cluster: --poll, the same
// interval as submit --follow and jobs --watch; 0 or less keeps the
// default.
func (m *Model) SetPoll(d time.Duration) {
	if d > 0 {
		m.poll = d
	}
}

// Poll returns the interval the screen polls at now.
func (m *Model) Poll() time.Duration { return m.poll }

// Start fetches the job list and keeps polling until Stop.
func (m *Model) Start(ctx context.Context) tea.Cmd {
	m.ctx = ctx
	return m.fetch()
}

// Stop ends polling: replies from an earlier generation are ignored.
func (m *Model) Stop() { m.gen++ }

// Jobs returns the jobs last listed.
func (m *Model) Jobs() []ray.JobInfo { return m.list }

// The fetches carry no timeout of their own: the Jobs bounds each request
// (RayJobs by --request-timeout), and a timeout tied to the poll interval
// would fail every request to a slow cluster once the user polls faster.
func (m *Model) fetch() tea.Cmd {
	gen, ctx, jobs := m.gen, m.ctx, m.jobs
	return func() tea.Msg {
		list, err := jobs.List(ctx)
		return listMsg{gen: gen, list: list, err: err, at: time.Now()}
	}
}

func (m *Model) fetchLog() tea.Cmd {
	j, ok := m.selected()
	if !ok {
		return nil
	}
	ctx, jobs := m.ctx, m.jobs
	id := j.ID()
	logCmd := func() tea.Msg {
		l, err := jobs.Logs(ctx, id)
		return logMsg{id: id, log: l, err: err}
	}
	dj, ok := jobs.(backend.DataJobs)
	if !ok || j.JobID == "" {
		return logCmd
	}
	dataCmd := func() tea.Msg {
		ds, err := dj.Datasets(ctx, j.JobID)
		return dataMsg{id: id, ds: ds, err: err, at: time.Now()}
	}
	return tea.Batch(logCmd, dataCmd)
}

func (m *Model) selected() (ray.JobInfo, bool) {
	if len(m.list) == 0 {
		return ray.JobInfo{}, false
	}
	return m.list[m.cursor], true
}

// Update handles replies, polling and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case listMsg:
		if msg.gen != m.gen {
			return nil
		}
		m.err, m.when = msg.err, msg.at
		if msg.err == nil {
			m.list = msg.list
			m.cursor = min(m.cursor, max(len(m.list)-1, 0))
			for _, j := range m.list {
				if _, seen := m.ended[j.ID()]; !seen && j.Status.Terminal() {
					m.ended[j.ID()] = msg.at
				}
			}
		}
		gen := m.gen
		return tea.Batch(m.fetchLog(), m.compare(), tea.Tick(m.poll, func(time.Time) tea.Msg { return pollMsg{gen} }))
	case pollMsg:
		if msg.gen != m.gen {
			return nil
		}
		return m.fetch()
	case logMsg:
		if j, ok := m.selected(); ok && msg.id == j.ID() {
			m.logID, m.log = msg.id, msg.log
			if msg.err != nil {
				m.log = "log: " + msg.err.Error()
			}
		}
	case dataMsg:
		if j, ok := m.selected(); ok && msg.id == j.ID() {
			m.observe(msg)
		}
	case localMsg:
		m.loaded(msg)
	case filesMsg:
		if m.pick != nil && m.pick.id == msg.id {
			m.pick.files, m.pick.err, m.pick.loaded = msg.files, msg.err, true
		}
	case tea.KeyPressMsg:
		if m.pick != nil {
			return m.pickKey(msg)
		}
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.common.Keys
	switch {
	case key.Matches(msg, k.Back):
		return common.Nav(common.NavMsg{Page: common.PageHome})
	case key.Matches(msg, k.Up) && m.cursor > 0:
		m.cursor--
		m.scroll = 0
		return tea.Batch(m.fetchLog(), m.compare())
	case key.Matches(msg, k.Down) && m.cursor < len(m.list)-1:
		m.cursor++
		m.scroll = 0
		return tea.Batch(m.fetchLog(), m.compare())
	case key.Matches(msg, k.Rerun):
		// A new generation, as for a new interval: the old tick is
		// dropped, so a refresh never starts a second round of polls.
		m.gen++
		return m.fetch()
	case key.Matches(msg, m.keys.Slower):
		return m.repoll(stepPoll(m.poll, +1))
	case key.Matches(msg, m.keys.Faster):
		return m.repoll(stepPoll(m.poll, -1))
	case key.Matches(msg, m.keys.PageDown):
		m.scroll = min(m.scroll+m.page(), m.maxScroll)
	case key.Matches(msg, m.keys.PageUp):
		m.scroll = max(0, min(m.scroll, m.maxScroll)-m.page())
	case key.Matches(msg, m.keys.Ops):
		if j, ok := m.selected(); ok && j.Status.Terminal() {
			m.ops, m.scroll = !m.ops, 0
		}
	case key.Matches(msg, m.keys.Pick):
		j, ok := m.selected()
		lr, can := m.jobs.(backend.LocalResults)
		if !ok || !can || !j.Status.Terminal() {
			return nil
		}
		m.pick = &picker{id: j.ID()}
		id := j.ID()
		return func() tea.Msg {
			files, err := lr.ResultFiles()
			return filesMsg{id: id, files: files, err: err}
		}
	}
	return nil
}

// page is how far pgup and pgdn scroll: half the screen.
func (m *Model) page() int { return max(1, m.common.Height/2) }

// repoll polls at d from now on: a new generation, so the tick already
// waiting at the old interval is ignored, and an answer at once.
func (m *Model) repoll(d time.Duration) tea.Cmd {
	if d == m.poll {
		return nil
	}
	m.poll = d
	m.gen++
	return m.fetch()
}

// stepPoll is the next of PollSteps above d (dir > 0) or below it; d
// itself when there is none, so a --poll off the ladder stays reachable
// only from the flag.
func stepPoll(d time.Duration, dir int) time.Duration {
	if dir > 0 {
		for _, s := range PollSteps {
			if s > d {
				return s
			}
		}
		return d
	}
	for i := len(PollSteps) - 1; i >= 0; i-- {
		if PollSteps[i] < d {
			return PollSteps[i]
		}
	}
	return d
}

func (m *Model) pickKey(msg tea.KeyPressMsg) tea.Cmd {
	k, p := m.common.Keys, m.pick
	switch {
	case key.Matches(msg, k.Back):
		m.pick = nil
	case key.Matches(msg, k.Up) && p.cursor > 0:
		p.cursor--
	case key.Matches(msg, k.Down) && p.cursor < len(p.files)-1:
		p.cursor++
	case key.Matches(msg, k.Enter) && len(p.files) > 0:
		m.pick = nil
		m.picked[p.id] = p.files[p.cursor]
		m.cmp, m.scroll = comparison{id: p.id}, 0
		return m.load(p.files[p.cursor], "", "picked")
	}
	return nil
}

// compare starts finding the local run for the selected job once it has
// ended: the results file its metadata names (export ray --from), read
// through the Jobs' LocalResults.
func (m *Model) compare() tea.Cmd {
	j, ok := m.selected()
	if !ok || !j.Status.Terminal() || m.cmp.id == j.ID() {
		return nil
	}
	m.cmp, m.scroll = comparison{id: j.ID()}, 0
	if p, ok := m.picked[j.ID()]; ok {
		return m.load(p, "", "picked")
	}
	path, label := ray.TunedFromFile(j.Metadata)
	if path == "" {
		m.cmp.note = "no local run to compare with: the job was exported without --from, so its metadata names none" + m.pickHint()
		return nil
	}
	return m.load(path, label, "named in the job's metadata")
}

func (m *Model) pickHint() string {
	if _, ok := m.jobs.(backend.LocalResults); ok {
		return "; o picks a results file"
	}
	return ""
}

// load reads the results file path for the job m.cmp belongs to.
func (m *Model) load(path, label, source string) tea.Cmd {
	m.cmp.path, m.cmp.label, m.cmp.source = path, label, source
	lr, ok := m.jobs.(backend.LocalResults)
	if !ok {
		m.cmp.note = "no local run to compare with: this session cannot read local results files"
		return nil
	}
	m.cmp.pending = true
	id := m.cmp.id
	return func() tea.Msg {
		recs, err := lr.ReadRecords(path)
		return localMsg{id: id, path: path, recs: recs, err: err}
	}
}

// loaded takes a results file's records as the job's local run: the cell
// export took from it (LocalPrediction), else its best.
func (m *Model) loaded(msg localMsg) {
	if msg.id != m.cmp.id || msg.path != m.cmp.path {
		return // the user moved on
	}
	m.cmp.pending = false
	if msg.err != nil {
		m.cmp.note = fmt.Sprintf("no local run to compare with: %s (%s): %v%s", msg.path, m.cmp.source, msg.err, m.pickHint())
		return
	}
	local, ok := bench.LocalPrediction(msg.recs, m.cmp.label)
	if !ok {
		m.cmp.note = fmt.Sprintf("no local run to compare with: %s holds no completed local run%s", msg.path, m.pickHint())
		return
	}
	m.cmp.local = local
}

// errReading is clusterRecord's answer between the job's end and the
// first Ray Data answer after it.
var errReading = errors.New("reading the finished job's Ray Data…")

// clusterRecord is the selected ended job as a cluster record, built as
// jobs --watch builds it (ray.NewClusterRecord) from the screen's last Ray
// Data answer; nil with the reason while there is none.
func (m *Model) clusterRecord(j ray.JobInfo) (*bench.Record, error) {
	if _, ok := m.jobs.(backend.DataJobs); !ok {
		return nil, fmt.Errorf("this connection cannot read the dashboard's Ray Data view")
	}
	snap := ray.Snapshot{Job: j, DataNote: "the job never ran: Ray gave it no job ID"}
	if j.JobID != "" {
		if m.dataID != j.ID() || m.data.At.Before(m.ended[j.ID()]) {
			return nil, errReading
		}
		snap = m.data
		snap.Job = j
	}
	return ray.NewClusterRecord(snap, m.jobs.Address())
}

// Help lists the screen's keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	if m.pick != nil {
		pick := key.NewBinding(key.WithKeys(k.Enter.Keys()...), key.WithHelp(k.Enter.Help().Key, "compare with it"))
		cancel := key.NewBinding(key.WithKeys(k.Back.Keys()...), key.WithHelp(k.Back.Help().Key, "cancel"))
		return k.PageHelp(k.Up, k.Down, pick, cancel)
	}
	refresh := key.NewBinding(key.WithKeys(k.Rerun.Keys()...), key.WithHelp(k.Rerun.Help().Key, "refresh"))
	keys := []key.Binding{k.Up, k.Down, refresh, m.keys.Poll}
	if j, ok := m.selected(); ok && j.Status.Terminal() {
		if _, can := m.jobs.(backend.LocalResults); can {
			keys = append(keys, m.keys.Pick)
		}
		if m.cmp.local != nil {
			ops := m.keys.Ops
			if m.ops {
				ops.SetHelp("v", "comparison")
			}
			keys = append(keys, ops)
		}
		if m.maxScroll > 0 && !m.ops {
			keys = append(keys, m.keys.PageDown, m.keys.PageUp)
		}
	}
	return k.PageHelp(append(keys, k.Back)...)
}

// View renders the job table, then the selected job's Ray Data operators
// while it runs, or once it ended its comparison with the local run, then
// its log tail.
func (m *Model) View(width, height int) string {
	st := m.common.Styles
	var b strings.Builder
	head := st.Header.Render("Ray jobs at "+m.jobs.Address()) + "  "
	switch {
	case m.err != nil:
		head += st.Bad.Render("unreachable: " + m.err.Error())
	case m.when.IsZero():
		head += st.Faint.Render("asking the cluster…")
	default:
		head += st.Faint.Render(fmt.Sprintf("%d jobs, refreshed every %s", len(m.list), m.poll))
	}
	b.WriteString(common.Fit(head, width) + "\n")
	idW := max(12, min(32, width/3))
	fmt.Fprintf(&b, "%s\n", common.Fit(st.Label.Render(fmt.Sprintf("  %-*s %-10s %-16s %s", idW, "SUBMISSION", "STATUS", "STARTED (UTC)", "MESSAGE")), width))
	tableH := min(len(m.list), max(3, height/3))
	first := max(0, min(m.cursor-tableH+1, len(m.list)-tableH))
	for i := first; i < first+tableH && i < len(m.list); i++ {
		j := m.list[i]
		mark := "  "
		if i == m.cursor {
			mark = "▶ "
		}
		line := fmt.Sprintf("%s%-*s %s %-16s %s", mark, idW, common.Fit(j.ID(), idW),
			m.status(j.Status), started(j.StartTime), j.Message)
		if i == m.cursor {
			line = st.Selected.Render(common.Fit(line, width))
		}
		b.WriteString(common.Fit(line, width) + "\n")
	}
	if len(m.list) == 0 && m.err == nil && !m.when.IsZero() {
		b.WriteString(st.Faint.Render("  no jobs yet: workbench submit --address "+m.jobs.Address()+" job/") + "\n")
	}
	m.maxScroll = 0
	if j, ok := m.selected(); ok {
		// Whatever sits between the table and the log leaves the log its
		// header and three lines.
		room := height - lipgloss.Height(b.String()) - 4
		switch {
		case m.pick != nil:
			m.viewPicker(&b, width, room)
		case j.Status.Terminal() && !m.ops:
			m.viewEnded(&b, j, width, room)
		default:
			m.viewData(&b, j, width, room)
		}
	}
	used := lipgloss.Height(b.String())
	logH := height - used - 1
	if logH > 0 && m.logID != "" {
		b.WriteString(st.Header.Render("log of "+m.logID+" (tail)") + "\n")
		lines := strings.Split(strings.TrimRight(m.log, "\n"), "\n")
		if len(lines) > logH-1 {
			lines = lines[len(lines)-(logH-1):]
		}
		for _, l := range lines {
			b.WriteString(common.Fit(st.Teaching.Render(l), width) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// viewData draws the job's Ray Data operators in at most room lines.
func (m *Model) viewData(b *strings.Builder, j ray.JobInfo, width, room int) {
	if m.dataID != j.ID() || room < 2 {
		return
	}
	lines := ray.DataLines(m.data, width)
	if len(lines) > room-1 {
		lines = lines[:room-1]
	}
	if len(lines) > 0 {
		b.WriteString(m.common.Styles.Header.Render(clip("Ray Data of "+m.dataID, width)) + "\n")
		for _, l := range lines {
			b.WriteString(common.Fit(l, width) + "\n")
		}
	}
}

// viewEnded draws an ended job beside its local run, scrolled; without
// one, its last Ray Data operators and one line saying why.
func (m *Model) viewEnded(b *strings.Builder, j ray.JobInfo, width, room int) {
	st := m.common.Styles
	rec, rerr := m.clusterRecord(j)
	if rerr == nil && m.cmp.local != nil {
		lines, err := bench.ClusterComparisonLines(m.cmp.local, rec, width)
		if err == nil && room >= 4 {
			title := fmt.Sprintf("%s %s vs the local run it was tuned from: %s", j.ID(), j.Status, m.cmp.path)
			if l := m.cmp.local.Label; l != "" {
				title += " (" + l + ")"
			}
			head := bench.WrapText(title, width, "  ")
			for _, l := range head {
				b.WriteString(st.Header.Render(clip(l, width)) + "\n")
			}
			show := room - len(head)
			if len(lines) > show {
				show-- // the line saying how much is below
				m.maxScroll = len(lines) - show
			}
			from := min(m.scroll, m.maxScroll)
			for _, l := range lines[from:min(len(lines), from+show)] {
				b.WriteString(common.Fit(l, width) + "\n")
			}
			if below := len(lines) - from - show; below > 0 {
				b.WriteString(st.Faint.Render(clip(fmt.Sprintf("  ↓ %d more lines (pgdn)", below), width)) + "\n")
			}
			return
		}
	}
	var notes []string
	switch {
	case rerr == errReading:
		notes = append(notes, rerr.Error())
	case rerr != nil && m.dataID == j.ID() && m.data.DataNote != "":
		// The Ray Data pane already says why there is no data.
		notes = append(notes, "no comparison: the cluster record is made from the Ray Data view")
	case rerr != nil:
		notes = append(notes, "no comparison: "+rerr.Error())
	}
	switch {
	case m.cmp.pending:
		notes = append(notes, "reading the local run from "+m.cmp.path+"…")
	case m.cmp.note != "":
		notes = append(notes, m.cmp.note)
	}
	var lines []string
	for _, n := range notes {
		lines = append(lines, bench.WrapText(n, width, "  ")...)
	}
	lines = lines[:min(len(lines), max(room, 0))]
	m.viewData(b, j, width, room-len(lines))
	for _, l := range lines {
		b.WriteString(st.Faint.Render(clip(l, width)) + "\n")
	}
}

// viewPicker draws the results files to compare the job with.
func (m *Model) viewPicker(b *strings.Builder, width, room int) {
	st, p := m.common.Styles, m.pick
	head := bench.WrapText("compare "+p.id+" with which local results? (enter picks, esc cancels)", width, "  ")
	for _, l := range head {
		b.WriteString(st.Header.Render(clip(l, width)) + "\n")
	}
	room -= len(head) - 1
	switch {
	case !p.loaded:
		b.WriteString(st.Faint.Render("  looking for results files…") + "\n")
		return
	case p.err != nil:
		b.WriteString(st.Bad.Render(clip("  "+p.err.Error(), width)) + "\n")
		return
	case len(p.files) == 0:
		b.WriteString(st.Faint.Render(clip("  no results file with a completed local run here: workbench sweep or tune --json FILE writes one", width)) + "\n")
		return
	}
	show := max(1, room-1)
	first := max(0, min(p.cursor-show+1, len(p.files)-show))
	for i := first; i < len(p.files) && i < first+show; i++ {
		line := "  " + p.files[i]
		if i == p.cursor {
			line = st.Selected.Render(common.Fit("▶ "+p.files[i], width))
		}
		b.WriteString(common.Fit(line, width) + "\n")
	}
}

// clip cuts s to w cells, without padding it as common.Fit does, so a
// styled line carries no trailing blanks.
func clip(s string, w int) string { return ansi.Truncate(s, w, "…") }

func (m *Model) status(s ray.JobStatus) string {
	st := m.common.Styles
	text := fmt.Sprintf("%-10s", s)
	switch s {
	case ray.StatusSucceeded:
		return st.OK.Render(text)
	case ray.StatusFailed, ray.StatusStopped:
		return st.Bad.Render(text)
	case ray.StatusRunning:
		return st.Running.Render(text)
	}
	return st.Faint.Render(text)
}

func started(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04")
}

// observe folds one datasets answer into the selected job's view; a new
// job starts a new tracker, so rates never mix jobs.
func (m *Model) observe(msg dataMsg) {
	if m.dataID != msg.id || m.tracker == nil {
		m.dataID, m.tracker = msg.id, ray.NewTracker()
	}
	m.data = ray.Snapshot{At: msg.at, DataNote: ray.Note(msg.err)}
	if msg.err == nil {
		m.data.Datasets = m.tracker.Observe(msg.ds, msg.at)
	}
}
