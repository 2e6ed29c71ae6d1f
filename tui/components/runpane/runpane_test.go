package runpane

import (
	"regexp"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"testing"
	"time"

	"charm.land/lipgloss/v2"

	"workbench/bench"
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

// TestCountersPlannedAndStarted: batches read done/planned, and model loads
// count from the job's "loads started" stat before the engine sees them
// (issue 21.7: a slow pane said "loads 1 · batches 200" with 18 rows done).
func TestCountersPlannedAndStarted(t *testing.T) {
	ops := func(readRows, inferBatches int64) []pipeline.OpSnapshot {
		return []pipeline.OpSnapshot{
			{Name: "ReadImages", Metrics: pipeline.OpMetrics{RowsOut: readRows, Batches: readRows}},
			{Name: "Inference", Metrics: pipeline.OpMetrics{Batches: inferBatches}},
			{Name: "Write"},
		}
	}
	cases := []struct {
		name   string
		events []pipeline.Event
		want   string
	}{
		{"unknown plan", []pipeline.Event{{Snapshot: &pipeline.Snapshot{At: time.Second, Ops: ops(200, 9)}}},
			"loads 0 · batches 9/? · errors 0"},
		{"planned from the batch size", []pipeline.Event{
			{Payload: pipeline.Stat{Name: "batch_size", Value: 2}},
			{Payload: pipeline.Stat{Name: "model_loads_started", Value: 10}},
			{Snapshot: &pipeline.Snapshot{At: time.Second, Ops: ops(200, 9), RowsDone: 18, RowsTotal: 200}}},
			"loads 10 · batches 9/100 · errors 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := New(common.New(80, 24, true), "A", "slow", "", lipgloss.NewStyle(), false, 2)
			m.Start()
			for _, e := range c.events {
				m.Apply(e)
			}
			if got := ansi.Strip(m.counters(60, true)); !strings.Contains(got, c.want) {
				t.Errorf("counters = %q, want %q", got, c.want)
			}
		})
	}
}

// TestDrainTailLeftOut: once only the sink has work left, throughput points
// are not charted and do not count for the peak.
func TestDrainTailLeftOut(t *testing.T) {
	m := New(common.New(160, 48, true), "A", "optimized", "", lipgloss.NewStyle(), false, 2)
	m.Start()
	ops := func(upstream int64) []pipeline.OpSnapshot {
		return []pipeline.OpSnapshot{{Name: "Read", Metrics: pipeline.OpMetrics{RowsOut: upstream}}, {Name: "Write"}}
	}
	at, rows := time.Duration(0), int64(0)
	for i := range 6 {
		at += 250 * time.Millisecond
		rows += 25 // 100 img/s
		up := min(int64(40*(i+1)), 200)
		m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: at, RowsDone: rows, RowsTotal: 200, Ops: ops(up)}})
	}
	// Drain: everything upstream is done; the sink flushes 50 rows at once.
	m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: at + 250*time.Millisecond, RowsDone: rows + 50, RowsTotal: 200, Ops: ops(200)}})
	if p := m.tput.Peak(); p > 101 {
		t.Errorf("peak %.0f img/s includes the drain tail (want 100)", p)
	}
	h := ansi.Strip(m.headline(100, false))
	if !strings.Contains(h, "draining") || !strings.Contains(h, "throughput 114 img/s") {
		t.Errorf("headline %q: want the overall throughput (200 rows in 1.75s) and the drain marked", h)
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

// TestIssueMarker: an operator in which the engine found a stall or a
// straggler carries a marker on its line, in the full and the compact
// layouts, and the others none.
func TestIssueMarker(t *testing.T) {
	ops := func(m pipeline.OpMetrics) []pipeline.OpSnapshot {
		return []pipeline.OpSnapshot{{Name: "ReadImages"}, {Name: "MapBatches(Preprocess)", Metrics: m}, {Name: "Write"}}
	}
	cases := []struct {
		name    string
		metrics pipeline.OpMetrics
		w, h    int
		want    string // on Preprocess's line; "" = no marker anywhere
	}{
		{"none", pipeline.OpMetrics{}, 160, 48, ""},
		{"a stall", pipeline.OpMetrics{Stalls: 1}, 160, 48, "MapBatches(Preprocess) !stall"},
		{"a straggler", pipeline.OpMetrics{Stragglers: 2}, 160, 48, "MapBatches(Preprocess) !straggler"},
		{"a stall wins over stragglers", pipeline.OpMetrics{Stalls: 1, Stragglers: 2}, 160, 48, "MapBatches(Preprocess) !stall"},
		{"compact", pipeline.OpMetrics{Stragglers: 1}, 40, 20, "Preprocess !"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := New(common.New(c.w, c.h, true), "A", "optimized", "", lipgloss.NewStyle(), false, 2)
			m.Start()
			m.Apply(pipeline.Event{Snapshot: &pipeline.Snapshot{At: time.Second, RowsTotal: 300, Ops: ops(c.metrics)}})
			v := ansi.Strip(m.View(c.w, c.h, true))
			var marked []string
			for _, line := range strings.Split(v, "\n") {
				if strings.Contains(line, " !") {
					marked = append(marked, line)
				}
			}
			switch {
			case c.want == "" && len(marked) > 0:
				t.Errorf("marker on %q with no detection", marked)
			case c.want != "" && (len(marked) != 1 || !strings.Contains(marked[0], c.want)):
				t.Errorf("marked lines %q, want one with %q:\n%s", marked, c.want, v)
			}
		})
	}
}

// TestShowsTheBatchProbe: a finished run that resolved batch_size: auto
// shows the probe's decision in the full pane; a fixed batch shows none.
func TestShowsTheBatchProbe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		probe *bench.BatchProbe
		want  bool
	}{
		{"auto", &bench.BatchProbe{Picked: 16, Points: []bench.BatchPoint{{Batch: 8, Throughput: 95.1}, {Batch: 16, Throughput: 101}}}, true},
		{"fixed", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(common.New(160, 48, true), "A", "optimized", "", lipgloss.NewStyle(), false, 2)
			m.Start()
			m.Finish(&bench.Record{Status: bench.StatusOK, Images: 100, WallSeconds: 1, Throughput: 100, BatchProbe: tc.probe}, nil, "")
			view := ansi.Strip(m.View(120, 40, true))
			if got := strings.Contains(view, "auto → 16"); got != tc.want {
				t.Errorf("probe shown = %v, want %v:\n%s", got, tc.want, view)
			}
		})
	}
}
