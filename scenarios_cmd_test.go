package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"workbench/pipeline"
	"workbench/vision"
)

func init() {
	// Another test file of package main may register -update first.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

// scenGolden compares got with testdata/name, rewriting it under -update.
func scenGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var scenDir = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "workbench-scen-")
	if err != nil {
		return "", err
	}
	_, err = vision.Synthesize(dir, 16, 5)
	return dir, err
})

func scenData(t *testing.T) string {
	t.Helper()
	dir, err := scenDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {}) // the folder is shared; the OS temp cleaner removes it
	return dir
}

func TestScenariosShowGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"optimized", "slow"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out, errb bytes.Buffer
			if err := run(context.Background(), &out, &errb, []string{"scenarios", "show", name}); err != nil {
				t.Fatalf("%v\n%s", err, errb.String())
			}
			scenGolden(t, "scenarios_show_"+name+".golden", out.Bytes())
		})
	}
}

func TestScenariosList(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), &out, &out, []string{"scenarios", "list"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"optimized", "slow", "model-per-batch", "no-backpressure", "tiny-blocks"} {
		if !strings.Contains(out.String(), n) {
			t.Errorf("list lacks %s:\n%s", n, out.String())
		}
	}
}

func TestScenarioFileErrorsAllAtOnce(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("extends: optimized\nbatch_size: 0\nbatchsize: 4\nconcurrency: -2\n"), 0o644)
	var out, errb bytes.Buffer
	err := run(context.Background(), &out, &errb, []string{"run", "--scenario", bad, "--data", scenData(t), "--model", "tiny"})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("err = %v, want exit code 2", err)
	}
	for _, want := range []string{"bad.yaml:2: batch_size", `bad.yaml:3: unknown key "batchsize"`, "bad.yaml:4: concurrency"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestRunScenario(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "res.parquet")
	var stdout, stderr bytes.Buffer
	args := []string{"run", "--scenario", "json-output", "--data", scenData(t), "--model", "tiny", "--sample-hz", "0", "--out", out}
	if err := run(context.Background(), &stdout, &stderr, args); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	// An explicit --out wins over the scenario's format.
	if _, err := os.Stat(out); err != nil {
		t.Errorf("no output at %s: %v", out, err)
	}
	args = []string{"run", "--scenario", "json-output", "--data", scenData(t), "--model", "tiny", "--sample-hz", "0", "--batch", "4", "--json", filepath.Join(dir, "r.json")}
	stdout.Reset()
	wd := t.TempDir()
	args = append(args, "--out", filepath.Join(wd, "results"))
	if err := run(context.Background(), &stdout, &stderr, args); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	// A name without an extension takes the scenario's format (JSON lines)
	// and its extension.
	if _, err := os.Stat(filepath.Join(wd, "results.jsonl")); err != nil {
		t.Errorf("no output: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "r.json"))
	if !strings.Contains(string(b), `"batch_size": "4"`) || !strings.Contains(string(b), `"scenario": "json-output"`) {
		t.Errorf("record lacks the overridden batch size or the scenario name:\n%s", b)
	}
}

func TestRaceTiny(t *testing.T) {
	t.Parallel()
	js := filepath.Join(t.TempDir(), "race.json")
	var stdout, stderr bytes.Buffer
	args := []string{"race", "slow", "optimized", "--data", scenData(t), "--model", "tiny", "--images", "8", "--sample-hz", "0", "--json", js}
	if err := run(context.Background(), &stdout, &stderr, args); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	o := stdout.String()
	for _, want := range []string{"race: slow vs optimized", "one after the other", "images/s", "time to first result",
		"p95 batch latency", "peak RSS", "model loads", "errors", "speedup:", "the spread is unknown"} {
		if !strings.Contains(o, want) {
			t.Errorf("race output lacks %q:\n%s", want, o)
		}
	}
	var doc struct {
		Records []struct {
			Scenario string `json:"scenario"`
		} `json:"records"`
	}
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Records) != 2 || doc.Records[0].Scenario != "slow" {
		t.Errorf("race.json: %v, %d records; want slow then optimized", err, len(doc.Records))
	}
}

func TestRaceConcurrentSaysSo(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	args := []string{"race", "tiny-batch", "optimized", "--concurrent", "--data", scenData(t), "--model", "tiny", "--images", "8", "--sample-hz", "0"}
	if err := run(context.Background(), &stdout, &stderr, args); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "CONCURRENTLY, sharing the machine") {
		t.Errorf("concurrent race does not say so:\n%s", stdout.String())
	}
}

func TestRaceUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"race", "slow"}, {"race", "slow", "nosuch"}, {"race", "slow", "optimized", "--repeat", "0"}} {
		var out bytes.Buffer
		err := run(context.Background(), &out, &out, append(args, "--data", scenData(t)))
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

func TestAblateTiny(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	args := []string{"ablate", "--only", "model-per-batch,json-output,cpu-only", "--data", scenData(t), "--model", "tiny", "--images", "8", "--sample-hz", "0"}
	if err := run(context.Background(), &stdout, &stderr, args); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	o := stdout.String()
	for _, want := range []string{"optimized", "(baseline)", "model_loads ↑ 1 → ", "output_bytes ↑", "identical to optimized"} {
		if !strings.Contains(o, want) {
			t.Errorf("ablate output lacks %q:\n%s", want, o)
		}
	}
	if strings.Contains(o, "\nslow ") {
		t.Errorf("ablate ran slow, which is not a single mistake:\n%s", o)
	}
}

func TestProgressFormat(t *testing.T) {
	t.Parallel()
	s := &pipeline.Snapshot{
		At: 1500 * time.Millisecond, RowsDone: 32, RowsTotal: 64,
		Resources: pipeline.ExecutionResources{CPU: 2}, Limits: pipeline.ExecutionResources{CPU: 2},
		InFlightBytes: 3 << 20,
		Ops: []pipeline.OpSnapshot{
			{Name: "Preprocess", Metrics: pipeline.OpMetrics{TasksRunning: 1, QueuedRows: 8, QueuedBytes: 1 << 20, RowsOut: 48,
				State: pipeline.StateBackpressured, BackpressuredBy: "memory"}},
			{Name: "Inference", Metrics: pipeline.OpMetrics{TasksRunning: 1, ActorsAlive: 1, RowsOut: 32, State: pipeline.StateRunning, Stalls: 1}},
		},
	}
	got := strings.Join(formatSnapshot("optimized", s), "\n") + "\n" + formatCompact("optimized", s) + "\n"
	// A listing that streams: its total is not known until it ends.
	streaming := *s
	streaming.RowsTotal = 0
	got += strings.Join(formatSnapshot("optimized", &streaming), "\n") + "\n" + formatCompact("optimized", &streaming) + "\n"
	scenGolden(t, "progress.golden", []byte(got))
}

// TestProgressPlainIsQuiet: off a terminal, a short run prints one line,
// at the end, however many snapshots it published.
func TestProgressPlainIsQuiet(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgress(&buf)
	bus := pipeline.NewEventBus()
	wait := p.attach("x", bus)
	for i := range 10 { // fewer than the subscriber's buffer, so none is dropped
		bus.Publish(pipeline.Event{Snapshot: &pipeline.Snapshot{At: time.Duration(i) * time.Millisecond, RowsTotal: 20, RowsDone: int64(i)}})
	}
	bus.Publish(pipeline.Event{Snapshot: &pipeline.Snapshot{At: 20 * time.Millisecond, RowsTotal: 20, RowsDone: 20, Done: true}})
	bus.Close()
	wait()
	if lines := strings.Count(buf.String(), "\n"); lines != 1 || !strings.Contains(buf.String(), "20/20 rows") {
		t.Errorf("plain progress printed %d lines, want 1 final line:\n%s", lines, buf.String())
	}
}
