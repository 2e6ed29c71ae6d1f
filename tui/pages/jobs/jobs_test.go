package jobs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"workbench/ray"

	"workbench/tui/backend"
	"workbench/tui/common"
)

// load runs the screen's fetches by hand: the list, then the selected log
// (and its Ray Data view).
func load(t *testing.T, m *Model) {
	t.Helper()
	m.Update(m.fetch()())
	runCmd(m, m.fetchLog())
}

// runCmd runs cmd and feeds its messages back, opening batches, so a test
// needs no event loop.
func runCmd(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			runCmd(m, c)
		}
		return
	}
	m.Update(msg)
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
		runCmd(m, m.Update(tea.KeyPressMsg{Code: tea.KeyDown}))
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

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestJobsScreenRayDataGolden draws the running job's Ray Data pane above
// its log tail at both terminal sizes, after two polls two seconds apart
// (so rows/s are the difference over 2 s), fed by hand so nothing depends
// on timing. go test ./tui/pages/jobs -update rewrites the goldens.
func TestJobsScreenRayDataGolden(t *testing.T) {
	t.Parallel()
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 48}} {
		fake := backend.NewFakeJobs()
		m := New(common.New(size.w, size.h, true), fake)
		m.Start(context.Background())
		load(t, m)
		for range 2 {
			m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
		}
		m.Update(m.fetch()())
		m.Update(logMsg{id: "workbench-tuned-3", log: fake.Log["workbench-tuned-3"]})
		first := fake.Data["03000000"]
		at := time.Unix(1764100520, 0)
		m.Update(dataMsg{id: "workbench-tuned-3", ds: first, at: at})
		second := append([]ray.DatasetInfo(nil), first...)
		second[0].Operators = append([]ray.OperatorInfo(nil), first[0].Operators...)
		for i := range second[0].Operators {
			second[0].Operators[i].OutputRows.Max += 1280
		}
		second[0].OutputRows.Max += 1280
		second[0].Progress += 8
		m.Update(dataMsg{id: "workbench-tuned-3", ds: second, at: at.Add(2 * time.Second)})
		view := ansi.Strip(m.View(size.w, size.h))
		for i, l := range strings.Split(view, "\n") {
			if w := lipgloss.Width(l); w > size.w {
				t.Errorf("%dx%d line %d is %d wide", size.w, size.h, i, w)
			}
		}
		for _, want := range []string{"Ray Data of workbench-tuned-3", "MapBatches(Predictor)", "640", "bottleneck: MapBatches(Predictor)", "log of workbench-tuned-3"} {
			if !strings.Contains(view, want) {
				t.Errorf("%dx%d view lacks %q:\n%s", size.w, size.h, want, view)
			}
		}
		path := filepath.Join("testdata", fmt.Sprintf("jobs_raydata_%dx%d.golden", size.w, size.h))
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(view), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./tui/pages/jobs -update)", err)
		}
		if view != string(want) {
			t.Errorf("%s differs; rerun with -update if intended\n--- got ---\n%s\n--- want ---\n%s", path, view, want)
		}
	}
}

// TestJobsScreenNoDataView: a cluster without the Ray Data view gets one
// line and the log tail still shows.
func TestJobsScreenNoDataView(t *testing.T) {
	t.Parallel()
	fake := backend.NewFakeJobs()
	fake.Data = nil
	m := New(common.New(100, 30, true), fake)
	m.Start(context.Background())
	load(t, m)
	for range 2 {
		m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	_, err := fake.Datasets(context.Background(), "03000000")
	m.Update(dataMsg{id: "workbench-tuned-3", err: err, at: time.Unix(1764100520, 0)})
	m.Update(logMsg{id: "workbench-tuned-3", log: fake.Log["workbench-tuned-3"]})
	view := m.View(100, 30)
	if !strings.Contains(view, "no /api/data/datasets") || !strings.Contains(view, "log of workbench-tuned-3") {
		t.Errorf("want one line about the missing view and the log tail:\n%s", view)
	}
}
