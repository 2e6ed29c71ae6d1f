package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"workbench/datasource"

	"workbench/bench"
	"workbench/runner"
)

const runUsage = `Classify every image under --data with an ONNX model and write one row per
image to --out (Parquet, Snappy; .json/.jsonl writes JSON lines). Broken files
become rows with the error column set; the run goes on.`

const runExamples = `  workbench run --data data/synth --model resnet50 --batch 64 --concurrency 1 --blocks 16 --device cpu --out results.parquet
  workbench run --data ~/photos --model my_model.onnx --images 500 --json run.json
  workbench run --data data/synth --model tiny --concurrency 1-4 --fail-on-error
  workbench run --model resnet18 --images 200 --repeat 5 --json runs.json`

func runCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("run", runUsage, runExamples, stderr)
	var f jobFlags
	f.register(fs)
	f.registerSet(fs)
	fs.StringVar(&f.out, "out", "results.parquet", "output file: .parquet, or .json/.jsonl for JSON lines")
	failOnError := fs.Bool("fail-on-error", false, "exit 1 when any image fails")
	var checkpoint string
	var retryFailed bool
	fs.StringVar(&checkpoint, "checkpoint", "auto", "resumable run: commit each written block to this folder and skip what it holds on a rerun; auto = OUT.checkpoint beside --out, off = none; deleted once the output is published")
	fs.BoolVar(&retryFailed, "retry-failed", true, "on resume, compute rows that failed again (false keeps their error rows from the checkpoint)")
	repeat := fs.Int("repeat", 1, "runs of the job, one after another; with 2 or more the summary adds each metric's median and interval and the protocol's verdict (the output holds the last run's rows)")
	ceiling := fs.Bool("ceiling", true, "after the run, measure the inference-only ceiling with the same settings and report the run as a fraction of it")
	var th thresholdFlag
	th.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("run: unexpected argument %q (flags go before nothing else; see workbench run --help)", fs.Arg(0))
	}
	if *repeat < 1 {
		return usageErr("run: --repeat %d: want at least 1 run", *repeat)
	}
	if _, set := f.explicit()["out"]; set && !f.knobs["output-format"].set {
		// The file's name says its format, as the user would expect; a
		// name without an extension takes the scenario's format.
		switch ext := strings.ToLower(filepath.Ext(f.out)); ext {
		case ".parquet":
			f.knobs["output-format"].Set("parquet")
		case ".json", ".jsonl":
			f.knobs["output-format"].Set("json")
		case ".csv":
			f.knobs["output-format"].Set("csv")
		case "":
		default:
			return invalidConfig(fmt.Errorf("--out %s: %s is not an output format; use .parquet (columnar, Snappy), .json/.jsonl (JSON lines) or .csv, or --output-format", f.out, ext))
		}
	}
	if err := f.validate(); err != nil {
		return err
	}
	if err := th.parse(); err != nil {
		return err
	}
	ss, err := newScenarioSession(&f, stderr)
	if err != nil {
		return err
	}
	s, err := ss.load(f.scenario)
	if err != nil {
		return err
	}
	out := f.out
	if datasource.IsRemote(out) && strings.HasSuffix(out, "/") {
		// A prefix: the parts are named under it.
	} else if s.Knobs.OutputFormat == "json" && !isJSONPath(out) {
		out = strings.TrimSuffix(out, filepath.Ext(out)) + ".jsonl"
	} else if filepath.Ext(out) == "" {
		out += map[string]string{"parquet": ".parquet", "csv": ".csv"}[s.Knobs.OutputFormat]
	}
	ss.base.Ceiling, ss.base.Peak = *ceiling, *ceiling
	ss.base.Checkpoint, ss.base.KeepFailed = checkpointDir(checkpoint, out), !retryFailed
	var runs []*scenarioRun
	var r *scenarioRun
	for i := range *repeat {
		r = ss.run(ctx, f.scenario, nil, s.Name, out, i)
		runs = append(runs, r)
		if r.rec == nil || ctx.Err() != nil {
			break
		}
	}
	if r.rec == nil {
		return r.err
	}
	rec := r.rec
	bench.WriteSummary(stdout, rec)
	if len(runs) > 1 {
		writeRepeats(stdout, runs)
	}
	if f.json != "" {
		if err := bench.WriteJSONFile(f.json, records(runs)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n  record     %s\n", f.json)
	}
	if err := f.writeBenchfmt(stdout, records(runs)); err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	if rec.Errors > 0 {
		fmt.Fprintf(stderr, "warning: %d of %d images failed; their rows carry the error column\n", rec.Errors, rec.Images)
		if *failOnError {
			return &exitError{code: 1, err: fmt.Errorf("%d images failed (--fail-on-error)", rec.Errors)}
		}
	}
	return th.check(stderr, "this run", rec.Metrics())
}

// writeRepeats summarises repeated runs of one configuration: each race
// metric's median with its interval (counts as integers), and the
// measurement protocol's verdict on the steady throughput, which says
// whether the runs settled and what a large job can expect.
func writeRepeats(w io.Writer, runs []*scenarioRun) {
	var notes bench.Footnotes
	fmt.Fprintf(w, "\nover %d runs (median [95%% interval] or the min–max range for counts):\n", len(runs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range bench.RaceMetrics {
		m, _ := bench.LookupMetric(name)
		fmt.Fprintf(tw, "  %s\t%s\n", m.Label, metricCell(values(runs, name), m, &notes))
	}
	tw.Flush()
	recs := records(runs)
	cs := bench.DefaultProtocol.Samples(recs, bench.MetricSteadyTput)
	stable := 0
	for _, r := range recs {
		if r.Stable {
			stable++
		}
	}
	from := map[bool]string{true: "windows", false: "runs"}[cs.FromWindows]
	switch {
	case cs.Summary.N == 0:
		fmt.Fprintln(w, "\nverdict: no run finished; nothing to summarise")
	case stable < len(recs):
		fmt.Fprintf(w, "\nverdict: steady throughput %s (%d %s), but only %d of %d runs were stable; treat it as a rough figure\n",
			formatSamples(cs, "img/s"), cs.Summary.N, from, stable, len(recs))
	default:
		fmt.Fprintf(w, "\nverdict: steady throughput %s (%d %s); every run was stable\n", formatSamples(cs, "img/s"), cs.Summary.N, from)
	}
	for _, r := range runs {
		if r.err != nil {
			fmt.Fprintf(w, "run %d failed: %v\n", r.repeat+1, r.err)
		}
	}
	if notes.Len() > 0 {
		fmt.Fprintf(w, "\n%s", notes.String())
	}
}

// checkpointDir is --checkpoint's folder for output out: auto is beside it,
// off is none.
func checkpointDir(flag, out string) string {
	switch flag {
	case "auto":
		return runner.DefaultCheckpoint(out)
	case "off", "":
		return ""
	}
	return flag
}

func isJSONPath(p string) bool {
	return strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".jsonl")
}

func init() {
	register(command{name: "run", order: 10, summary: "classify a folder of images and write Parquet (optimized plus your flags)", run: runCmd})
}
