package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

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
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, r := range recs {
		if r.Status != bench.StatusOK || r.Images != 16 || r.Params["batch"] == "" || r.Rank == 0 || r.SatisfiesConstraints == nil {
			t.Errorf("record %s: status %s, %d images, params %v, rank %d", r.Label, r.Status, r.Images, r.Params, r.Rank)
		}
	}
}
