package runpane

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"charm.land/lipgloss/v2"

	"workbench/pipeline"
	"workbench/tui/common"
)

// TestFinalSnapshotIsNoSpike: the closing snapshot, milliseconds after the
// previous one, must not chart as a throughput spike.
func TestFinalSnapshotIsNoSpike(t *testing.T) {
	m := New(common.New(80, 24, true), "A", "optimized", "", lipgloss.NewStyle(), false, 2)
	m.Start()
	var rows int64
	at := time.Duration(0)
	for range 8 {
		at += 250 * time.Millisecond
		rows += 25 // 100 img/s
		m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: at, RowsDone: rows, RowsTotal: 300}})
	}
	m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: at + 10*time.Millisecond, RowsDone: rows + 100, RowsTotal: 300, Done: true}})
	if p := m.tput.Peak(); p > 101 {
		t.Errorf("peak throughput %.0f img/s: the final snapshot charted as a spike (want 100)", p)
	}
	if m.tput.Len() != 8 {
		t.Errorf("%d chart points, want 8", m.tput.Len())
	}
}

// TestRecoveryCounters: restarts and retries show once there are any, and
// not before.
func TestRecoveryCounters(t *testing.T) {
	m := New(common.New(120, 30, true), "A", "flaky-actor", "", lipgloss.NewStyle(), false, 2)
	op := func(restarts, retries int64) []pipeline.OpSnapshot {
		return []pipeline.OpSnapshot{{Name: "Inference", Metrics: pipeline.OpMetrics{ActorRestarts: restarts, TaskRetries: retries}}}
	}
	m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: time.Second, RowsTotal: 300, Ops: op(0, 0)}})
	if v := m.View(120, 30, true); strings.Contains(v, "restarts") {
		t.Errorf("restarts shown before any:\n%s", v)
	}
	m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: 2 * time.Second, RowsTotal: 300, Ops: op(2, 3)}})
	sgr := regexp.MustCompile("\x1b\\[[0-9;]*m")
	if v := sgr.ReplaceAllString(m.View(120, 30, true), ""); !strings.Contains(v, "restarts 2") || !strings.Contains(v, "retries 3") {
		t.Errorf("view lacks the recovery counters:\n%s", v)
	}
}

// TestCountingUntilTotal: while a streamed listing has not ended (RowsTotal
// 0) the progress line says counting…, and the total once it is known.
func TestCountingUntilTotal(t *testing.T) {
	m := New(common.New(80, 24, true), "A", "optimized", "", lipgloss.NewStyle(), false, 2)
	m.Start()
	for _, c := range []struct {
		total int64
		want  string
	}{{0, "40 rows · counting…"}, {300, "40/300 rows"}} {
		m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: time.Second, RowsDone: 40, RowsTotal: c.total}})
		if got := m.progress(80); !strings.Contains(got, c.want) {
			t.Errorf("total %d: progress %q, want it to contain %q", c.total, got, c.want)
		}
	}
}
