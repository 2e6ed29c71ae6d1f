package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"workbench/bench"
)

// TestSweepInvalidConfig: a bad grid, condition, objective or output
// exits 104 with a message naming the flag, before anything runs.
func TestSweepInvalidConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--batch", "256..16"}, "--batch 256..16: start 256 is greater than end 16"},
		{[]string{"--batch", "16..x"}, "--batch 16..x: x is not a positive integer"},
		{[]string{"--concurrency", "1,1"}, "--concurrency 1,1: 1 appears twice"},
		{[]string{"--blocks", "0"}, "--blocks 0: 0 is not a positive integer"},
		{[]string{"--set", "intra_op_threads"}, "--set intra_op_threads: want key=value"},
		{[]string{"--set", "batch_size=1,2"}, "sweep this with --batch"},
		{[]string{"--threshold", "througput>100"}, `unknown metric "througput"`},
		{[]string{"--constraint", "latency_p95<200"}, "needs a unit"},
		{[]string{"--objective", "speed"}, "--objective speed: unknown metric"},
		{[]string{"--search", "random"}, "--search random: want full or quick"},
		{[]string{"--out", "r.xlsx"}, "unknown results format"},
		{[]string{"--repeat", "0"}, "--repeat 0: must be at least 1"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), &stdout, &stderr, append([]string{"sweep", "--data", t.TempDir()}, c.args...))
			code := exitCode(&stderr, err)
			if code != bench.ExitInvalidConfig {
				t.Fatalf("exit %d, want %d (stderr %q)", code, bench.ExitInvalidConfig, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr %q does not say %q", stderr.String(), c.want)
			}
		})
	}
}

// TestThresholdExit: a violated threshold exits 99 and says which.
func TestThresholdExit(t *testing.T) {
	t.Parallel()
	th := thresholdFlag{spec: "throughput>100,latency_p95<250ms"}
	if err := th.parse(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := th.check(&out, "run", map[string]float64{"throughput": 120, "latency_p95": 0.2}); err != nil {
		t.Fatalf("passing thresholds failed: %v", err)
	}
	out.Reset()
	err := th.check(&out, "run", map[string]float64{"throughput": 80, "latency_p95": 0.2})
	var stderr bytes.Buffer
	if code := exitCode(&stderr, err); code != bench.ExitThresholdFailed {
		t.Fatalf("exit %d, want 99", code)
	}
	if !strings.Contains(out.String(), "FAIL threshold throughput>100 failed: 80.0 img/s") ||
		strings.Contains(out.String(), "latency_p95<250ms failed") {
		t.Errorf("output %q should name exactly the failed threshold", out.String())
	}
	bad := thresholdFlag{spec: "throughput>>1"}
	if code := exitCode(&stderr, bad.parse()); code != bench.ExitInvalidConfig {
		t.Errorf("invalid threshold: exit %d, want 104", code)
	}
}

func TestReportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, out := range []string{"r.html", "r.md"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), &stdout, &stderr, []string{"report", "bench/testdata/sweep.json", "-o", dir + "/" + out})
		if err != nil {
			t.Fatalf("%s: %v (%s)", out, err, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), &stdout, &stderr, []string{"report", "bench/testdata/race.json", "bench/testdata/race.json"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "~ (p=1.000 n=6+6)") {
		t.Errorf("comparing a file with itself must print ~:\n%s", stdout.String())
	}
	if code := exitCode(&stderr, run(context.Background(), &stdout, &stderr, []string{"report"})); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
}

// TestSweepEndToEnd runs a real two-cell sweep with the tiny model, checks
// the records it writes read back, and that an unreachable threshold on the
// best cell exits 99 after the results are written.
func TestSweepEndToEnd(t *testing.T) {
	data := synthData(t, 16, nil)
	out := filepath.Join(t.TempDir(), "sweep.parquet")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), &stdout, &stderr, []string{"sweep", "--model", "tiny", "--data", data,
		"--batch", "4,8", "--concurrency", "1", "--sample-hz", "0", "--out", out, "--threshold", "throughput>1e12"})
	if code := exitCode(&stderr, err); code != bench.ExitThresholdFailed {
		t.Fatalf("exit %d, want 99\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "FAIL threshold throughput>1e12 failed") {
		t.Errorf("stderr does not name the failed threshold:\n%s", stderr.String())
	}
	recs, err := bench.ReadRecordsFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The protocol runs each cell at least once and at most MaxRuns times.
	p := bench.DefaultProtocol
	if len(recs) < 2 || len(recs) > 2*p.MaxRuns {
		t.Fatalf("%d records, want 2 to %d", len(recs), 2*p.MaxRuns)
	}
	for _, r := range recs {
		b, _ := strconv.Atoi(r.Params["batch"])
		// 16 images are too few for the windows: the read cycles to
		// the rows the protocol needs, and the record says so.
		need := p.RowsNeeded(b, 1)
		if r.Status != bench.StatusOK || r.Images != need || r.Cycled != float64(need)/16 || r.Protocol == nil || r.CellStable == nil {
			t.Errorf("record %s: status %s, %d images (want %d), cycled %g, protocol %v, cell stable %v",
				r.Label, r.Status, r.Images, need, r.Cycled, r.Protocol, r.CellStable)
		}
		if r.Fingerprint.DatasetN != 16 {
			t.Errorf("record %s: dataset_count %d, want the 16 distinct images, not the cycled rows", r.Label, r.Fingerprint.DatasetN)
		}
		if *r.CellStable != (r.Rank > 0) {
			t.Errorf("record %s: cell stable %v but rank %d", r.Label, *r.CellStable, r.Rank)
		}
	}
	if !strings.Contains(stdout.String(), "held fixed: model tiny") || !strings.Contains(stdout.String(), "swept: batch, concurrency") {
		t.Errorf("the summary does not say what was held fixed and swept:\n%s", stdout.String())
	}
}

// TestSweepTableAligned: the summary of a sweep whose cells end every way
// (ranked and tied, unstable, out of memory, skipped after it, skipped for
// the early exit) keeps every column aligned on every row. The cells come
// from a fake run whose windows are fixed, through the real Sweep.
func TestSweepTableAligned(t *testing.T) {
	t.Parallel()
	var g bench.Grid
	if err := g.AddInts("batch", []int{16, 32, 64, 128, 256}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddInts("concurrency", []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	// Steady rates per cell; 0 fails with an out-of-memory error.
	rate := map[string]float64{
		"batch=16 concurrency=1": 40, "batch=32 concurrency=1": 41, "batch=64 concurrency=1": 40.5,
		"batch=128 concurrency=1": 39, "batch=256 concurrency=1": 0,
		"batch=16 concurrency=2": 28, "batch=32 concurrency=2": 30, "batch=64 concurrency=2": -1,
	}
	run := func(_ context.Context, cell map[string]string, repeat int) (*bench.Record, error) {
		label := g.Label(cell)
		v := rate[label]
		if v == 0 {
			return nil, fmt.Errorf("CUDA failure 2: out of memory")
		}
		rec := &bench.Record{Status: bench.StatusOK, Scenario: "optimized", Images: 200,
			Config:      bench.RunConfig{Model: "resnet18", Device: "cpu", IntraOp: 2, InterOp: 1},
			Fingerprint: bench.Fingerprint{Dataset: "data/synth", DatasetN: 200},
			LatencyP95:  map[string]float64{"16": 0.2, "32": 0.4, "64": 0.8, "128": 1.6}[cell["batch"]], PeakRSS: 512 << 20, Stable: true, WindowsIndependent: true}
		if v < 0 { // unstable: windows that swing
			v = 20
			rec.Stable, rec.Variation = false, 0.4
		}
		for i := range 6 {
			rec.Windows = append(rec.Windows, v*(1+0.01*float64(i%3-1)))
		}
		rec.SteadyTput, rec.Throughput, rec.ColdStartSeconds = v, 0.8*v, 1.5
		if cell["batch"] == "128" {
			rec.Cycled = 3.2
		}
		return rec, nil
	}
	at := time.Unix(0, 0)
	obj, _ := bench.ParseObjective("steady")
	proto := bench.DefaultProtocol
	res, err := bench.Sweep(context.Background(), bench.SweepOptions{Grid: g, Objective: obj, Protocol: &proto,
		EarlyExit: &bench.EarlyExit{MinGain: 0.05, Points: 3}, Now: func() time.Time { return at }}, run)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	writeSweepSummary(&out, res)
	checkGolden(t, "sweep_table.golden", out.Bytes())
	// Every table row has its columns where the header has them.
	lines := strings.Split(out.String(), "\n")
	var head string
	for _, l := range lines {
		if strings.HasPrefix(l, "cell ") {
			head = l
			continue
		}
		if head == "" || !strings.HasPrefix(l, "batch=") {
			continue
		}
		for _, col := range []string{"status", "steady", "wall", "samples", "rank"} {
			i := utf8.RuneCountInString(head[:strings.Index(head, col)])
			r := []rune(l)
			if i >= len(r) || r[i-1] != ' ' || r[i] == ' ' {
				t.Errorf("column %q misaligned in %q", col, l)
			}
		}
	}
}

// TestSweepWarnsWhenMostCellsAreUnstable: when most measured cells never
// settle, the ranking of the few that did is the machine's noise, and the
// summary says so; with every cell stable it says nothing of the kind.
func TestSweepWarnsWhenMostCellsAreUnstable(t *testing.T) {
	for _, tc := range []struct {
		name     string
		unstable map[int]bool
		warn     bool
	}{
		{"most unstable", map[int]bool{16: true, 32: true}, true},
		{"all stable", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g bench.Grid
			if err := g.AddInts("batch", []int{16, 32, 64}); err != nil {
				t.Fatal(err)
			}
			run := func(_ context.Context, cell map[string]string, _ int) (*bench.Record, error) {
				b, _ := strconv.Atoi(cell["batch"])
				rec := &bench.Record{Status: bench.StatusOK, Scenario: "optimized", Images: 200, Stable: !tc.unstable[b],
					WindowsIndependent: true, SteadyTput: 40, Throughput: 32}
				for i := range 6 {
					rec.Windows = append(rec.Windows, 40*(1+0.01*float64(i%3-1)))
				}
				return rec, nil
			}
			obj, _ := bench.ParseObjective("steady")
			proto := bench.DefaultProtocol
			res, err := bench.Sweep(context.Background(), bench.SweepOptions{Grid: g, Objective: obj, Protocol: &proto}, run)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			writeSweepSummary(&out, res)
			if got := strings.Contains(out.String(), "never settled"); got != tc.warn {
				t.Errorf("warning shown = %v, want %v:\n%s", got, tc.warn, out.String())
			}
		})
	}
}
