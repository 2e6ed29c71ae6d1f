package runpane

import (
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
