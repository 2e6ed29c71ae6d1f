package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"workbench/tui/backend"
	"workbench/tui/common"
)

// load runs the screen's fetches by hand: the list, then the selected log.
func load(t *testing.T, m *Model) {
	t.Helper()
	m.Update(m.fetch()())
	if cmd := m.fetchLog(); cmd != nil {
		m.Update(cmd())
	}
}

func TestJobsScreen(t *testing.T) {
	m := New(common.New(110, 30, true), backend.NewFakeJobs())
	m.Start(context.Background())
	load(t, m)
	view := m.View(110, 28)
	for _, want := range []string{"Ray jobs at http://127.0.0.1:8265", "workbench-optimized-1", "SUCCEEDED",
		"workbench-slow-2", "FAILED", "exit code 1", "RUNNING", "log of workbench-optimized-1", "finished in 296.1 seconds"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	// Down twice selects the running job; its log tail ends with the
	// latest line and drops the earliest ones that do not fit.
	for range 2 {
		if cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyDown}); cmd != nil {
			m.Update(cmd())
		}
	}
	view = m.View(110, 16)
	if !strings.Contains(view, "log of workbench-tuned-3") || !strings.Contains(view, "30/30 blocks") {
		t.Errorf("log tail of the running job missing:\n%s", view)
	}
	if strings.Contains(view, " 1/30 blocks") {
		t.Errorf("tail shows the first log line although it cannot fit:\n%s", view)
	}
	for i, line := range strings.Split(view, "\n") {
		if w := lipgloss.Width(line); w > 110 {
			t.Errorf("line %d is %d cells wide", i, w)
		}
	}
}

func TestJobsScreenUnreachable(t *testing.T) {
	m := New(common.New(80, 24, true), &backend.FakeJobs{Err: errors.New("dial tcp 127.0.0.1:8265: connection refused")})
	m.Start(context.Background())
	load(t, m)
	if view := m.View(80, 22); !strings.Contains(view, "unreachable: dial tcp") {
		t.Errorf("no error shown:\n%s", view)
	}
}

func TestStopIgnoresLateReplies(t *testing.T) {
	m := New(common.New(80, 24, true), backend.NewFakeJobs())
	m.Start(context.Background())
	msg := m.fetch()()
	m.Stop()
	if cmd := m.Update(msg); cmd != nil || len(m.Jobs()) != 0 {
		t.Errorf("a reply after Stop was used (cmd %v, %d jobs)", cmd != nil, len(m.Jobs()))
	}
}
