package nvml

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	seq := func(n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[n-1-i] = float64(i + 1) // descending, to check sorting
		}
		return xs
	}
	for _, tc := range []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{nil, 95, 0},
		{[]float64{7}, 95, 7},
		{seq(20), 95, 19},
		{seq(100), 95, 95},
		{seq(10), 95, 10},
		{seq(10), 50, 5},
		{seq(10), 0, 1},
	} {
		if got := percentile(tc.xs, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.xs, tc.p, got, tc.want)
		}
	}
}

// testSeries has two GPUs and 20 samples at 4 Hz. GPU 0's util runs
// 5, 10, ..., 100 and GPU 1's is 50 throughout, except that sample 3 of
// GPU 1 failed to read and carries garbage that must be ignored.
func testSeries() Series {
	start := time.Unix(1000, 0)
	s := Series{
		Start: start, End: start.Add(5 * time.Second), Hz: 4, GPUAvailable: true,
		GPUs: []SeriesGPU{
			{GPUInfo: GPUInfo{Index: 0, Name: "A"}, EnergyMethod: EnergyCounter},
			{GPUInfo: GPUInfo{Index: 1, Name: "B"}, EnergyMethod: EnergyPowerIntegral, Unsupported: []string{"pcie_rx_bytes_per_s"}},
		},
		Dropped: 2,
	}
	for i := range 20 {
		el := float64(i+1) / 4
		g0 := GPUSample{Index: 0, GPUUtilPct: float64(5 * (i + 1)), MemUtilPct: 10, MemUsedBytes: uint64(i) << 30,
			PowerW: 100 + float64(i), EnergyJ: 100 * el, SMClockMHz: 1500, TempC: uint32(40 + i), ProcMemUsedBytes: 1 << 30}
		g1 := GPUSample{Index: 1, GPUUtilPct: 50, MemUtilPct: 20, MemUsedBytes: 2 << 30, PowerW: 200, EnergyJ: 200 * el, SMClockMHz: 1000, TempC: 50}
		if i == 3 {
			g1 = GPUSample{Index: 1, GPUUtilPct: 999, MemUsedBytes: 99 << 30, PowerW: 9999, TempC: 99,
				Missing: MetricSet(0).With(GPUUtil).With(MemUsed).With(Power).With(Temperature)}
		}
		h := HostSample{ProcCPUCores: 1 + float64(i%2), ProcRSSBytes: uint64(100+i) << 20, SysCPUPct: 50,
			Load1: float64(i), ProcCPUSeconds: 1.5 * el}
		s.Samples = append(s.Samples, Sample{Time: start.Add(time.Duration(el * float64(time.Second))), ElapsedS: el,
			GPUs: []GPUSample{g0, g1}, Host: h})
	}
	return s
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	sum := testSeries().Summarize(1000)
	g0, g1 := sum.GPUs[0], sum.GPUs[1]
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"duration", sum.DurationS, 5},
		{"gpu0 util mean", g0.UtilMeanPct, 52.5},
		{"gpu0 util p95", g0.UtilP95Pct, 95},
		{"gpu0 mem peak GiB", float64(g0.MemPeakBytes >> 30), 19},
		{"gpu0 power mean", g0.PowerMeanW, 109.5},
		{"gpu0 energy", g0.EnergyJ, 500},
		{"gpu0 energy/image", g0.EnergyPerImageJ, 0.5},
		{"gpu0 temp peak", float64(g0.TempPeakC), 59},
		{"gpu0 proc mem peak", float64(g0.ProcMemPeak), 1 << 30},
		{"gpu1 util mean (failed read ignored)", g1.UtilMeanPct, 50},
		{"gpu1 util p95", g1.UtilP95Pct, 50},
		{"gpu1 mem peak (failed read ignored)", float64(g1.MemPeakBytes), 2 << 30},
		{"gpu1 power mean", g1.PowerMeanW, 200},
		{"gpu1 temp peak", float64(g1.TempPeakC), 50},
		{"gpu1 energy", g1.EnergyJ, 1000},
		{"total energy", sum.EnergyJ, 1500},
		{"energy per image", sum.EnergyPerImageJ, 1.5},
		{"host cpu mean from counters", sum.Host.CPUCoresMean, 1.5},
		{"host cpu peak", sum.Host.CPUCoresPeak, 2},
		{"host rss peak MiB", float64(sum.Host.RSSPeakBytes >> 20), 119},
		{"host sys cpu mean", sum.Host.SysCPUMeanPct, 50},
		{"host load1 peak", sum.Host.Load1Peak, 19},
	} {
		if math.Abs(tc.got-tc.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if sum.Samples != 20 || sum.Dropped != 2 || g1.EnergyMethod != EnergyPowerIntegral || len(g1.Unsupported) != 1 {
		t.Errorf("summary header = %+v", sum)
	}
	if z := testSeries().Summarize(0); z.EnergyPerImageJ != 0 || z.GPUs[0].EnergyPerImageJ != 0 {
		t.Errorf("energy per image with no images = %v", z.EnergyPerImageJ)
	}
	if e := (Series{}).Summarize(10); e.DurationS != 0 || len(e.GPUs) != 0 || e.Host.CPUCoresMean != 0 {
		t.Errorf("empty series summary = %+v", e)
	}
}

func TestSummaryJSONNames(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(testSeries().Summarize(10))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"util_mean_pct"`, `"util_p95_pct"`, `"mem_peak_bytes"`, `"power_mean_w"`, `"energy_j"`,
		`"energy_per_image_j"`, `"cpu_cores_mean"`, `"cpu_cores_peak"`, `"rss_peak_bytes"`, `"energy_method"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("summary JSON lacks %s: %s", key, b)
		}
	}
}
