package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"workbench/bench"
	"workbench/runner"
)

const benchUsage = `bench ceiling measures the inference-only ceiling: preprocessed tensors already
in memory, the same session options as a run, nothing but forward passes. A run
whose throughput is close to it is limited by the model, not the pipeline.`

const benchExamples = `  workbench bench ceiling --model resnet50 --batch 64
  workbench bench ceiling --model resnet18 --batch 16 --concurrency 2 --iters 20`

func benchCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("bench ceiling", benchUsage, benchExamples, stderr)
	var f jobFlags
	f.register(fs)
	f.registerSet(fs)
	// --batch takes the sweep grammar here: the ceiling at several batch
	// sizes is the natural question.
	batches := stringFlag("")
	fl := fs.Lookup("batch")
	fl.Value, fl.Usage = &batches, "batch sizes: 64, a list (16,64) or a range (16..256); default the scenario's"
	iters := fs.Int("iters", 10, "measured rounds (each one batch per session)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	if f.metrics != "" || f.benchfmt != "" {
		return usageErr("--metrics-addr and --benchfmt: bench ceiling runs no pipeline and writes no records; use them with run, race, ablate, sweep or tune")
	}
	if *iters < 1 {
		return usageErr("--iters %d: must be at least 1", *iters)
	}
	var sizes []int
	if batches != "" {
		var err error
		if sizes, err = bench.ParseRange("batch", string(batches)); err != nil {
			return usageErr("%v", err)
		}
	}
	cfg, err := f.config(stderr)
	if err != nil {
		return err
	}
	p, err := runner.ResolveModel(cfg)
	if err != nil {
		return err
	}
	m, sess := p.Job.Model, p.Job.Session
	if len(sizes) == 0 {
		sizes = []int{p.Job.BatchSize}
	}
	fmt.Fprintf(stdout, "inference ceiling, %s on %s, %d session(s), %d rounds each (median ± 95%% CI):\n", m.Name, sess, p.Job.Concurrency.Max, *iters)
	var results []bench.CeilingResult
	best := 0
	for _, b := range sizes {
		res, err := bench.Ceiling(ctx, bench.CeilingOptions{Model: m, Session: sess, Batch: b, Sessions: p.Job.Concurrency.Max, Warmup: 2, Iters: *iters})
		if err != nil {
			return err
		}
		results = append(results, res)
		if res.Summary.Center > results[best].Summary.Center {
			best = len(results) - 1
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for i, res := range results {
		mark := ""
		switch {
		case len(results) == 1:
		case i == best:
			mark = "best"
		case res.Summary.Hi >= results[best].Summary.Lo:
			// The intervals overlap: not shown to differ.
			mark = "~ tied with the best (intervals overlap)"
		}
		fmt.Fprintf(tw, "  batch %d\t%s\t%s\n", res.Batch, res.Summary.Format("img/s"), mark)
	}
	tw.Flush()
	if n := m.Notice(); n != "" {
		fmt.Fprintf(stdout, "(%s: %s)\n", m.Name, n)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	return nil
}

func init() {
	register(command{name: "bench", order: 70, summary: "measure the inference-only ceiling (bench ceiling)"})
	register(command{name: "bench ceiling", summary: "measure forward passes alone, on tensors already in memory", run: benchCmd})
}
