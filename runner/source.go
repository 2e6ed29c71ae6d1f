package runner

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"workbench/bench"
	"workbench/classify"
	"workbench/datasource"
	"workbench/scenarios"
	"workbench/vision"
)

// Data is the data a run of s under cfg is given and the data it reads.
// Given is the scenario's data (its `data:`, with --set data= and a typed
// --data, which front ends pass as a Flags setting, over it) when any
// layer gave one, else Config.Data. Read is the same, or with
// data_layout: shards the same images as WebDataset shards beside it
// (datasource.ShardsBeside). s is LoadScenario's, layers applied.
func Data(cfg Config, s *scenarios.Scenario) (given, read string, err error) {
	given = cfg.Data
	if s.Data != "" {
		given = s.Data
	}
	if s.Knobs.DataLayout != scenarios.DataShards {
		return given, given, nil
	}
	if given == "" || strings.HasPrefix(given, "@") || strings.ContainsAny(given, "*?[") {
		return given, "", &ConfigError{Problems: []error{fmt.Errorf("%s: data_layout: shards reads the shards beside a folder or an object store prefix (%s for DATA); %q is not one",
			s.Name, datasource.ShardsBeside("DATA/"), given)}}
	}
	return given, datasource.ShardsBeside(given), nil
}

// usesSource reports whether cfg's --data needs a datasource: anything
// but a plain local folder (which keeps its own fast listing), or a folder
// whose class subfolders label the rows.
func usesSource(cfg Config) bool {
	return cfg.Files == nil && cfg.Data != "" && (cfg.LabelFrom != "" || !datasource.IsFolder(cfg.Data))
}

// openSource detects and lists cfg's --data (datasource.Open).
func openSource(cfg Config, k *scenarios.Knobs) (*datasource.Source, error) {
	if cfg.LabelFrom != "" && cfg.LabelFrom != datasource.LabelsFromFolders {
		return nil, &ConfigError{Problems: []error{fmt.Errorf("--label-from %s: the only choice is %s (class subfolders)", cfg.LabelFrom, datasource.LabelsFromFolders)}}
	}
	var classes []string
	if cfg.LabelFrom != "" && cfg.Labels != "" {
		b, err := os.ReadFile(cfg.Labels)
		if err != nil {
			return nil, &DataError{What: "labels", Err: err}
		}
		classes = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	}
	maxPixels := cfg.MaxPixels
	if maxPixels == 0 {
		maxPixels = vision.DefaultMaxPixels
	}
	src, err := datasource.Open(context.Background(), cfg.Data, datasource.Options{
		ImageColumn: cfg.ImageColumn, LabelFrom: cfg.LabelFrom, ClassNames: classes, Limit: cfg.Images,
		GetConcurrency: k.GetConcurrency, MaxObjectBytes: classify.MaxFileBytes(maxPixels),
	})
	if err != nil {
		return nil, &DataError{What: "data", Err: err}
	}
	return src, nil
}

// sourceStats fills the record with what the datasource did: its name,
// the read operator's storage stats, and the accuracy against labels.
func sourceStats(rec *bench.Record, job *classify.Job, p *Plan) {
	if a, ok := job.Counters.Accuracy(); ok {
		rec.Accuracy = &bench.Accuracy{Labelled: a.Labelled, Top1: a.Top1, Top5: a.Top5}
		if n := job.Config.Model.Notice(); n != "" {
			rec.Accuracy.Meaningless = "accuracy is meaningless with untrained weights (" + job.Config.Model.Name + " is a zoo model)"
		}
	}
	if p.Source == nil {
		return
	}
	rec.Source = p.Source.Describe()
	s := p.Source.Stats().Summary()
	if s.Requests == 0 || len(rec.Ops) == 0 {
		return
	}
	sec := func(d time.Duration) float64 { return d.Seconds() }
	rec.Ops[0].Read = &bench.ReadStats{Requests: s.Requests, Retries: s.Retries, Failures: s.Failures, Bytes: s.Bytes,
		Gets: s.Gets, GetP50: sec(s.GetP50), GetP95: sec(s.GetP95), GetP99: sec(s.GetP99),
		GetConcurrency: p.Effective.GetConcurrency}
}

// listing is what the run reads, for the fingerprint: the files, or the
// datasource's units.
func (p *Plan) listing() []string {
	if p.Source != nil {
		return p.Source.Units()
	}
	return p.Files
}

// commitRemote uploads the finished local output under a temporary
// prefix beside dest and commits it: nothing appears under dest unless
// the whole run succeeded (datasource.Output).
func commitRemote(ctx context.Context, dest, local string) error {
	o, err := datasource.NewOutput(ctx, dest)
	if err != nil {
		return err
	}
	if err := o.Upload(ctx, local); err != nil {
		o.Abort(context.WithoutCancel(ctx))
		return fmt.Errorf("--out %w", err)
	}
	if _, err = o.Commit(ctx); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
