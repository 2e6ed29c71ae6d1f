package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"workbench/bench"
	"workbench/datasource"
	"workbench/pipeline"
	"workbench/scenarios"
	"workbench/tui/backend"
)

// knobCase is a non-default value for one knob, in a file's words; with
// are other knobs it needs to be valid (strict judges row objects only).
type knobCase struct {
	knob, value string
	with        [][2]string
	// effective is the resolved value where it differs from value (log
	// cadence is reset when nothing logs); "" = value.
	effective string
}

// knobCases holds a non-default value for every knob; TestEveryKnobReaches
// Every Run fails when a knob has none, so a new knob cannot be forgotten.
var knobCases = []knobCase{
	{knob: "batch_size", value: "8"},
	{knob: "concurrency", value: "2"},
	{knob: "blocks", value: "3"},
	{knob: "preprocess_concurrency", value: "1"},
	{knob: "intra_op_threads", value: "1"},
	{knob: "inter_op_threads", value: "2"},
	{knob: "device", value: "cpu"},
	{knob: "num_gpus", value: "0"},
	{knob: "compute", value: "tasks"},
	{knob: "model_per_batch", value: "true"},
	{knob: "per_image_forward", value: "true"},
	{knob: "transform_per_batch", value: "true"},
	{knob: "preprocess_in_actor", value: "true"},
	{knob: "hot_path_logging", value: "true"},
	{knob: "log_every", value: "3", with: [][2]string{{"hot_path_logging", "true"}}},
	{knob: "row_objects", value: "true"},
	{knob: "strict", value: "true", with: [][2]string{{"row_objects", "true"}}},
	{knob: "output_format", value: "json"},
	{knob: "take_all", value: "true"},
	{knob: "backpressure", value: "false"},
	{knob: "memory_budget", value: "64MiB"},
	{knob: "row_group_bytes", value: "8MiB"},
	{knob: "preserve_order", value: "true"},
	{knob: "precision", value: "fp16", effective: "fp32"}, // tiny has no fp16 sibling: said in a note
	{knob: "decoder", value: "go"},
	{knob: "graph_optimization", value: "basic"},
	{knob: "cudnn_conv_algo_search", value: "HEURISTIC"},
	{knob: "arena_extend_strategy", value: "kSameAsRequested"},
	{knob: "do_copy_in_default_stream", value: "false"},
	{knob: "use_tf32", value: "false"},
	{knob: "tensor_pool", value: "false"},
	{knob: "max_tasks_in_flight_per_actor", value: "1"},
	{knob: "cpus", value: "3"},
	{knob: "max_restarts", value: "infinite"},
	{knob: "max_task_retries", value: "1"},
	{knob: "inject_actor_failure_every", value: "2"},
	{knob: "preset", value: "efficientnet"},
	{knob: "resize", value: "80"},
	{knob: "crop", value: "64x64"},
	{knob: "interpolation", value: "bicubic"},
	{knob: "channels", value: "BGR"},
	{knob: "scale", value: "1"},
	{knob: "mean", value: "0.5"},
	{knob: "std", value: "0.5"},
	{knob: "layout", value: "NCHW"},
	{knob: "dtype", value: "float32"},
	{knob: "get_concurrency", value: "2"},
	{knob: "data_layout", value: "shards"}, // the shards the test writes beside its data
}

// TestEveryKnobReachesEveryRun sets each knob that has a flag to a
// non-default value three ways (flag, scenario file, --set) and runs each
// entry point (run, race, a sweep cell, the TUI backend) on the tiny model;
// the record must carry the value as asked and as it ran. Issue 14: under
// a scenario, --decoder go used to run libjpeg-turbo.
func TestEveryKnobReachesEveryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model about 380 times")
	}
	data := synthData(t, 6, nil)
	shards := datasource.ShardsBeside(data)
	t.Cleanup(func() { os.RemoveAll(shards) })
	if _, err := datasource.WriteShards(context.Background(), data, shards, datasource.ShardOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	flags := scenarios.KnobFlags()
	for _, kf := range flags {
		if !slices.ContainsFunc(knobCases, func(c knobCase) bool { return c.knob == kf.Knob }) {
			t.Errorf("knob %s (--%s) has no case in knobCases", kf.Knob, kf.Flag)
		}
	}
	for _, c := range knobCases {
		i := slices.IndexFunc(flags, func(f scenarios.KnobFlag) bool { return f.Knob == c.knob })
		if i < 0 {
			t.Errorf("knobCases names %s, which is not a knob", c.knob)
			continue
		}
		kf := flags[i]
		if kf.Default == c.value {
			t.Errorf("%s: %s is its default; pick another value", c.knob, c.value)
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "k.yaml")
		y := "extends: optimized\ntitle: one knob\n"
		for _, w := range append(c.with, [2]string{c.knob, c.value}) {
			y += w[0] + ": " + w[1] + "\n"
		}
		if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		common := []string{"--data", data, "--model", "tiny", "--images", "4", "--sample-hz", "0"}
		for _, w := range c.with {
			common = append(common, "--"+strings.ReplaceAll(w[0], "_", "-")+"="+w[1])
		}
		ways := []struct {
			name     string
			scenario string   // the scenario the entry point runs
			args     []string // how the value is given
			set      [][2]string
		}{
			{"flag", "optimized", flagArgs(kf, c.value), nil},
			{"file", file, nil, nil},
			{"set", "optimized", []string{"--set", c.knob + "=" + c.value}, [][2]string{{c.knob, c.value}}},
		}
		for _, way := range ways {
			entries := []struct {
				name string
				run  func(t *testing.T) *bench.Record
			}{
				{"run", func(t *testing.T) *bench.Record {
					out := filepath.Join(t.TempDir(), "r.json")
					args := append([]string{"run", "--scenario", way.scenario, "--ceiling=false", "--out", filepath.Join(t.TempDir(), "o"), "--json", out}, common...)
					return runEntry(t, append(args, way.args...), out)
				}},
				{"race", func(t *testing.T) *bench.Record {
					out := filepath.Join(t.TempDir(), "r.json")
					args := append([]string{"race", "slow", way.scenario, "--warmup", "0", "--json", out}, common...)
					return runEntry(t, append(args, way.args...), out)
				}},
				{"sweep cell", func(t *testing.T) *bench.Record {
					out := filepath.Join(t.TempDir(), "s.json")
					grid := map[string]string{"batch": "4", "concurrency": "1", "blocks": ""}
					var extra []string
					switch _, axis := grid[kf.Flag]; {
					case axis:
						// A sweep sets its own axes through its grid
						// flags, whatever else says.
						grid[kf.Flag] = c.value
					case way.name == "set":
						// A sweep's --set is a grid dimension: here one value.
						extra = []string{"--set", c.knob + "=" + c.value}
					default:
						extra = way.args
					}
					args := append([]string{"sweep", "--scenario", way.scenario, "--batch", grid["batch"], "--concurrency", grid["concurrency"],
						"--blocks", grid["blocks"], "--out", out}, common...)
					return runEntry(t, append(args, extra...), out)
				}},
				{"tui backend", func(t *testing.T) *bench.Record {
					fs := newFlagSet("tui", "", "", io.Discard)
					var f jobFlags
					f.register(fs)
					args := slices.Clone(common)
					if way.name == "flag" {
						args = append(args, way.args...)
					}
					if err := fs.Parse(args); err != nil {
						t.Fatal(err)
					}
					b, err := newTUIBackend(&f, "slow", "optimized")
					if err != nil {
						t.Fatal(err)
					}
					spec := backend.RunSpec{Scenario: way.scenario, Set: way.set}
					rec, err := b.Run(context.Background(), spec, pipeline.NewEventBus())
					if rec == nil {
						t.Fatalf("no record: %v", err)
					}
					return rec
				}},
			}
			for _, e := range entries {
				t.Run(fmt.Sprintf("%s/%s/%s", c.knob, way.name, e.name), func(t *testing.T) {
					// Each run is in-process and independent: two at a
					// time halves the test's wall time on 2 cores.
					t.Parallel()
					rec := e.run(t)
					if got := rec.Config.Asked[c.knob]; got != c.value {
						t.Errorf("asked %s = %q, want %q (record %s)", c.knob, got, c.value, rec.Label)
					}
					want := c.value
					if c.effective != "" {
						want = c.effective
					}
					if got := rec.Config.Knobs[c.knob]; got != want {
						t.Errorf("resolved %s = %q, want %q", c.knob, got, want)
					}
				})
			}
		}
	}
}

// flagArgs is the command line that sets knob flag kf to value.
func flagArgs(kf scenarios.KnobFlag, value string) []string {
	if kf.Bool {
		return []string{"--" + kf.Flag + "=" + value}
	}
	return []string{"--" + kf.Flag, value}
}

// runEntry runs the CLI in-process and returns the last record of the
// scenario under test from the JSON it wrote. A run that fails (strict
// refuses row objects) still writes its record.
func runEntry(t *testing.T, args []string, out string) *bench.Record {
	t.Helper()
	var stderr strings.Builder
	err := run(context.Background(), io.Discard, &stderr, args)
	recs, rerr := bench.ReadRecordsFile(out)
	if rerr != nil || len(recs) == 0 {
		t.Fatalf("%s: no records (%v; run error %v; stderr %s)", strings.Join(args, " "), rerr, err, stderr.String())
	}
	return recs[len(recs)-1]
}
