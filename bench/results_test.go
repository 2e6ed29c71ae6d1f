package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"workbench/nvml"
)

// fullRecord has every flattened column set to a non-zero value, so the
// round trip test covers every field; TestFullRecordIsFull keeps it so.
func fullRecord() *Record {
	r := fixtureRun("optimized", 64, 2, 3, 412.5, nil)
	sat := true
	r.Label, r.Reason, r.Errors, r.CeilingTput = "batch=64 concurrency=2", "partial: 3 images failed", 3, 1234.5678901234
	r.Warnings = []string{"unstable: …", "a \"quoted\", comma'd\nmultiline warning"}
	r.BatchProbe = &BatchProbe{Picked: 16, Points: []BatchPoint{{Batch: 8, Throughput: 90, Spread: 3, Latency: 0.09, Rounds: 3, Stable: true},
		{Batch: 16, Throughput: 101, Rounds: 6}}}
	r.Config.Knobs = map[string]string{"intra_op_threads": "2"}
	r.RSSGrowthPer1k, r.RSSGrowthPer1kSpread = 12345.5, 678.25
	r.Config.Asked, r.Config.Sources = map[string]string{"intra_op_threads": "auto"}, map[string]string{"batch_size": "flag"}
	r.OutputBytes, r.LogLines, r.PeakThreads, r.PreprocessSetups = 4096, 12, 9, 3
	r.Notes = []string{"on this machine x is identical to y"}
	r.FromCheckpoint, r.Computed, r.Config.Checkpoint = 120, 80, "out.parquet.checkpoint"
	r.ActorRestarts, r.TaskRetries, r.FailedBatches = 2, 3, 1
	r.Ops[0].Restarts, r.Ops[0].Retries, r.Ops[0].FailedBatches = 2, 3, 1
	r.Config.Input, r.Config.Recipe, r.Config.RecipeFrom, r.PeakGFLOPS = "N×3×64×64 float32 NCHW", "resize=73 crop=64x64", "default (torchvision)", 75.6
	r.Fingerprint.GPU, r.Fingerprint.Driver = "NVIDIA H100 80GB HBM3", "550.54.15"
	r.Params = map[string]string{"batch": "64", "concurrency": "2"}
	r.Objective, r.Constraints, r.SatisfiesConstraints, r.Rank = "throughput", "latency_p95<200ms", &sat, 2
	proto := DefaultProtocol
	r.Protocol, r.Variation, r.Autocorr, r.WindowsIndependent, r.Cycled = &proto, 0.04, 0.1, true, 3.2
	r.ColdStartSeconds, r.WarmupSeconds, r.DrainSeconds = 2.5, 0.8, 0.3
	stable := true
	r.CellStable, r.CellMedian, r.CellLo, r.CellHi, r.CellConfidence, r.CellSamples = &stable, 40, 39, 41, 0.95, 6
	r.SamplesFromWindows, r.Tied, r.TieBreak = true, true, "2 cells tied; broken by lower latency_p95"
	r.Violations = []string{"constraint latency_p95<200ms failed: 312ms"}
	alone := true
	r.RanAlone = &alone
	r.Telemetry.Summary.GPUAvailable = true
	r.Telemetry.Summary.GPUs = []nvml.GPUSummary{{Index: 0, Name: "H100", UtilMeanPct: 87.25, MemPeakBytes: 1 << 34}}
	r.Telemetry.Samples[0].GPUs = []nvml.GPUSample{{Index: 0, GPUUtilPct: 99, Missing: 1 << 3}}
	r.Ops[0].TaskP50 = 1e-7 // exact float round trip
	r.TensorPool = "3 buffers mapped (peak 120 MiB), 40 batches reused one, 3 pinned"
	r.Source = "s3://b/imgs/ (s3, images, 240 objects, labelled)"
	r.Accuracy = &Accuracy{Labelled: 240, Top1: 0.1, Top5: 0.5, Meaningless: "untrained weights"}
	r.Cluster = &ClusterInfo{SubmissionID: "raysubmit_9", JobID: "02000000", PeakGPUCores: 4, Missing: []string{"rows"},
		Ops: []ClusterOp{{Name: "MapBatches(Predictor)", Rows: 5000, PeakGPUCores: 4}}}
	return r
}

func TestFullRecordIsFull(t *testing.T) {
	t.Parallel()
	r := fullRecord()
	for _, c := range recordColumns {
		s, err := c.text(r)
		if err != nil {
			t.Fatal(err)
		}
		if s == "" || s == "0" || s == "false" {
			t.Errorf("column %s is zero in fullRecord; set it so the round trip covers it", c.name)
		}
	}
}

func jsonOf(t *testing.T, recs []*Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeRecords(&buf, FormatJSON, recs); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRoundTrip: results JSON → Parquet (and CSV) → records → report is
// lossless: the records re-encode to the same JSON bytes, and the reports
// rendered from them are identical.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	recs := append([]*Record{fullRecord()}, fixtureRace()...)
	recs = append(recs, &Record{SchemaVersion: SchemaVersion, Status: StatusSkipped, Ops: []OpRecord{}})
	want := jsonOf(t, recs)
	fromJSON, err := DecodeRecords(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonOf(t, fromJSON); !bytes.Equal(got, want) {
		t.Fatalf("JSON round trip differs")
	}
	var wantMD bytes.Buffer
	if err := WriteMarkdown(&wantMD, recs, ReportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Format{FormatParquet, FormatCSV} {
		var buf bytes.Buffer
		if err := EncodeRecords(&buf, f, fromJSON); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		back, err := DecodeRecords(&buf)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if got := jsonOf(t, back); !bytes.Equal(got, want) {
			t.Errorf("%s round trip differs:\n%s", f, firstDiff(got, want))
		}
		var md bytes.Buffer
		if err := WriteMarkdown(&md, back, ReportOptions{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(md.Bytes(), wantMD.Bytes()) {
			t.Errorf("%s: report differs after the round trip", f)
		}
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return "line " + la[i] + "\n want " + lb[i]
		}
	}
	return "lengths differ"
}

func TestDecodeRecordsForms(t *testing.T) {
	t.Parallel()
	one, _ := json.Marshal(&Record{SchemaVersion: 1, Label: "a"})
	two, _ := json.Marshal(&Record{SchemaVersion: 1, Label: "b"})
	cases := []struct {
		name, in string
		n        int
		err      string
	}{
		{"document", `{"schema_version":1,"records":[` + string(one) + `,` + string(two) + `]}`, 2, ""},
		{"array", `[` + string(one) + `]`, 1, ""},
		{"single record", string(one), 1, ""},
		{"JSON lines", string(one) + "\n" + string(two) + "\n", 2, ""},
		{"newer schema", `{"schema_version":99,"records":[{"schema_version":99}]}`, 0, "upgrade"},
		{"empty", "  \n", 0, "empty"},
		{"not results", "a,b\n1,2\n", 0, "not a workbench results file"},
		{"broken JSON", `{"records":[`, 0, "JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			recs, err := DecodeRecords(strings.NewReader(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || len(recs) != c.n {
				t.Fatalf("got %d records, %v; want %d", len(recs), err, c.n)
			}
		})
	}
}

func TestFormatForPath(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]Format{"r.json": FormatJSON, "R.CSV": FormatCSV, "x/r.parquet": FormatParquet} {
		if got, err := FormatForPath(path); err != nil || got != want {
			t.Errorf("%s: %q, %v", path, got, err)
		}
	}
	if _, err := FormatForPath("r.xlsx"); err == nil || !strings.Contains(err.Error(), ".json, .csv or .parquet") {
		t.Errorf("r.xlsx: %v", err)
	}
}

func TestWriteRecordsFileEveryFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recs := fixtureRace()
	for _, name := range []string{"r.json", "r.csv", "r.parquet"} {
		path := dir + "/" + name
		if err := WriteRecordsFile(path, recs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := ReadRecordsFile(path)
		if err != nil || len(back) != len(recs) {
			t.Fatalf("%s: %d records, %v", name, len(back), err)
		}
	}
}
