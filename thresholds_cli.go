package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"workbench/bench"
)

// thresholdFlag is --threshold, shared by run, race and sweep: CI
// conditions whose failure exits 99 (bench.ExitThresholdFailed) after the
// results are written, while a condition that does not parse exits 104
// (bench.ExitInvalidConfig) before anything runs.
type thresholdFlag struct {
	spec string
	set  bench.ConditionSet
}

func (t *thresholdFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&t.spec, "threshold", "", "CI conditions, e.g. 'throughput>100,latency_p95<250ms': exit 99 when one fails")
}

// parse validates the flag; call it before running anything.
func (t *thresholdFlag) parse() error {
	set, err := bench.ParseThresholds(t.spec)
	if err != nil {
		return invalidConfig(err)
	}
	t.set = set
	return nil
}

// check evaluates the thresholds against metrics (of the run, or of a
// sweep's best cell, named by what), prints each failure to w, and returns
// an exit-99 error when any failed.
func (t *thresholdFlag) check(w io.Writer, what string, metrics map[string]float64) error {
	if len(t.set.Conds) == 0 {
		return nil
	}
	viol := t.set.Evaluate(metrics)
	if len(viol) == 0 {
		fmt.Fprintf(w, "thresholds: all %d passed (%s) for %s\n", len(t.set.Conds), t.set, what)
		return nil
	}
	msgs := make([]string, len(viol))
	for i, v := range viol {
		msgs[i] = v.String()
		fmt.Fprintf(w, "FAIL %s (%s)\n", v, what)
	}
	return &exitError{code: bench.ExitThresholdFailed,
		err: fmt.Errorf("%d of %d thresholds failed: %s", len(viol), len(t.set.Conds), strings.Join(msgs, "; "))}
}

// invalidConfig wraps a configuration error as exit 104.
func invalidConfig(err error) error {
	return &exitError{code: bench.ExitInvalidConfig, err: err}
}
