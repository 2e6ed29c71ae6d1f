package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"

	"workbench/bench"
	"workbench/scenarios"
)

const tuneUsage = `Find a good configuration for this machine, model and data: a quick search
(hill-climb over the grid, starting from the optimized scenario's settings)
that runs a fraction of the cells a full sweep would. It prints the evidence
table and the best configuration as a scenario file that extends optimized;
-o writes that file, ready for 'workbench run --scenario tuned.yaml'.`

const tuneExamples = `  workbench tune --model resnet50 --data data/synth -o tuned.yaml
  workbench tune --model tiny --batch 8..512 --concurrency 1..8:1 --repeat 3 --out tune.json
  workbench tune --objective latency_p95 --constraint 'throughput>200' -o low-latency.yaml`

func tuneCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("tune", tuneUsage, tuneExamples, stderr)
	var sf sweepFlags
	sf.register(fs, "8..256", "1.."+strconv.Itoa(runtime.NumCPU()), "", "")
	sf.search = "quick"
	yamlOut := fs.String("o", "", "write the tuned scenario YAML to FILE (default: print it)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("tune: unexpected argument %q (see workbench tune --help)", fs.Arg(0))
	}
	ss, base, err := sf.prepare(stderr)
	if err != nil {
		return err
	}
	// Start where optimized stands: its batch size and one actor per
	// device, snapped to the grid by Sweep.
	start := map[string]string{"batch": strconv.Itoa(base.Knobs.BatchSize), "concurrency": "1"}
	if base.Knobs.Concurrency.Max > 0 {
		start["concurrency"] = strconv.Itoa(base.Knobs.Concurrency.Max)
	}
	sf.mode = bench.SearchQuick
	opts := sf.options(base.Name, stderr)
	opts.Start = start
	fmt.Fprintf(stderr, "tune from %s: quick search over %d cells\n", base.Name, sf.grid.Len())
	res, err := bench.Sweep(ctx, opts, ss.cellRunner(sf.job.scenario, sf.grid))
	if err == nil {
		writeSweepSummary(stdout, res)
	}
	if werr := writeSweepResults(stdout, &sf, res); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	best := res.Best()
	if best == nil {
		return &exitError{code: 1, err: errors.New("tune: no configuration completed; see the reasons above")}
	}
	y, err := tunedYAML(base.Name, best, res)
	if err != nil {
		return fmt.Errorf("the tuned scenario does not load: %w", err)
	}
	if *yamlOut == "" {
		fmt.Fprintf(stdout, "\n%s", y)
	} else {
		if err := os.WriteFile(*yamlOut, y, 0o666); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\ntuned scenario: %s (workbench run --scenario %s)\n", *yamlOut, *yamlOut)
	}
	return sf.th.check(stderr, "the best cell, "+best.Label, best.Metrics)
}

// tunedYAML renders the best cell as a scenario that extends the one tuned,
// with the evidence in comments and in its why.
func tunedYAML(baseName string, best *bench.CellResult, res *bench.SweepResult) ([]byte, error) {
	rec := best.Records[0]
	fp := rec.Fingerprint
	var ev strings.Builder
	tw := tabwriter.NewWriter(&ev, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "cell\tstatus\tthroughput\tp95 latency\n")
	for _, c := range res.Cells {
		if !c.OK() {
			fmt.Fprintf(tw, "%s\t%s\t\t\n", c.Label, c.Status)
			continue
		}
		mark := ""
		if c == best {
			mark = "  <- best"
		}
		fmt.Fprintf(tw, "%s\tok\t%s\t%s%s\n", c.Label, bench.FormatValue(c.Metrics[bench.MetricThroughput], "img/s"),
			bench.FormatValue(c.Metrics[bench.MetricLatencyP95], bench.UnitSeconds), mark)
	}
	tw.Flush()
	where := fmt.Sprintf("Tuned by `workbench tune` (%s) on %s, %d cores", bench.Build(), fp.CPUModel, fp.Cores)
	if fp.GPU != "" {
		where += ", " + fp.GPU
	}
	search := fmt.Sprintf("Quick search ran %d of %d cells, ranked by %s", res.Visited, res.GridSize, res.Objective)
	if len(res.Constraints.Conds) > 0 {
		search += " under " + res.Constraints.String()
	}
	d := scenarios.Derived{
		Comments: []string{where + fmt.Sprintf("; model %s, data %s (%d images).", rec.Config.Model, fp.Dataset, fp.DatasetN), search + ". Evidence:"},
		Extends:  baseName,
		Title:    fmt.Sprintf("Tuned for this machine (%s)", best.Label),
		Covers:   "workbench tune: the best configuration a quick search found",
		Mistake:  "Nothing: this is " + baseName + " with the settings measured best here.",
		Why: fmt.Sprintf("%s reached %s (median of %d) on this machine, the best of the %d\nconfigurations tried. Re-tune when the machine, model or data change.",
			best.Label, res.Objective.Metric.Format(best.Metrics[res.Objective.String()]), len(best.Records), res.Visited),
		Fix:      "workbench run --scenario this-file.yaml",
		ExpectUp: []string{bench.MetricThroughput},
	}
	for _, l := range strings.Split(strings.TrimRight(ev.String(), "\n"), "\n") {
		d.Comments = append(d.Comments, "  "+l)
	}
	keys := make([]string, 0, len(best.Params))
	for k := range best.Params {
		keys = append(keys, k)
	}
	// Grid order, so the file reads like the command line.
	for _, k := range orderedDims(best, keys) {
		d.Knobs = append(d.Knobs, [2]string{knobOf(k), best.Params[k]})
	}
	return d.YAML(baseName + "-tuned.yaml")
}

// orderedDims returns the cell's dimension names in the order its label
// lists them.
func orderedDims(c *bench.CellResult, keys []string) []string {
	var out []string
	for _, part := range strings.Fields(c.Label) {
		k, _, _ := strings.Cut(part, "=")
		if _, ok := c.Params[k]; ok {
			out = append(out, k)
		}
	}
	if len(out) != len(keys) {
		return keys
	}
	return out
}

func init() {
	register(command{name: "tune", order: 41, summary: "search quickly for the best settings and write them as a scenario", run: tuneCmd})
}
