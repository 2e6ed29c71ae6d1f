package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"workbench/pipeline"
)

// A sleepConfig is a synthetic configuration whose true throughput is
// known: actors × batch / cost rows per second, each batch taking cost
// (jittered by a seeded ±5%) in one of actors parallel actors.
type sleepConfig struct {
	batch, actors int
	cost          time.Duration
}

func (c sleepConfig) trueRate() float64 {
	return float64(c.actors*c.batch) / c.cost.Seconds()
}

// sleepCell runs a cell on the engine: the read over tiny files (cycled to
// the protocol's need), then a sleep UDF in an actor pool, measured by p
// from the UDF's own batch completions.
func sleepCell(files []string, cfgs map[string]sleepConfig, p Protocol, seed uint64) CellFunc {
	return func(ctx context.Context, cell map[string]string, repeat int) (*Record, error) {
		c := cfgs[cell["config"]]
		h := fnv.New64a()
		fmt.Fprintf(h, "%s/%d", cell["config"], repeat)
		rng := rand.New(rand.NewPCG(seed, h.Sum64()))
		var mu sync.Mutex
		var events []Event
		var lat []time.Duration
		n := p.RowsNeeded(c.batch, c.actors)
		list := make([]string, n)
		for i := range list {
			list[i] = files[i%len(files)]
		}
		start := time.Now()
		udf := func(ctx context.Context) (pipeline.UDF, error) {
			// Each actor paces itself on its own clock, so a timer's
			// overshoot, or a moment off the CPU, is made up on the next
			// batch instead of adding up: the actor's rate is batch/cost
			// whatever the timer and a busy machine.
			var due time.Time
			return pipeline.UDFFunc(func(ctx context.Context, b pipeline.Block) (any, error) {
				mu.Lock()
				d := time.Duration(float64(c.cost) * (0.95 + 0.1*rng.Float64()))
				mu.Unlock()
				t0 := time.Now()
				if t0.Sub(due) > c.cost {
					due = t0 // was idle a whole batch: start afresh
				}
				due = due.Add(d)
				select {
				case <-time.After(time.Until(due)):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				rows := int(b.NumRows())
				mu.Lock()
				events = append(events, Event{At: time.Since(start), Rows: rows})
				lat = append(lat, time.Since(t0))
				mu.Unlock()
				return pipeline.Columns{"n": make([]int32, rows)}, nil
			}), nil
		}
		ds := pipeline.ReadBinaryFiles(list, pipeline.ReadOptions{OverrideNumBlocks: max(1, n/32)}).
			MapBatches(pipeline.MapOptions{Name: "Sleep", FnConstructor: udf, BatchSize: c.batch,
				Compute: pipeline.ActorPool{}, Concurrency: pipeline.Fixed(c.actors), NumCPUs: 0.01})
		if err := ds.IterBatches(ctx, func(pipeline.Block) error { return nil }); err != nil {
			return nil, err
		}
		wall := time.Since(start)
		rec := &Record{Status: StatusOK, WallSeconds: wall.Seconds(), Batches: len(events)}
		for _, e := range events {
			rec.Images += e.Rows
		}
		rec.Throughput = float64(rec.Images) / wall.Seconds()
		if l, err := LatencyPercentiles(lat); err == nil {
			rec.LatencyP50, rec.LatencyP95, rec.LatencyP99 = l.P50.Seconds(), l.P95.Seconds(), l.P99.Seconds()
		}
		p.ApplyRun(rec, events, wall, c.actors)
		return rec, nil
	}
}

// TestProtocolRanksSyntheticCells sweeps configurations of known true
// throughput through the real engine, 20 seeded times (the seed sets the
// jitter and the order the cells are visited in). Equal-cost
// configurations must come out tied with each other, and the truly better
// one must win: by throughput when one is faster, by the secondary
// objective (lower latency) when the fastest tie.
//
// It measures real time, so a machine busy with other work can make a cell
// unstable: it runs in `make protocol-check` (WORKBENCH_PROTOCOL_CHECK=1),
// on a quiet machine, not in `make test`.
func TestProtocolRanksSyntheticCells(t *testing.T) {
	if os.Getenv("WORKBENCH_PROTOCOL_CHECK") == "" {
		t.Skip("timing-sensitive: run with make protocol-check on a quiet machine")
	}
	t.Parallel()
	dir := t.TempDir()
	var files []string
	for i := range 32 {
		f := filepath.Join(dir, fmt.Sprintf("%02d.bin", i))
		if err := os.WriteFile(f, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	// Windows of 4 batches, 9 a run: with 9 samples the 95% interval of
	// the median leaves out the extreme windows, so a moment off the CPU
	// on a busy machine does not stretch a cell's interval over a slower
	// cell's. Ties break on the median latency, which such a moment
	// cannot move as it can the p95 of a short run.
	proto := Protocol{WindowBatches: 4, Windows: 9, MaxRuns: 8, Secondary: MetricLatencyP50}.WithDefaults()
	cases := []struct {
		name string
		cfgs map[string]sleepConfig
		// best must win; tied are the cells reported tied with it (best
		// included); the others must not be tied.
		best string
		tied []string
	}{
		{
			name: "equal-cost fastest, broken by latency",
			cfgs: map[string]sleepConfig{
				"b16x1":      {16, 1, 32 * time.Millisecond},  // 500/s, 32ms batches
				"b32x1":      {32, 1, 64 * time.Millisecond},  // 500/s, 64ms
				"b32x2":      {32, 2, 128 * time.Millisecond}, // 500/s, 128ms
				"b16x1-slow": {16, 1, 64 * time.Millisecond},  // 250/s
			},
			best: "b16x1", tied: []string{"b16x1", "b32x1", "b32x2"},
		},
		{
			name: "one truly faster",
			cfgs: map[string]sleepConfig{
				"b16x2": {16, 2, 32 * time.Millisecond}, // 1000/s
				"b16x1": {16, 1, 32 * time.Millisecond}, // 500/s
				"b32x1": {32, 1, 64 * time.Millisecond}, // 500/s
			},
			best: "b16x2",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			names := make([]string, 0, len(c.cfgs))
			for n := range c.cfgs {
				names = append(names, n)
			}
			slices.Sort(names)
			// Six seeds run at once, rather than as parallel subtests,
			// which `go test` would run two at a time on two cores: the
			// cells mostly sleep. More at once would starve the engine
			// of CPU on a small machine, and then the configurations no
			// longer run at their true rates.
			var wg sync.WaitGroup
			sem := make(chan struct{}, 6)
			for seed := range uint64(20) {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					order := slices.Clone(names)
					rand.New(rand.NewPCG(seed, 1)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
					var g Grid
					if err := g.Add("config", order...); err != nil {
						t.Error(err)
						return
					}
					obj, _ := ParseObjective(MetricSteadyTput)
					res, err := Sweep(context.Background(), SweepOptions{Grid: g, Objective: obj, Protocol: &proto},
						sleepCell(files, c.cfgs, proto, seed))
					if err != nil {
						t.Errorf("seed %d: %v", seed, err)
						return
					}
					for _, e := range checkRanking(res, c.cfgs, c.best, c.tied) {
						t.Errorf("seed %d: %s", seed, e)
					}
				})
			}
			wg.Wait()
		})
	}
}

// checkRanking lists what is wrong with a synthetic sweep's verdict.
func checkRanking(res *SweepResult, cfgs map[string]sleepConfig, best string, tied []string) []string {
	var lines, errs []string
	for _, c := range res.Cells {
		sum := c.Samples.Summary
		lines = append(lines, fmt.Sprintf("%s: %s stable=%v rank=%d tied=%v median %.0f [%.0f, %.0f] n=%d from windows=%v runs=%d (true %.0f) %s",
			c.Label, c.Status, c.Stable, c.Rank, c.Tied, sum.Center, sum.Lo, sum.Hi, sum.N, c.Samples.FromWindows,
			len(c.Records), cfgs[c.Params["config"]].trueRate(), c.Reason))
	}
	for _, c := range res.Cells {
		if !c.Stable {
			// The protocol would be right to leave it unranked, but a
			// paced sleep is steady: this is a bug in the windows.
			errs = append(errs, fmt.Sprintf("%s unstable: %s", c.Label, c.Reason))
		}
		if n := c.Samples.Summary.N; n < DefaultProtocol.MinSamples {
			errs = append(errs, fmt.Sprintf("%s has %d samples, want >= %d", c.Label, n, DefaultProtocol.MinSamples))
		}
		want := slices.Contains(tied, c.Params["config"])
		if c.Tied != want {
			errs = append(errs, fmt.Sprintf("%s tied=%v, want %v", c.Label, c.Tied, want))
		}
		if want && c.TieBreak == "" {
			errs = append(errs, fmt.Sprintf("%s is tied but no tie-break is stated", c.Label))
		}
	}
	if b := res.Best(); b == nil || b.Params["config"] != best {
		errs = append(errs, fmt.Sprintf("best is %v, want %s", b, best))
	}
	if len(errs) > 0 {
		errs[len(errs)-1] += dumpLines(lines)
	}
	return errs
}

func dumpLines(lines []string) string {
	s := ""
	for _, l := range lines {
		s += "\n  " + l
	}
	return s
}
