package nvml

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"workbench/nvml/nvmltest"
)

// eachDevice applies f to every mock device of srv.
func eachDevice(srv *server.Server, f func(i int, d *server.Device)) {
	for i, d := range srv.Devices {
		f(i, d.(*server.Device))
	}
}

// TestGPMAvailability samples mock machines for a second and checks, for
// each GPM and NVJPG metric, that it either flows through samples, the
// live device list and the summary with its value, or is absent
// everywhere with the reason said.
func TestGPMAvailability(t *testing.T) {
	t.Parallel()
	gpm := []Metric{SMActivity, SMOccupancy, TensorActivity, DRAMBandwidth}
	all := append(append([]Metric{}, gpm...), NVJPGUtil)
	raw := map[Metric]float64{
		SMActivity: nvmltest.SMActivity, SMOccupancy: nvmltest.SMOccupancy, TensorActivity: nvmltest.TensorActivity,
		DRAMBandwidth: nvmltest.DRAMBWUtil, NVJPGUtil: nvmltest.NVJPGUtil,
	}
	notSupported := func(i int, d *server.Device) {
		d.GetJpgUtilizationFunc = func() (uint32, uint32, nvml.Return) { return 0, 0, nvml.ERROR_NOT_SUPPORTED }
	}
	for _, tc := range []struct {
		name  string
		srv   func() *server.Server
		tweak func(srv *server.Server)
		arch  string
		// unavailable maps each metric that must be absent to the start
		// of its reason; the others must read raw + device index.
		unavailable map[Metric]string
		// gpmCalls is whether the GPM sampling calls may be made at all.
		gpmCalls bool
	}{
		{name: "Hopper", srv: func() *server.Server { return nvmltest.H100(nil) }, arch: "Hopper", gpmCalls: true},
		{name: "Blackwell", srv: func() *server.Server { return nvmltest.B200(nil) }, arch: "Blackwell", gpmCalls: true},
		{name: "Ampere", srv: func() *server.Server { return nvmltest.A100(nil) }, arch: "Ampere",
			unavailable: map[Metric]string{SMActivity: ReasonNeedsHopper + " (this GPU is Ampere)", SMOccupancy: ReasonNeedsHopper,
				TensorActivity: ReasonNeedsHopper, DRAMBandwidth: ReasonNeedsHopper}},
		{name: "NVJPG not supported", srv: func() *server.Server { return nvmltest.H100(nil) }, arch: "Hopper", gpmCalls: true,
			tweak:       func(srv *server.Server) { eachDevice(srv, notSupported) },
			unavailable: map[Metric]string{NVJPGUtil: ReasonNotSupported}},
		{name: "driver without GPM", srv: func() *server.Server { return nvmltest.H100(nil) }, arch: "Hopper",
			tweak: func(srv *server.Server) {
				srv.LookupSymbolFunc = func(s string) error {
					if strings.HasPrefix(s, "nvmlGpm") || s == "nvmlDeviceGetJpgUtilization" {
						return errors.New("undefined symbol")
					}
					return nil
				}
			},
			unavailable: map[Metric]string{SMActivity: ReasonNotSupported + " (libnvidia-ml lacks nvmlGpmQueryDeviceSupport)",
				SMOccupancy: ReasonNotSupported, TensorActivity: ReasonNotSupported, DRAMBandwidth: ReasonNotSupported,
				NVJPGUtil: ReasonNotSupported + " (libnvidia-ml lacks nvmlDeviceGetJpgUtilization)"}},
		{name: "Hopper that refuses GPM", srv: func() *server.Server { return nvmltest.H100(nil) }, arch: "Hopper",
			tweak: func(srv *server.Server) {
				eachDevice(srv, func(_ int, d *server.Device) {
					d.GpmQueryDeviceSupportFunc = func() (nvml.GpmSupport, nvml.Return) { return nvml.GpmSupport{}, nvml.SUCCESS }
				})
			},
			unavailable: map[Metric]string{SMActivity: "GPM not supported on this device", SMOccupancy: "GPM not supported",
				TensorActivity: "GPM not supported", DRAMBandwidth: "GPM not supported"}},
		{name: "one GPM metric not supported", srv: func() *server.Server { return nvmltest.H100(nil) }, arch: "Hopper", gpmCalls: true,
			tweak: func(srv *server.Server) {
				inner := srv.GpmMetricsGetFunc
				srv.GpmMetricsGetFunc = func(g *nvml.GpmMetricsGetType) nvml.Return {
					ret := inner(g)
					for k := range g.NumMetrics {
						if nvml.GpmMetricId(g.Metrics[k].MetricId) == nvml.GPM_METRIC_ANY_TENSOR_UTIL {
							g.Metrics[k].NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
						}
					}
					return ret
				}
			},
			unavailable: map[Metric]string{TensorActivity: ReasonNotSupported}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				srv := tc.srv()
				if tc.tweak != nil {
					tc.tweak(srv)
				}
				s, err := New(Config{NVML: srv})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Start(t.Context()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(1100 * time.Millisecond)
				live := s.Devices()
				series := s.Stop()
				sum := series.Summarize(100)
				if len(series.Samples) != 5 || len(sum.GPUs) != 8 || len(live) != 8 {
					t.Fatalf("%d samples, %d GPUs summarised, %d live; want 5, 8, 8", len(series.Samples), len(sum.GPUs), len(live))
				}
				for i, g := range sum.GPUs {
					if g.Architecture != tc.arch || series.GPUs[i].Architecture != tc.arch {
						t.Errorf("GPU %d architecture %q, want %q", i, g.Architecture, tc.arch)
					}
					for _, m := range all {
						summary := map[Metric]*float64{SMActivity: g.SMActivityMeanPct, SMOccupancy: g.SMOccupancyMeanPct,
							TensorActivity: g.TensorActivityMeanPct, DRAMBandwidth: g.DRAMBWUtilMeanPct, NVJPGUtil: g.NVJPGUtilMeanPct}[m]
						prefix, absent := tc.unavailable[m]
						if absent {
							for _, reasons := range []map[string]string{g.Unavailable, series.GPUs[i].Unavailable, live[i].Unavailable} {
								if !strings.HasPrefix(reasons[m.String()], prefix) {
									t.Errorf("GPU %d %s: reason %q, want it to start %q", i, m, reasons[m.String()], prefix)
								}
							}
							if summary != nil {
								t.Errorf("GPU %d %s: summary %v for a metric that was not read", i, m, *summary)
							}
						} else {
							want := raw[m] + float64(i)
							if summary == nil || *summary != want {
								t.Errorf("GPU %d %s: summary %v, want %v", i, m, summary, want)
							}
							if r, ok := g.Unavailable[m.String()]; ok {
								t.Errorf("GPU %d %s: read, yet unavailable: %s", i, m, r)
							}
						}
						for k, smp := range series.Samples {
							v, ok := smp.GPUs[i].Value(m)
							if ok == absent || ok && v != raw[m]+float64(i) || absent != smp.GPUs[i].Missing.Has(m) {
								t.Errorf("GPU %d sample %d %s = %v, %v; missing %v", i, k, m, v, ok, smp.GPUs[i].Missing.Has(m))
							}
						}
					}
					if _, ok := tc.unavailable[SMActivity]; !ok && (g.SMActivityP95Pct == nil || *g.SMActivityP95Pct != nvmltest.SMActivity+float64(i)) {
						t.Errorf("GPU %d SM activity p95 = %v", i, g.SMActivityP95Pct)
					}
					if g.MemClockMeanMHz == nil || *g.MemClockMeanMHz != nvmltest.MemClock+float64(i) {
						t.Errorf("GPU %d mem clock mean = %v", i, g.MemClockMeanMHz)
					}
					if g.PCIeRxMeanBytesPerS == nil || *g.PCIeRxMeanBytesPerS != (nvmltest.PCIeRxKBs+float64(i))*kib {
						t.Errorf("GPU %d PCIe rx mean = %v", i, g.PCIeRxMeanBytesPerS)
					}
				}

				// GPM's calls: none where the device cannot give it; where it
				// can, two samples per GPU, a take per tick plus the first,
				// and every sample freed.
				allocs, frees := len(srv.GpmSampleAllocCalls()), len(srv.GpmSampleFreeCalls())
				if !tc.gpmCalls {
					if allocs != 0 || len(srv.GpmMetricsGetCalls()) != 0 {
						t.Errorf("%d GPM samples allocated and %d metric reads on a device without GPM", allocs, len(srv.GpmMetricsGetCalls()))
					}
				} else if allocs != 16 || frees != 16 || len(srv.GpmMetricsGetCalls()) != 8*5 {
					t.Errorf("GPM samples: %d allocated, %d freed, %d metric reads; want 16, 16, 40", allocs, frees, len(srv.GpmMetricsGetCalls()))
				}
				if tc.name == "Ampere" {
					eachDevice(srv, func(i int, d *server.Device) {
						if n := len(d.GpmQueryDeviceSupportCalls()); n != 0 {
							t.Errorf("GPU %d: GPM support asked %d times on Ampere; the architecture answers it", i, n)
						}
					})
				}
				if _, ok := tc.unavailable[NVJPGUtil]; ok && tc.name == "NVJPG not supported" {
					eachDevice(srv, func(i int, d *server.Device) {
						if n := len(d.GetJpgUtilizationCalls()); n != 1 {
							t.Errorf("GPU %d: NVJPG asked %d times after NOT_SUPPORTED, want once", i, n)
						}
					})
				}

				// The record's JSON says unavailable and carries no zero
				// in place of what was not measured.
				b, err := json.Marshal(sum)
				if err != nil {
					t.Fatal(err)
				}
				for m := range tc.unavailable {
					name := strings.TrimSuffix(m.String(), "_pct") + "_mean_pct"
					if strings.Contains(string(b), `"`+name+`"`) {
						t.Errorf("summary JSON carries %s, which was not measured", name)
					}
				}
				if len(tc.unavailable) > 0 && !strings.Contains(string(b), `"unavailable":{`) {
					t.Errorf("summary JSON does not say what is unavailable: %s", b)
				}
			})
		})
	}
}

func TestByReason(t *testing.T) {
	t.Parallel()
	order := []Metric{GPUUtil, SMActivity, TensorActivity, NVJPGUtil}
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"nvjpg_util_pct": "b", "sm_activity_pct": "a", "tensor_activity_pct": "a", "power_w": "c"},
			"a: sm_activity_pct tensor_activity_pct; b: nvjpg_util_pct"},
	} {
		var parts []string
		for _, u := range ByReason(tc.in, order) {
			parts = append(parts, u.Reason+": "+strings.Join(setOf(u.Metrics).Names(), " "))
		}
		if got := strings.Join(parts, "; "); got != tc.want {
			t.Errorf("ByReason(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// setOf is the set of ms.
func setOf(ms []Metric) MetricSet {
	var s MetricSet
	for _, m := range ms {
		s = s.With(m)
	}
	return s
}
