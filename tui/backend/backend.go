// Package backend is the TUI's narrow view of the rest of workbench: the
// scenarios it can show, the runs and sweeps it can start, and the reports it
// can write. The TUI depends on this interface only, so every screen can be
// driven by a deterministic fake in tests while package main wires the real
// engine, scenarios and reports behind it.
package backend

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"workbench/bench"
	"workbench/pipeline"
)

// Knobs are the settings the TUI lets a user change. Zero means "the
// engine's default" for Blocks and IntraOp.
type Knobs struct {
	Batch       int
	Concurrency int
	Blocks      int
	IntraOp     int
	Device      string // "cpu" or "cuda"
}

// String renders the knobs as a configuration label, in the order the
// reports use.
func (k Knobs) String() string {
	auto := func(n int) string {
		if n == 0 {
			return "auto"
		}
		return fmt.Sprint(n)
	}
	dev := k.Device
	if dev == "" {
		dev = "cpu"
	}
	return fmt.Sprintf("batch=%d concurrency=%d blocks=%s intra-op=%s device=%s",
		k.Batch, k.Concurrency, auto(k.Blocks), auto(k.IntraOp), dev)
}

// Scenario is one scenario with its teaching text: the mistake it makes,
// why that costs, and how to fix it.
type Scenario struct {
	Name    string
	Title   string
	Mistake string
	Why     string
	Fix     string
	Expect  string
	Knobs   Knobs
}

// Info is what the home screen tells the user about this machine and the
// defaults a run will use.
type Info struct {
	// Device is what doctor found, e.g. "cpu · 2 cores · no NVIDIA GPU".
	Device string
	// GPU is true when GPU telemetry is available, so the race panes chart
	// GPU utilisation and memory instead of CPU and RSS.
	GPU bool
	// Cores is the machine's logical CPU count; CPU percentages are of it.
	Cores int
	// Dataset and Model describe what every run reads and runs.
	Dataset string
	Model   string
	Images  int
	// Notice is said wherever results show: for a zoo model, that its
	// weights are untrained (speed real, labels meaningless).
	Notice string
	// Note is said once on the home screen, e.g. how long the default race
	// takes and why its size was chosen.
	Note string
	// Left and Right are the default race: slow against optimized.
	Left, Right string
}

// RunSpec is one run to start: a scenario, optionally with knobs changed.
type RunSpec struct {
	Scenario string
	// Label names the run on screen and in reports.
	Label string
	// Knobs, when non-nil, replace the scenario's knobs.
	Knobs *Knobs
	// Set are further scenario knobs to set, as (YAML key, value) pairs in
	// order, after Knobs: how a workshop step fixes one more mistake.
	Set [][2]string
}

// SweepSpec is a grid to sweep over one scenario, as `workbench sweep`
// takes it: the form parses Batch, Concurrency and Blocks with the CLI's
// range grammar (bench.ParseRange), and the backend parses Objective and
// Constraints as --objective and --constraint.
type SweepSpec struct {
	Scenario    string
	Batch       []int
	Concurrency []int
	// Blocks are the read block counts to sweep; empty keeps the
	// scenario's (a grid of two axes).
	Blocks []int
	// Objective names the metric cells are ranked by (bench.ParseObjective:
	// steady, wall, latency_p95, images_per_joule…); "" is the CLI's
	// default, steady.
	Objective string
	// Constraints are the conditions a cell must meet to satisfy the
	// constraints, e.g. "latency_p95<200ms,peak_rss<4GiB"; "" is none.
	Constraints string
}

// Axes are the spec's grid dimensions in the order the CLI labels cells,
// with the values of each: batch, concurrency, then blocks when swept.
func (s SweepSpec) Axes() []Axis {
	axes := []Axis{{Name: "batch", Values: s.Batch}, {Name: "concurrency", Values: s.Concurrency}}
	if len(s.Blocks) > 0 {
		axes = append(axes, Axis{Name: "blocks", Values: s.Blocks})
	}
	return axes
}

// List writes values as the CLI's literal list, "8,32,128"; the range
// grammar (bench.ParseRange) reads it back as they are.
func List(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

// Axis is one dimension of a sweep's grid.
type Axis struct {
	Name   string
	Values []int
}

// Step is one step of the workshop: a run with the explanation of what it
// changes. The first step is the slow pipeline; each later step fixes one
// more mistake.
type Step struct {
	Title   string
	Mistake string
	Explain string
	Spec    RunSpec
}

// Backend is everything the TUI asks of workbench. Implementations must be
// safe for use from several goroutines; Run and Sweep are called from
// commands, off the UI goroutine.
type Backend interface {
	Info() Info
	Scenarios() []Scenario
	// Run plans and executes one measured run, publishing snapshots and
	// telemetry on bus while it runs. It returns when the run ends or ctx
	// is cancelled, never leaving partial output behind.
	Run(ctx context.Context, spec RunSpec, bus *pipeline.EventBus) (*bench.Record, error)
	// Sweep runs the grid as `workbench sweep` does (the measurement
	// protocol, failures skipping larger batches, the early exit), calling
	// onRecord with a copy of every record as it is made (completed,
	// failed or skipped cells alike), and returns the ranked result: each
	// cell's samples and interval, its rank, and the cells tied with the
	// best. A cancelled sweep returns what it ranked with ctx's error; a
	// spec the CLI would refuse returns an error before anything runs.
	Sweep(ctx context.Context, spec SweepSpec, onRecord func(*bench.Record)) (*bench.SweepResult, error)
	// Diagnose returns the top diagnosis of a record, "" when none.
	Diagnose(rec *bench.Record) string
	// Export writes a report of recs and returns its path. kind is
	// "race", "sweep", "tune" or "workshop".
	Export(kind string, recs []*bench.Record) (string, error)
	// SaveScenario writes knobs as a scenario YAML file based on base and
	// returns its path.
	SaveScenario(base string, k Knobs) (string, error)
	// ExportRay writes the best cell of a sweep's records (bench.BestCell)
	// over scenario as a Ray Data job folder, as `workbench export ray
	// --from` does, and returns the folder's path.
	ExportRay(scenario string, recs []*bench.Record) (string, error)
	// Lesson returns the workshop's steps.
	Lesson() []Step
}

// Find returns the scenario called name.
func Find(scs []Scenario, name string) (Scenario, bool) {
	for _, s := range scs {
		if strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	return Scenario{}, false
}
