// Package jobs is the Jobs screen: the jobs on a Ray cluster (the tuned
// pipeline handed over with `workbench export ray` and `workbench submit`),
// their status, the selected job's Ray Data operators from the dashboard
// (when the cluster's Jobs has backend.DataJobs) and the tail of its log,
// refreshed every Poll through the Ray Jobs REST API.
package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"workbench/ray"
	"workbench/tui/backend"
	"workbench/tui/common"
)

// Poll is how often the screen asks the cluster again: the same default as
// submit --follow (ray.DefaultPollInterval), so rows/s mean the same.
const Poll = ray.DefaultPollInterval

// Model is the Jobs screen.
type Model struct {
	common common.Common
	jobs   backend.Jobs
	ctx    context.Context
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
	pollMsg struct{ gen int }
)

// New returns the screen for the cluster behind jobs.
func New(c common.Common, jobs backend.Jobs) *Model {
	return &Model{common: c, jobs: jobs, ctx: context.Background()}
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) { m.common = c }

// Start fetches the job list and keeps polling until Stop.
func (m *Model) Start(ctx context.Context) tea.Cmd {
	m.ctx = ctx
	return m.fetch()
}

// Stop ends polling: replies from an earlier generation are ignored.
func (m *Model) Stop() { m.gen++ }

// Jobs returns the jobs last listed.
func (m *Model) Jobs() []ray.JobInfo { return m.list }

func (m *Model) fetch() tea.Cmd {
	gen, ctx, jobs := m.gen, m.ctx, m.jobs
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, Poll)
		defer cancel()
		list, err := jobs.List(c)
		return listMsg{gen: gen, list: list, err: err, at: time.Now()}
	}
}

func (m *Model) fetchLog() tea.Cmd {
	if len(m.list) == 0 {
		return nil
	}
	j, ctx, jobs := m.list[m.cursor], m.ctx, m.jobs
	id := j.ID()
	logCmd := func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, Poll)
		defer cancel()
		l, err := jobs.Logs(c, id)
		return logMsg{id: id, log: l, err: err}
	}
	dj, ok := jobs.(backend.DataJobs)
	if !ok || j.JobID == "" {
		return logCmd
	}
	dataCmd := func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, Poll)
		defer cancel()
		ds, err := dj.Datasets(c, j.JobID)
		return dataMsg{id: id, ds: ds, err: err, at: time.Now()}
	}
	return tea.Batch(logCmd, dataCmd)
}

// Update handles replies, polling and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.common.Keys
	switch msg := msg.(type) {
	case listMsg:
		if msg.gen != m.gen {
			return nil
		}
		m.err, m.when = msg.err, msg.at
		if msg.err == nil {
			m.list = msg.list
			m.cursor = min(m.cursor, max(len(m.list)-1, 0))
		}
		gen := m.gen
		return tea.Batch(m.fetchLog(), tea.Tick(Poll, func(time.Time) tea.Msg { return pollMsg{gen} }))
	case pollMsg:
		if msg.gen != m.gen {
			return nil
		}
		return m.fetch()
	case logMsg:
		if len(m.list) > 0 && msg.id == m.list[m.cursor].ID() {
			m.logID, m.log = msg.id, msg.log
			if msg.err != nil {
				m.log = "log: " + msg.err.Error()
			}
		}
	case dataMsg:
		if len(m.list) == 0 || msg.id != m.list[m.cursor].ID() {
			return nil
		}
		m.observe(msg)
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Back):
			return common.Nav(common.NavMsg{Page: common.PageHome})
		case key.Matches(msg, k.Up) && m.cursor > 0:
			m.cursor--
			return m.fetchLog()
		case key.Matches(msg, k.Down) && m.cursor < len(m.list)-1:
			m.cursor++
			return m.fetchLog()
		case key.Matches(msg, k.Rerun):
			return m.fetch()
		}
	}
	return nil
}

// Help lists the screen's keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	refresh := key.NewBinding(key.WithKeys(k.Rerun.Keys()...), key.WithHelp(k.Rerun.Help().Key, "refresh"))
	return k.PageHelp(k.Up, k.Down, refresh, k.Back)
}

// View renders the job table above the selected job's log tail.
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
		head += st.Faint.Render(fmt.Sprintf("%d jobs, refreshed every %s", len(m.list), Poll))
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
	if len(m.list) > 0 && m.dataID == m.list[m.cursor].ID() {
		// At most a third of the screen, so the log tail stays in view.
		lines := ray.DataLines(m.data, width)
		if room := max(1, height/3); len(lines) > room {
			lines = lines[:room]
		}
		if len(lines) > 0 {
			b.WriteString(st.Header.Render("Ray Data of "+m.dataID) + "\n")
			for _, l := range lines {
				b.WriteString(common.Fit(l, width) + "\n")
			}
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
