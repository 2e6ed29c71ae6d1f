package bench

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"workbench/nvml"
	"workbench/nvml/nvmltest"
)

// sampledTelemetry runs the real sampler for two seconds over a mock
// machine and keeps its first GPU, as a one-GPU run's record would.
func sampledTelemetry(t *testing.T, srv *server.Server) *Telemetry {
	t.Helper()
	srv.Devices = srv.Devices[:1]
	var tel *Telemetry
	synctest.Test(t, func(t *testing.T) {
		s, err := nvml.New(nvml.Config{NVML: srv})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		series := s.Stop()
		tel = &Telemetry{Summary: series.Summarize(512), Samples: series.Samples}
	})
	return tel
}

// TestReportGPUActivity puts a Hopper's and an Ampere's telemetry, sampled
// from go-nvml mocks, into records and checks what the registry, the HTML
// and the Markdown report make of them: GPM figures charted beside util
// where measured, and said to be unavailable, with why, where not.
func TestReportGPUActivity(t *testing.T) {
	t.Parallel()
	var energy atomic.Uint64
	energy.Store(nvmltest.EnergyMJ)
	for _, tc := range []struct {
		name     string
		srv      *server.Server
		lines    []string // chart lines, in order
		sentence string   // what the report must say is unavailable
		metrics  map[string]float64
	}{
		{"hopper", nvmltest.H100(&energy), []string{"util", "SM activity", "SM occupancy", "tensor activity", "DRAM bandwidth", "NVJPG"}, "",
			map[string]float64{MetricSMActivity: nvmltest.SMActivity, MetricTensorActivity: nvmltest.TensorActivity,
				MetricSMOccupancy: nvmltest.SMOccupancy, MetricDRAMBWUtil: nvmltest.DRAMBWUtil, MetricNVJPGUtil: nvmltest.NVJPGUtil}},
		{"ampere", nvmltest.A100(&energy), []string{"util", "NVJPG"},
			"GPU 0: SM activity, SM occupancy, tensor activity and DRAM bandwidth are unavailable: GPM needs Hopper or newer (this GPU is Ampere).",
			map[string]float64{MetricNVJPGUtil: nvmltest.NVJPGUtil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tel := sampledTelemetry(t, tc.srv)
			rec := fixtureRun("optimized", 64, 1, 1, 240, func(r *Record) { r.Telemetry = tel })

			got := rec.Metrics()
			for _, name := range []string{MetricSMActivity, MetricSMOccupancy, MetricTensorActivity, MetricDRAMBWUtil, MetricNVJPGUtil} {
				want, measured := tc.metrics[name]
				if v, ok := got[name]; ok != measured || v != want {
					t.Errorf("metric %s = %v (present %v), want %v (present %v)", name, v, ok, want, measured)
				}
			}
			if _, ok := got[MetricGPUUtil]; !ok {
				t.Error("gpu_util not measured")
			}

			rp := buildReport([]*Record{rec}, ReportOptions{Title: "gpu"})
			if rp.gpu == nil || len(rp.gpu.charts) != 1 {
				t.Fatalf("GPU view = %+v, want one chart", rp.gpu)
			}
			var names []string
			for _, l := range rp.gpu.charts[0].lines {
				names = append(names, l.name)
				if len(l.x) != len(tel.Samples) {
					t.Errorf("line %s has %d points for %d samples", l.name, len(l.x), len(tel.Samples))
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.lines, ",") {
				t.Errorf("chart lines %v, want %v", names, tc.lines)
			}

			var html, md bytes.Buffer
			if err := WriteHTML(&html, []*Record{rec}, ReportOptions{Title: "gpu"}); err != nil {
				t.Fatal(err)
			}
			if err := WriteMarkdown(&md, []*Record{rec}, ReportOptions{Title: "gpu"}); err != nil {
				t.Fatal(err)
			}
			out, problems := outline(t, html.Bytes())
			if len(problems) > 0 {
				t.Errorf("not self-contained: %v", problems)
			}
			if !strings.Contains(out, "section #gpu-activity\n") {
				t.Errorf("no GPU activity section:\n%s", out)
			}
			for _, doc := range []string{html.String(), md.String()} {
				if tc.sentence != "" && !strings.Contains(doc, tc.sentence) {
					t.Errorf("report does not say %q", tc.sentence)
				}
				if tc.sentence == "" && strings.Contains(doc, "unavailable") {
					t.Errorf("a Hopper report calls something unavailable")
				}
			}
			row := rp.gpu.summary.rows[0]
			wantSM := "62.5%"
			if tc.name == "ampere" {
				wantSM = "unavailable"
			}
			if row[2] != wantSM || row[6] != "12.0%" {
				t.Errorf("summary row %q: SM activity %q, NVJPG %q; want %q, 12.0%%", row, row[2], row[6], wantSM)
			}
		})
	}
}

// TestReportWithoutGPUHasNoGPUSection keeps the CPU-only report as it was.
func TestReportWithoutGPUHasNoGPUSection(t *testing.T) {
	t.Parallel()
	if rp := buildReport(fixtureRace(), ReportOptions{}); rp.gpu != nil {
		t.Errorf("GPU view on a run without a GPU: %+v", rp.gpu)
	}
}
