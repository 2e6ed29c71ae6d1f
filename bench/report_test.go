package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"workbench/nvml"
)

// The report fixtures are recorded results in testdata/: sweep.json (a
// 4×2 sweep with an OOM cell, made by Sweep with a deterministic fake
// runner) and race.json (slow, optimized and single-mistake scenarios).
// They are written by fixtureSweep and fixtureRace under -update and read
// back through DecodeRecords like any results file.

var fixtureTime = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func fixtureFingerprint() Fingerprint {
	return Fingerprint{CPUModel: "Fixture CPU @ 2.0GHz", Cores: 8, MemoryBytes: 32 << 30,
		ORTVersion: "1.30.0", ORTLibrary: "/opt/ort/libonnxruntime.so.1", Provider: "CPUExecutionProvider",
		Decoder: "go", Dataset: "data/synth", DatasetN: 512, MeanBytes: 48211, Version: "v0.1.0", Commit: "abc1234", Time: fixtureTime}
}

// fixtureRun fabricates one run whose numbers follow from its knobs, so
// that the fixtures read like a real machine without pretending to be one.
func fixtureRun(scenario string, batch, conc, repeat int, tput float64, mutate func(*Record)) *Record {
	wall := 512 / tput
	jit := 1 + 0.01*float64((repeat*7)%5-2)
	tput *= jit
	r := &Record{SchemaVersion: SchemaVersion, Kind: "run", Scenario: scenario, Repeat: repeat, Status: StatusOK,
		Notice: "untrained weights: throughput is representative, labels are not",
		Config: RunConfig{Data: "data/synth", Model: "tiny", ModelFile: "/cache/tiny-1.onnx", GFLOPs: 0.05, Params: 12345,
			Device: "cpu", Provider: "CPUExecutionProvider", Session: "intra_op=4 inter_op=1 graph=all", IntraOp: 8 / conc, InterOp: 1,
			GraphOpt: "all", BatchSize: batch, Concurrency: fmt.Sprint(conc), Blocks: 32, Output: "out.parquet", Format: "parquet"},
		Fingerprint: fixtureFingerprint(),
		Images:      512, WallSeconds: wall, Throughput: tput, SteadyTput: tput * 1.04, Stable: true,
		Windows:     []float64{tput * 0.9, tput * 1.03, tput * 1.04, tput * 1.05},
		TTFRSeconds: 0.05 + float64(batch)/tput, LatencyP50: float64(batch) / tput * float64(conc),
		CPUPercent: 100 * math.Min(8, 2+float64(conc)*2.5), PeakRSS: int64(200+batch*conc) << 20,
		ModelLoads: int64(conc), ForwardPasses: int64(512 / batch), Batches: 512 / batch,
		Bottleneck: "Inference",
	}
	r.LatencyP95, r.LatencyP99 = r.LatencyP50*1.3, r.LatencyP50*1.6
	infBusy := math.Min(0.98, 0.55+0.1*float64(conc)+float64(batch)/1000)
	r.Ops = []OpRecord{
		{Name: "ReadImages", Tasks: 32, RowsOut: 512, WallSeconds: wall, BusySeconds: 0.1 * wall, CPUSeconds: 0.1 * wall, StarvedSeconds: 0, BackpressSeconds: 0.8 * wall, Utilization: 0.12},
		{Name: "Preprocess", Tasks: 32, RowsOut: 512, WallSeconds: wall, BusySeconds: 0.5 * wall, CPUSeconds: 0.5 * wall, StarvedSeconds: 0.1 * wall, BackpressSeconds: 0.35 * wall, Utilization: 0.5, TaskP50: 0.01, TaskP95: 0.02},
		{Name: "Inference", Tasks: int64(512 / batch), RowsOut: 512, WallSeconds: wall, BusySeconds: infBusy * wall * float64(conc), CPUSeconds: infBusy * wall * float64(conc), StarvedSeconds: (1 - infBusy) * wall, Utilization: infBusy, ConstructorCalls: int64(conc), TaskP50: r.LatencyP50, TaskP95: r.LatencyP95},
		{Name: "Write", Tasks: 4, RowsOut: 512, WallSeconds: wall, BusySeconds: 0.05 * wall, StarvedSeconds: 0.9 * wall, PendingSeconds: 0.02 * wall, Utilization: 0.05},
	}
	var samples []nvml.Sample
	for i := range 300 { // more than MaxPoints in tests, to exercise downsampling
		t := float64(i) * wall / 300
		samples = append(samples, nvml.Sample{Time: fixtureTime.Add(time.Duration(t * 1e9)), ElapsedS: t,
			Host: nvml.HostSample{ProcCPUCores: math.Min(8, float64(conc)*2.5) * (0.8 + 0.2*math.Sin(float64(i)/9)), ProcRSSBytes: uint64(r.PeakRSS) / 2}})
	}
	r.Telemetry = &Telemetry{Summary: nvml.Summary{DurationS: wall, Samples: len(samples), Hz: 300 / wall, GPUReason: "no NVIDIA driver",
		Host: nvml.HostSummary{CPUCoresMean: float64(conc) * 2, CPUCoresPeak: float64(conc) * 2.5, RSSPeakBytes: uint64(r.PeakRSS)}}, Samples: samples}
	if mutate != nil {
		mutate(r)
	}
	return r
}

func fixtureSweep(t *testing.T) []*Record {
	g := mustGrid(t, "batch=16..128", "concurrency=1..2")
	cons, _ := ParseConstraints("latency_p95<150ms")
	res, err := Sweep(context.Background(), SweepOptions{Grid: g, Repeat: 2, Constraints: cons, Scenario: "optimized"},
		func(_ context.Context, c map[string]string, rep int) (*Record, error) {
			b, k := int(atoi(c["batch"])), int(atoi(c["concurrency"]))
			if b == 128 && k == 2 {
				return nil, errors.New(`Non-zero status code returned while running Conv node. Status Message: bfc_arena.cc:368 onnxruntime::BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size 411041792`)
			}
			tput := 300 * float64(b) / float64(b+16) * math.Min(float64(k), 1.7)
			return fixtureRun("optimized", b, k, rep, tput, nil), nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return res.Records
}

func fixtureRace() []*Record {
	var recs []*Record
	add := func(sc string, n int, batch int, tput float64, mut func(*Record)) {
		for i := 1; i <= n; i++ {
			recs = append(recs, fixtureRun(sc, batch, 1, i, tput, mut))
		}
	}
	add("slow", 6, 2, 21, func(r *Record) {
		r.ModelLoads, r.ForwardPasses, r.Config.Format, r.Config.Blocks = int64(r.Batches), int64(r.Images), "json", 1
		r.Ops[2].Utilization, r.Ops[2].StarvedSeconds = 0.3, 0.6*r.WallSeconds
		r.Ops[1].Utilization = 0.97
	})
	add("optimized", 6, 64, 240, nil)
	add("model-per-batch", 6, 64, 61, func(r *Record) { r.ModelLoads = int64(r.Batches) })
	add("tiny-batch", 6, 2, 95, nil)
	add("json-output", 1, 64, 228, func(r *Record) { r.Config.Format = "json"; r.Stable = false })
	recs = append(recs, &Record{SchemaVersion: SchemaVersion, Kind: "run", Scenario: "row-objects", Repeat: 1, Status: StatusFailed,
		Reason: `map_batches fn returned a list of objects; return a named column, e.g. {"results": objects}`,
		Config: RunConfig{Model: "tiny", BatchSize: 64, Concurrency: "1", Blocks: 32}, Fingerprint: fixtureFingerprint()})
	return recs
}

func loadFixture(t *testing.T, name string, make func() []*Record) []*Record {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := WriteRecordsFile(path, make()); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := ReadRecordsFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	return recs
}

var fixtures = []struct {
	name string
	make func(t *testing.T) []*Record
}{
	{"sweep", fixtureSweep},
	{"race", func(*testing.T) []*Record { return fixtureRace() }},
}

func TestMarkdownReportGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			recs := loadFixture(t, f.name+".json", func() []*Record { return f.make(t) })
			var buf bytes.Buffer
			if err := WriteMarkdown(&buf, recs, ReportOptions{Title: "workbench report: " + f.name, MaxPoints: 120}); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "report_"+f.name+".md.golden", buf.Bytes())
		})
	}
}

// outline extracts the HTML report's structure: headings, tables with
// their shape and header, SVG charts with their element counts, and every
// external reference, which must be none.
func outline(t *testing.T, doc []byte) (string, []string) {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var problems []string
	var text func(n *html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var s strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			s.WriteString(text(c))
		}
		return s.String()
	}
	attr := func(n *html.Node, k string) string {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val
			}
		}
		return ""
	}
	count := func(n *html.Node, tag string) int {
		c := 0
		var walk func(*html.Node)
		walk = func(m *html.Node) {
			if m.Type == html.ElementNode && m.Data == tag {
				c++
			}
			for k := m.FirstChild; k != nil; k = k.NextSibling {
				walk(k)
			}
		}
		walk(n)
		return c
	}
	var walk func(n *html.Node, depth int)
	walk = func(n *html.Node, depth int) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if (a.Key == "src" || a.Key == "href" || a.Key == "xlink:href") && !strings.HasPrefix(v, "#") {
					problems = append(problems, fmt.Sprintf("<%s %s=%q> refers outside the file", n.Data, a.Key, a.Val))
				}
				if strings.Contains(v, "url(http") || strings.Contains(v, "@import") {
					problems = append(problems, fmt.Sprintf("<%s %s> fetches %q", n.Data, a.Key, a.Val))
				}
			}
			switch n.Data {
			case "script", "link", "iframe", "img", "object", "embed":
				problems = append(problems, "has <"+n.Data+">")
			case "style":
				if s := text(n); strings.Contains(s, "url(") || strings.Contains(s, "@import") {
					problems = append(problems, "<style> fetches: "+s)
				}
			case "h1", "h2":
				fmt.Fprintf(&b, "%s%s: %s\n", strings.Repeat("  ", depth), n.Data, strings.TrimSpace(text(n)))
			case "section":
				fmt.Fprintf(&b, "section #%s\n", attr(n, "id"))
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, 1)
				}
				return
			case "table":
				var hdr []string
				for _, th := range findAll(n, "th") {
					hdr = append(hdr, strings.TrimSpace(text(th)))
				}
				fmt.Fprintf(&b, "%stable class=%q rows=%d header=[%s]\n", strings.Repeat("  ", depth), attr(n, "class"),
					count(n, "tr"), strings.Join(hdr, " | "))
				return
			case "svg":
				fmt.Fprintf(&b, "%ssvg class=%q title=%q rect=%d circle=%d polyline=%d text=%d\n", strings.Repeat("  ", depth),
					attr(n, "class"), strings.TrimSpace(text(findAll(n, "title")[0])), count(n, "rect"), count(n, "circle"), count(n, "polyline"), count(n, "text"))
				return
			case "p", "ul":
				if c := attr(n, "class"); c != "" {
					fmt.Fprintf(&b, "%s%s class=%q\n", strings.Repeat("  ", depth), n.Data, c)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth)
		}
	}
	walk(root, 0)
	return b.String(), problems
}

func findAll(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(m *html.Node) {
		if m.Type == html.ElementNode && m.Data == tag {
			out = append(out, m)
		}
		for k := m.FirstChild; k != nil; k = k.NextSibling {
			walk(k)
		}
	}
	walk(n)
	return out
}

func TestHTMLReportStructure(t *testing.T) {
	want := map[string][]string{
		"sweep": {"machine", "results", "top", "throughput-vs-batch", "heatmap", "latency", "operators", "utilisation", "diagnosis", "definitions"},
		"race":  {"machine", "results", "race", "ablation", "latency", "operators", "utilisation", "diagnosis", "notes", "definitions"},
	}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			recs := loadFixture(t, f.name+".json", func() []*Record { return f.make(t) })
			var buf bytes.Buffer
			if err := WriteHTML(&buf, recs, ReportOptions{Title: "workbench report: " + f.name, MaxPoints: 120}); err != nil {
				t.Fatal(err)
			}
			out, problems := outline(t, buf.Bytes())
			for _, p := range problems {
				t.Errorf("not self-contained: %s", p)
			}
			for _, id := range want[f.name] {
				if !strings.Contains(out, "section #"+id+"\n") {
					t.Errorf("section #%s missing", id)
				}
			}
			if !strings.Contains(buf.String(), "untrained weights") {
				t.Error("zoo model not labelled untrained")
			}
			checkGolden(t, "report_"+f.name+".html.outline", []byte(out))
		})
	}
}

// TestOutlineCatchesExternalReferences makes sure the self-containment
// check can fail.
func TestOutlineCatchesExternalReferences(t *testing.T) {
	t.Parallel()
	_, problems := outline(t, []byte(`<html><head><script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="x.css"></head><body><h1>x</h1></body></html>`))
	if len(problems) < 3 {
		t.Errorf("problems = %v, want script, its src and link", problems)
	}
}

func TestReportDownsamples(t *testing.T) {
	t.Parallel()
	recs := fixtureRace()
	rp := buildReport(recs, ReportOptions{MaxPoints: 50})
	if rp.util == nil || len(rp.util.lines[0].x) != 50 {
		t.Fatalf("utilisation series not downsampled to 50 points")
	}
	if !strings.Contains(rp.utilNote, "averaged into 50 points") {
		t.Errorf("note does not say so: %q", rp.utilNote)
	}
}

func TestWriteComparisonGolden(t *testing.T) {
	t.Parallel()
	a := fixtureRace()
	b := fixtureRace()
	for _, r := range b {
		if r.Scenario == "optimized" {
			r.Throughput *= 1.25
			r.LatencyP95 *= 0.8
		}
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, a, b, "before.json", "after.json", "text"); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "compare_sets.golden", buf.Bytes())
	if !strings.Contains(buf.String(), "~ (p=") {
		t.Error("unchanged configurations must print ~")
	}
	if err := WriteComparison(&buf, a, []*Record{{Scenario: "other", Status: StatusOK}}, "a", "b", "text"); err == nil {
		t.Error("disjoint result sets must be an error")
	}
}

// TestReportSaysTheScenarioOnce: a CLI race labels each record with its
// scenario's name; the configuration column says it once ("slow", not
// "slow slow"), and two configurations of one name are told apart by the
// knobs in which they differ, and only those.
func TestReportSaysTheScenarioOnce(t *testing.T) {
	t.Parallel()
	var recs []*Record
	for rep := range 2 {
		for _, sc := range []string{"slow", "optimized"} {
			recs = append(recs, fixtureRun(sc, 32, 1, rep, 100, func(r *Record) {
				r.Label = sc
				r.Config.Knobs = map[string]string{"batch_size": "32", "decoder": "turbo"}
			}))
		}
		recs = append(recs, fixtureRun("mine", 32, 1, rep, 100, func(r *Record) {
			r.Label = "mine"
			r.Config.Knobs = map[string]string{"batch_size": "32", "decoder": "turbo"}
		}), fixtureRun("mine", 32, 1, rep, 100, func(r *Record) {
			r.Label = "mine"
			r.Config.Knobs = map[string]string{"batch_size": "64", "decoder": "turbo"}
		}))
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, recs, ReportOptions{Title: "race"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| slow |", "| optimized |", "| mine (batch_size=32) |", "| mine (batch_size=64) |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"slow slow", "optimized optimized", "decoder="} {
		if strings.Contains(out, bad) {
			t.Errorf("report says %q", bad)
		}
	}
}

// TestReportShowsTheBatchProbe: a run that resolved batch_size: auto shows
// the probe (each size's ceiling and the knee) in both formats; a run with
// a fixed batch shows no such section.
func TestReportShowsTheBatchProbe(t *testing.T) {
	probe := &BatchProbe{Picked: 16, Points: []BatchPoint{
		{Batch: 8, Throughput: 95.1, Spread: 2.5, Latency: 0.084, Rounds: 6, Stable: true},
		{Batch: 16, Throughput: 101, Spread: 1.2, Latency: 0.158, Rounds: 6, Stable: true},
		{Batch: 32, Throughput: 99, Latency: 0.323, Rounds: 4, Stable: false},
		{Batch: 64, Failed: "out of memory"},
	}}
	for _, tc := range []struct {
		name  string
		probe *BatchProbe
		want  []string
	}{
		{"auto", probe, []string{"batch_size: auto", "← the knee", "95.1 img/s", "±2.5%", "failed: out of memory"}},
		{"fixed", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := fixtureRun("optimized", 16, 1, 0, 100, func(r *Record) { r.BatchProbe = tc.probe })
			for _, format := range []string{"md", "html"} {
				var buf bytes.Buffer
				var err error
				if format == "md" {
					err = WriteMarkdown(&buf, []*Record{rec}, ReportOptions{})
				} else {
					err = WriteHTML(&buf, []*Record{rec}, ReportOptions{})
				}
				if err != nil {
					t.Fatal(err)
				}
				out := buf.String()
				if tc.probe == nil && strings.Contains(out, "batch_size: auto") {
					t.Errorf("%s: a fixed batch shows a probe section", format)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("%s: report lacks %q", format, w)
					}
				}
				if tc.probe != nil && strings.Count(out, "← the knee") != 1 {
					t.Errorf("%s: the knee is marked %d times, want once", format, strings.Count(out, "← the knee"))
				}
			}
		})
	}
}
