package bench_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"workbench/bench"
	"workbench/ray"
)

// clusterSnapshot is the last poll of a watched job, shaped like ray.Watch
// leaves it after testdata/datasets/finished.json (ray package): the
// exported dataset FINISHED, a second dataset of the user's beside it.
func clusterSnapshot(status ray.JobStatus, prom bool) ray.Snapshot {
	g := func(v float64) ray.Gauge {
		if !prom {
			return ray.Gauge{}
		}
		return ray.Gauge{Value: v, Max: v, HasValue: true, HasMax: true}
	}
	q := func(n int64) *int64 { return &n }
	start := 1767225600.25
	ds := ray.DatasetView{
		DatasetInfo: ray.DatasetInfo{Dataset: "workbench_optimized_6f1c2a9e03b44c1d8b2f5a7e9c0d1e2f_0", JobID: "02000000",
			State: ray.DataFinished, Progress: 40, Total: 40, TotalRows: 5000, StartTime: start, EndTime: start + 40,
			Operators: []ray.OperatorInfo{
				{Operator: "Input_0", Name: "Input", State: ray.DataFinished, QueuedBlocks: q(0)},
				{Operator: "ReadImage->MapBatches(preprocess)_1", Name: "ReadImage->MapBatches(preprocess)", State: ray.DataFinished,
					Progress: 40, Total: 40, QueuedBlocks: q(0), DataMetrics: ray.DataMetrics{OutputRows: g(5000), CPUCores: g(14), CurrentBytes: g(512 << 20)}},
				{Operator: "MapBatches(Predictor)_2", Name: "MapBatches(Predictor)", State: ray.DataFinished,
					Progress: 40, Total: 40, QueuedBlocks: q(0), DataMetrics: ray.DataMetrics{OutputRows: g(5000), CPUCores: g(2), GPUCores: g(4)}},
				{Operator: "Write_3", Name: "Write", State: ray.DataFinished, Progress: 40, Total: 40, QueuedBlocks: q(0),
					DataMetrics: ray.DataMetrics{OutputRows: g(5000), CPUCores: g(0.5)}},
			},
			DataMetrics: ray.DataMetrics{OutputRows: g(5000), CPUCores: g(16.5), GPUCores: g(4), CurrentBytes: g(768 << 20)},
		},
		Usual: ray.Bottleneck{Op: "MapBatches(Predictor)", Known: true, Evidence: "named in 12 of 14 polls while it ran"},
	}
	if prom {
		ds.PeakCPU, ds.PeakGPU, ds.MeanCPU, ds.MeanGPU, ds.HasCPU, ds.HasGPU = 19, 4, 16, 4, true, true
	}
	other := ray.DatasetView{DatasetInfo: ray.DatasetInfo{Dataset: "dataset_0badc0de_0", State: ray.DataFinished, StartTime: start + 50, EndTime: start + 51}}
	return ray.Snapshot{At: time.Unix(1767225700, 0), Datasets: []ray.DatasetView{other, ds},
		Job: ray.JobInfo{SubmissionID: "raysubmit_9", JobID: "02000000", Status: status, Message: "exit code 1",
			Metadata: map[string]string{ray.MetaScenario: "optimized", ray.MetaTunedFrom: "sweep.json (batch=64 concurrency=2)", ray.MetaDataset: "workbench_optimized"}}}
}

func TestNewClusterRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      ray.JobStatus
		prom        bool
		wantStatus  string
		wantImages  int
		wantMissing string
	}{
		{"succeeded with Prometheus", ray.StatusSucceeded, true, bench.StatusOK, 5000, ""},
		{"failed", ray.StatusFailed, true, bench.StatusFailed, 5000, ""},
		{"no Prometheus: rows from the stats actor, cores missing", ray.StatusSucceeded, false, bench.StatusOK, 5000, "cpu cores, gpu cores, object store bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := ray.NewClusterRecord(clusterSnapshot(tt.status, tt.prom), "http://head:8265")
			if err != nil {
				t.Fatal(err)
			}
			ci := r.Cluster
			if r.Kind != bench.KindCluster || r.SchemaVersion != bench.SchemaVersion || r.Status != tt.wantStatus || r.Images != tt.wantImages {
				t.Errorf("kind %q schema %d status %q images %d", r.Kind, r.SchemaVersion, r.Status, r.Images)
			}
			if r.WallSeconds != 40 || r.Throughput != float64(tt.wantImages)/40 {
				t.Errorf("wall %v throughput %v, want 40 s and rows/40", r.WallSeconds, r.Throughput)
			}
			if r.Scenario != "optimized" || ci.TunedFrom != "sweep.json (batch=64 concurrency=2)" || ci.Dataset != "workbench_optimized_6f1c2a9e03b44c1d8b2f5a7e9c0d1e2f_0" {
				t.Errorf("provenance: scenario %q tuned from %q dataset %q (must pick the exported dataset)", r.Scenario, ci.TunedFrom, ci.Dataset)
			}
			if !strings.HasPrefix(r.Bottleneck, "MapBatches(Predictor)") {
				t.Errorf("bottleneck %q", r.Bottleneck)
			}
			if len(r.Ops) != 3 || len(ci.Ops) != 3 || ci.Ops[1].PeakGPUCores != map[bool]float64{true: 4}[tt.prom] {
				t.Errorf("ops: %+v", ci.Ops)
			}
			if tt.prom && (ci.PeakGPUCores != 4 || ci.PeakCPUCores != 19 || ci.MeanCPUCores != 16) {
				t.Errorf("cores: %+v", ci)
			}
			if got := strings.Join(ci.Missing, ", "); got != tt.wantMissing {
				t.Errorf("missing %q, want %q", got, tt.wantMissing)
			}
			if tt.wantMissing != "" && (len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "not zeros")) {
				t.Errorf("warnings do not say the empty metrics are not zeros: %v", r.Warnings)
			}
			// The record survives the results file round trip.
			var buf bytes.Buffer
			if err := bench.EncodeRecords(&buf, bench.FormatJSON, []*bench.Record{r}); err != nil {
				t.Fatal(err)
			}
			back, err := bench.DecodeRecords(&buf)
			if err != nil || back[0].Cluster == nil || back[0].Cluster.PeakGPUCores != ci.PeakGPUCores {
				t.Errorf("round trip: %v %+v", err, back)
			}
		})
	}
	if _, err := ray.NewClusterRecord(ray.Snapshot{DataNote: "no Ray Data metrics: this cluster's dashboard has no /api/data/datasets"}, ""); err == nil ||
		!strings.Contains(err.Error(), "no /api/data/datasets") {
		t.Errorf("no datasets: err = %v", err)
	}
}

// succeeded is the cluster record of the job that SUCCEEDED, with
// Prometheus.
func succeeded(t *testing.T) *bench.Record {
	t.Helper()
	r, err := ray.NewClusterRecord(clusterSnapshot(ray.StatusSucceeded, true), "http://head:8265")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReportLocalVsCluster: `workbench report local.json cluster.json`
// compares a local run with the cluster run, overall and per operator.
func TestReportLocalVsCluster(t *testing.T) {
	t.Parallel()
	local := bench.FixtureRun("optimized", 64, 2, 1, 400, nil)
	cluster := succeeded(t)
	for _, format := range []string{"text", "md"} {
		var buf bytes.Buffer
		if err := bench.WriteComparison(&buf, []*bench.Record{local}, []*bench.Record{cluster}, "local.json", "cluster.json", format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := buf.String()
		for _, want := range []string{"local vs cluster", "throughput per CPU core", "throughput per GPU", "bottleneck",
			"Inference", "MapBatches(Predictor)", "same stage", "ReadImage->MapBatches(preprocess) ← ReadImages+Preprocess",
			"MapBatches(Predictor) ← Inference", "Write ← Write", "where they differ", "rows per CPU core-second"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q:\n%s", format, want, out)
			}
		}
	}
	var buf bytes.Buffer
	if err := bench.WriteClusterComparison(&buf, local, cluster); err != nil || !strings.Contains(buf.String(), "throughput per GPU") {
		t.Errorf("bench.WriteClusterComparison: %v\n%s", err, buf.String())
	}
}

func TestLocalPrediction(t *testing.T) {
	t.Parallel()
	run := func(label string, tput float64, mutate func(*bench.Record)) *bench.Record {
		r := &bench.Record{Kind: bench.KindRun, Label: label, Status: bench.StatusOK, Throughput: tput}
		if mutate != nil {
			mutate(r)
		}
		return r
	}
	failed := func(r *bench.Record) { r.Status = bench.StatusFailed }
	cluster := func(r *bench.Record) { r.Kind = bench.KindCluster }
	sweep := []*bench.Record{run("a", 500, nil), run("a", 520, nil), run("a", 510, nil),
		run("b", 120, nil), run("b", 131, nil), run("b", 128, nil), run("b", 900, failed), run("b", 125, nil),
		run("c", 2000, cluster)}
	tests := []struct {
		name, label string
		recs        []*bench.Record
		want        float64 // the picked run's throughput; 0 for none
	}{
		{"the cell the export took, median repeat (lower middle of four)", "b", sweep, 125},
		{"no cell named: the best cell's median", "", sweep, 510},
		{"a cell the file lacks: the best cell", "d", sweep, 510},
		{"failed runs and cluster records never stand for the prediction", "", []*bench.Record{run("x", 900, failed), run("y", 2000, cluster), run("z", 40, nil)}, 40},
		{"nothing completed", "", []*bench.Record{run("x", 900, failed)}, 0},
	}
	for _, tt := range tests {
		r, ok := bench.LocalPrediction(tt.recs, tt.label)
		switch {
		case tt.want == 0 && ok:
			t.Errorf("%s: picked %+v, want none", tt.name, r)
		case tt.want != 0 && (!ok || r.Throughput != tt.want):
			t.Errorf("%s: picked %+v (ok %v), want the %v img/s run", tt.name, r, ok, tt.want)
		}
	}
}

// TestClusterComparisonLines: the screen's layout of the comparison keeps
// every line within the width and every figure of the report's text.
func TestClusterComparisonLines(t *testing.T) {
	t.Parallel()
	local := bench.FixtureRun("optimized", 64, 2, 1, 400, nil)
	cluster := succeeded(t)
	var report bytes.Buffer
	if err := bench.WriteClusterComparison(&report, local, cluster); err != nil {
		t.Fatal(err)
	}
	var cells []string
	for _, l := range strings.Split(report.String(), "\n") {
		for _, c := range strings.Split(l, "  ") {
			if c = strings.TrimSpace(c); c != "" {
				cells = append(cells, c)
			}
		}
	}
	for _, width := range []int{0, 200, 80, 60, 40} {
		lines, err := bench.ClusterComparisonLines(local, cluster, width)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			if n := len([]rune(l)); width > 0 && n > width {
				t.Errorf("width %d: line %d is %d wide: %q", width, i, n, l)
			}
		}
		flat := strings.Join(strings.Fields(strings.Join(lines, "\n")), " ")
		for _, c := range cells {
			if !strings.Contains(flat, strings.Join(strings.Fields(c), " ")) {
				t.Errorf("width %d: %q of the report is missing:\n%s", width, c, strings.Join(lines, "\n"))
			}
		}
		if width == 0 && strings.Join(lines, "\n") != strings.TrimRight(trimLines(report.String()), "\n") {
			t.Errorf("without a width the lines are not the report's text:\n%s", strings.Join(lines, "\n"))
		}
	}
	if _, err := bench.ClusterComparisonLines(local, local, 80); err == nil {
		t.Error("two local runs compared as local vs cluster")
	}
}

func trimLines(s string) string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(ls, "\n")
}

func TestWrapText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s      string
		width  int
		indent string
		want   []string
	}{
		{"short", 20, "  ", []string{"short"}},
		{"one two three four", 9, "  ", []string{"one two", "  three", "  four"}},
		{"  lead kept on the first line", 12, "    ", []string{"  lead kept", "    on the", "    first", "    line"}},
		{"a verylongwordindeed", 8, "  ", []string{"a", "  verylo", "  ngword", "  indeed"}},
		{"no limit at all", 0, "  ", []string{"no limit at all"}},
	}
	for _, tt := range tests {
		got := bench.WrapText(tt.s, tt.width, tt.indent)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("WrapText(%q, %d) = %q, want %q", tt.s, tt.width, got, tt.want)
		}
	}
}

// TestReportLocalVsClusterPicksTheExportedCell: from a sweep's results the
// report compares the cluster run with the cell the job was exported from
// (its metadata's label), not the sweep's first or fastest record.
func TestReportLocalVsClusterPicksTheExportedCell(t *testing.T) {
	t.Parallel()
	fast := bench.FixtureRun("optimized", 128, 2, 1, 900, func(r *bench.Record) { r.Label = "batch=128" })
	exported := bench.FixtureRun("optimized", 64, 2, 1, 400, func(r *bench.Record) { r.Label = "batch=64" })
	cluster := succeeded(t)
	cluster.Cluster.TunedFromLabel = "batch=64"
	var buf bytes.Buffer
	if err := bench.WriteComparison(&buf, []*bench.Record{fast, exported}, []*bench.Record{cluster}, "sweep.json", "cluster.json", "text"); err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "throughput ") && line == "" {
			line = l
		}
	}
	if !strings.Contains(line, bench.FormatValue(exported.Throughput, "img/s")) {
		t.Errorf("the throughput row does not hold the exported cell's %.0f img/s: %q\n%s", exported.Throughput, line, buf.String())
	}
}
