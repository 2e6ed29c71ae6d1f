package sweep

import (
	"context"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"workbench/tui/backend"
	"workbench/tui/common"
)

// TestSpec: the form reads ranges in the CLI's grammar (bench.ParseRange),
// empty blocks keep the scenario's, and every bad field is reported at
// once, in the CLI's words.
func TestSpec(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		fields [nFields]string
		want   backend.SweepSpec
		errs   []string
	}{
		{"ranges", [nFields]string{"16..128", "1..4:1", "8,32", "latency_p95", "peak_rss<4GiB"},
			backend.SweepSpec{Batch: []int{16, 32, 64, 128}, Concurrency: []int{1, 2, 3, 4}, Blocks: []int{8, 32},
				Objective: "latency_p95", Constraints: "peak_rss<4GiB"}, nil},
		{"two axes", [nFields]string{"8", "2", " ", "", ""},
			backend.SweepSpec{Batch: []int{8}, Concurrency: []int{2}}, nil},
		{"every problem", [nFields]string{"256..16", "1,1", "0", "speed", "latency_p95<200"}, backend.SweepSpec{},
			[]string{"--batch 256..16: start 256 is greater than end 16", "--concurrency 1,1: 1 appears twice",
				"--blocks 0: 0 is not a positive integer", "--objective speed: unknown metric", "needs a unit"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := New(common.New(80, 24, true), &backend.Fake{}, "optimized")
			for i, v := range c.fields {
				m.SetField(i, v)
			}
			got, err := m.Spec()
			if len(c.errs) > 0 {
				for _, e := range c.errs {
					if err == nil || !strings.Contains(err.Error(), e) {
						t.Errorf("error %v does not say %q", err, e)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Batch, c.want.Batch) || !slices.Equal(got.Concurrency, c.want.Concurrency) ||
				!slices.Equal(got.Blocks, c.want.Blocks) || got.Objective != c.want.Objective || got.Constraints != c.want.Constraints {
				t.Errorf("spec %+v, want %+v", got, c.want)
			}
		})
	}
}

func press(s string) tea.KeyPressMsg {
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}

// TestSlicesAndMarks runs the fake's three-axis sweep through the real
// bench.Sweep and checks the screen: the best cell starred, cells whose
// rates the fake makes equal (blocks 8 and 16, concurrency 2 and 4) shown
// tied, the slice turned with x and ], and the exports of the best cell.
func TestSlicesAndMarks(t *testing.T) {
	t.Parallel()
	f := &backend.Fake{}
	m := New(common.New(160, 48, true), f, "optimized")
	spec := backend.SweepSpec{Scenario: "optimized", Batch: []int{8, 32, 128, 256}, Concurrency: []int{1, 2, 4}, Blocks: []int{8, 16}}
	m.Prepare(spec)
	res, err := f.Sweep(context.Background(), spec, m.Add)
	m.End(res, err)
	if err != nil {
		t.Fatal(err)
	}
	v := ansi.Strip(m.View(160, 44))
	for _, want := range []string{"slice: blocks 8 (1 of 2: 8,16)", "★ ", "= ", "✗ oom", "· skip", "best: batch 128, concurrency 2, blocks 8",
		"tie: 4 cells tied", "steady throughput vs batch · concurrency 2, blocks 8 · peak"} {
		if !strings.Contains(v, want) {
			t.Errorf("screen lacks %q:\n%s", want, v)
		}
	}
	for _, c := range []struct{ key, want string }{
		{"x", "slice: batch 128 (3 of 4"}, // the best's batch, blocks × concurrency
		{"]", "slice: batch 256 (4 of 4"},
		{"]", "slice: batch 8 (1 of 4"},
		{"[", "slice: batch 256 (4 of 4"},
		{"x", "slice: concurrency 2 (2 of 3"},
	} {
		m.Update(press(c.key))
		if v := ansi.Strip(m.View(160, 44)); !strings.Contains(v, c.want) {
			t.Errorf("after %s: screen lacks %q:\n%s", c.key, c.want, v)
		}
	}
	if v := ansi.Strip(m.View(160, 44)); !strings.Contains(v, "blocks \\ batch") {
		t.Errorf("sliced by concurrency, the map should be blocks × batch:\n%s", v)
	}
	for _, k := range []string{"S", "R", "e"} {
		if cmd := m.Update(press(k)); cmd != nil {
			m.Update(cmd())
		}
	}
	if !slices.Equal(f.Exported, []string{"ray", "sweep"}) || len(f.Saved) != 1 {
		t.Fatalf("exports %v, saved %v; want ray and sweep, one scenario", f.Exported, f.Saved)
	}
	if k := f.Saved[0]; k.Batch != 128 || k.Concurrency != 2 || k.Blocks != 8 {
		t.Errorf("saved knobs %+v, want the best cell's batch 128, concurrency 2, blocks 8", k)
	}
}
