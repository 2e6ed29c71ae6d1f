// Package home is the home screen: the scenarios with their teaching text,
// the dataset, model and device, and the doors to the other screens (race,
// tune, sweep, workshop, the GPU screen and, with a cluster, its jobs). Two
// scenarios are marked A and B for the race (slow against optimized unless
// the user picks others).
package home

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"workbench/tui/backend"
	"workbench/tui/common"
)

// Model is the home screen.
type Model struct {
	common    common.Common
	info      backend.Info
	scenarios []backend.Scenario
	cursor    int
	left      int
	right     int
	jobs      bool // a Ray cluster is configured
	repeat    int  // runs of each side of the race
}

// defaultRepeat mirrors race.DefaultRepeat (home does not import pages).
const defaultRepeat = 3

// SetRepeat sets the runs of each side of the race; 0 keeps the default.
func (m *Model) SetRepeat(n int) {
	if n > 0 {
		m.repeat = n
	}
}

// Repeat is the runs of each side the race will make.
func (m *Model) Repeat() int {
	if m.repeat <= 0 {
		return defaultRepeat
	}
	return m.repeat
}

// New returns the home screen with the backend's default race marked.
func New(c common.Common, b backend.Backend) *Model {
	m := &Model{common: c, info: b.Info(), scenarios: b.Scenarios(), left: -1, right: -1}
	if jb, ok := b.(backend.JobsBackend); ok {
		m.jobs = jb.Jobs() != nil
	}
	for i, s := range m.scenarios {
		switch s.Name {
		case m.info.Left:
			m.left = i
		case m.info.Right:
			m.right = i
		}
	}
	if m.left < 0 {
		m.left = 0
	}
	if m.right < 0 {
		m.right = min(1, len(m.scenarios)-1)
	}
	m.cursor = m.left
	return m
}

// SetCommon re-lays-out the screen.
func (m *Model) SetCommon(c common.Common) { m.common = c }

// Selected is the scenario under the cursor.
func (m *Model) Selected() backend.Scenario {
	if len(m.scenarios) == 0 {
		return backend.Scenario{}
	}
	return m.scenarios[m.cursor]
}

// Pair is the race pair, A then B.
func (m *Model) Pair() (string, string) {
	if len(m.scenarios) == 0 {
		return "", ""
	}
	return m.scenarios[m.left].Name, m.scenarios[m.right].Name
}

// Update moves the cursor, marks A and B, and opens other screens.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.common.Keys
	msgk, ok := msg.(tea.KeyPressMsg)
	if !ok || len(m.scenarios) == 0 {
		return nil
	}
	switch {
	case key.Matches(msgk, k.Up, k.ShiftTab):
		m.cursor = (m.cursor + len(m.scenarios) - 1) % len(m.scenarios)
	case key.Matches(msgk, k.Down, k.Tab):
		m.cursor = (m.cursor + 1) % len(m.scenarios)
	case msgk.String() == "a":
		m.left = m.cursor
	case msgk.String() == "b":
		m.right = m.cursor
	case key.Matches(msgk, k.More):
		m.repeat = min(m.Repeat()+1, 20)
	case key.Matches(msgk, k.Fewer):
		m.repeat = max(m.Repeat()-1, 1)
	case key.Matches(msgk, k.Race, k.Enter):
		l, r := m.Pair()
		return common.Nav(common.NavMsg{Page: common.PageRace, Left: l, Right: r, Repeat: m.Repeat()})
	case key.Matches(msgk, k.Tune):
		return common.Nav(common.NavMsg{Page: common.PageTune, Scenario: m.Selected().Name})
	case key.Matches(msgk, k.Sweep):
		return common.Nav(common.NavMsg{Page: common.PageSweep, Scenario: m.Selected().Name})
	case key.Matches(msgk, k.Workshop):
		return common.Nav(common.NavMsg{Page: common.PageWorkshop})
	case key.Matches(msgk, k.Jobs) && m.hasJobs():
		return common.Nav(common.NavMsg{Page: common.PageJobs})
	case key.Matches(msgk, k.GPU):
		return common.Nav(common.NavMsg{Page: common.PageGPU})
	}
	return nil
}

// Help lists the home screen's keys.
func (m *Model) Help() common.Help {
	k := m.common.Keys
	if m.hasJobs() {
		return k.PageHelp(k.Up, k.Down, k.Pick, k.Race, k.More, k.Fewer, k.Tune, k.Sweep, k.Workshop, k.GPU, k.Jobs)
	}
	return k.PageHelp(k.Up, k.Down, k.Pick, k.Race, k.More, k.Fewer, k.Tune, k.Sweep, k.Workshop, k.GPU)
}

// hasJobs reports whether a Ray cluster is configured (--address).
func (m *Model) hasJobs() bool { return m.jobs }

// View renders the screen in width × height cells.
func (m *Model) View(width, height int) string {
	st := m.common.Styles
	info := m.infoView(width)
	ih := lipgloss.Height(info)
	bodyH := max(3, height-ih-1)
	listW := min(34, max(22, width/4))
	if m.common.Compact() {
		listW = min(24, width/3)
	}
	detailW := width - listW - 3
	var list strings.Builder
	list.WriteString(st.Header.Render(common.Fit("scenarios", listW)) + "\n")
	for i, s := range m.scenarios {
		mark := "  "
		switch i {
		case m.left:
			mark = st.Left.Bold(true).Render("A ")
		case m.right:
			mark = st.Right.Bold(true).Render("B ")
		}
		line := mark + common.Fit(s.Name, listW-2)
		if i == m.cursor {
			line = mark + st.Selected.Render(common.Fit(s.Name, listW-2))
		}
		list.WriteString(line + "\n")
	}
	left := common.Block(strings.TrimSuffix(list.String(), "\n"), listW, bodyH)
	sep := common.Block(strings.Repeat(st.Faint.Render("│")+"\n", bodyH), 1, bodyH)
	detail := common.Block(m.detail(detailW), detailW, bodyH)
	return info + "\n" + lipgloss.JoinHorizontal(lipgloss.Top, left, " ", sep, " ", detail)
}

func (m *Model) infoView(w int) string {
	st := m.common.Styles
	kv := func(k, v string) string { return st.Label.Render(k+" ") + st.Value.Render(v) }
	l, r := m.Pair()
	lines := []string{
		common.Fit(kv("device", m.info.Device), w),
		common.Fit(kv("data", m.info.Dataset)+"   "+kv("model", m.info.Model), w),
	}
	if m.info.Notice != "" {
		lines = append(lines, st.Faint.Render(common.Fit(m.info.Notice, w)))
	}
	lines = append(lines,
		common.Fit(kv("race", "")+st.Left.Bold(true).Render("A "+l)+st.Faint.Render(" vs ")+st.Right.Bold(true).Render("B "+r)+
			st.Faint.Render(fmt.Sprintf(", %d runs each A B A B", m.Repeat()))+st.Faint.Render("  (enter to start, +/- runs)"), w),
	)
	if m.info.Note != "" && !m.common.Compact() {
		lines = append(lines, st.Faint.Render(common.Fit(m.info.Note, w)))
	}
	return strings.Join(lines, "\n")
}

func (m *Model) detail(w int) string {
	st := m.common.Styles
	s := m.Selected()
	para := func(label, text string) string {
		if text == "" {
			return ""
		}
		// Code samples keep one statement a line (issue 21.5).
		return st.Header.Render(common.Fit(label, w)) + "\n" + common.Teaching(text, w, st.Value, st.Teaching)
	}
	parts := []string{st.Accent.Render(common.Fit(s.Title, w)), st.Faint.Render(common.Fit(s.Knobs.String(), w))}
	for _, p := range []string{para("mistake", s.Mistake), para("why it costs", s.Why), para("fix", s.Fix), para("expect", s.Expect)} {
		if p != "" {
			parts = append(parts, "", p)
		}
	}
	return strings.Join(parts, "\n")
}
