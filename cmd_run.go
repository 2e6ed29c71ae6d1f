package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"workbench/datasource"

	"workbench/bench"
	"workbench/runner"
)

const runUsage = `Classify every image under --data with an ONNX model and write one row per
image to --out (Parquet, zstd; .json/.jsonl writes JSON lines). Broken files
become rows with the error column set; the run goes on.`

const runExamples = `  workbench run --data data/synth --model resnet50 --batch 64 --concurrency 1 --blocks 16 --device cpu --out results.parquet
  workbench run --data ~/photos --model my_model.onnx --images 500 --json run.json
  workbench run --data data/synth --model tiny --concurrency 1-4 --fail-on-error`

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
	ceiling := fs.Bool("ceiling", true, "after the run, measure the inference-only ceiling with the same settings and report the run as a fraction of it")
	var th thresholdFlag
	th.register(fs)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("run: unexpected argument %q (flags go before nothing else; see workbench run --help)", fs.Arg(0))
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
			return invalidConfig(fmt.Errorf("--out %s: %s is not an output format; use .parquet (columnar, zstd), .json/.jsonl (JSON lines) or .csv, or --output-format", f.out, ext))
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
	r := ss.run(ctx, f.scenario, nil, s.Name, out, 0)
	if r.rec == nil {
		return r.err
	}
	rec := r.rec
	bench.WriteSummary(stdout, rec)
	if f.json != "" {
		if err := bench.WriteJSONFile(f.json, []*bench.Record{rec}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n  record     %s\n", f.json)
	}
	if err := f.writeBenchfmt(stdout, []*bench.Record{rec}); err != nil {
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
