package nvml

import (
	"math"
	"slices"
)

// Summary condenses a Series for the run record.
type Summary struct {
	DurationS    float64      `json:"duration_s"`
	Samples      int          `json:"samples"`
	Hz           float64      `json:"hz"`
	GPUAvailable bool         `json:"gpu_available"`
	GPUReason    string       `json:"gpu_reason,omitempty"`
	GPUs         []GPUSummary `json:"gpus"`
	// EnergyJ sums every GPU's energy; EnergyPerImageJ divides it by the
	// image count given to Summarize (0 when no images or no energy).
	EnergyJ         float64     `json:"energy_j"`
	EnergyPerImageJ float64     `json:"energy_per_image_j"`
	Host            HostSummary `json:"host"`
	// Dropped repeats Series.Dropped.
	Dropped uint64 `json:"dropped"`
}

// GPUSummary condenses one GPU's samples. Means and percentiles are over
// the samples in which the metric was read (samples are evenly spaced, so
// these are also time averages); p95 is the nearest-rank 95th percentile.
type GPUSummary struct {
	Index           int     `json:"index"`
	Name            string  `json:"name"`
	UUID            string  `json:"uuid"`
	UtilMeanPct     float64 `json:"util_mean_pct"`
	UtilP95Pct      float64 `json:"util_p95_pct"`
	MemUtilMeanPct  float64 `json:"mem_util_mean_pct"`
	MemPeakBytes    uint64  `json:"mem_peak_bytes"`
	MemTotalBytes   uint64  `json:"mem_total_bytes"`
	ProcMemPeak     uint64  `json:"proc_mem_peak_bytes"`
	PowerMeanW      float64 `json:"power_mean_w"`
	EnergyJ         float64 `json:"energy_j"`
	EnergyMethod    string  `json:"energy_method"`
	EnergyPerImageJ float64 `json:"energy_per_image_j"`
	SMClockMeanMHz  float64 `json:"sm_clock_mean_mhz"`
	TempPeakC       uint32  `json:"temp_peak_c"`
	// Unsupported repeats SeriesGPU.Unsupported.
	Unsupported []string `json:"unsupported,omitempty"`

	// The figures below are nil, and left out of JSON, when no sample
	// read them; Unavailable then says why. GPM's (SM activity and
	// occupancy, tensor activity, DRAM bandwidth) need Hopper or newer.
	Architecture          string   `json:"architecture,omitempty"`
	SMActivityMeanPct     *float64 `json:"sm_activity_mean_pct,omitempty"`
	SMActivityP95Pct      *float64 `json:"sm_activity_p95_pct,omitempty"`
	SMOccupancyMeanPct    *float64 `json:"sm_occupancy_mean_pct,omitempty"`
	TensorActivityMeanPct *float64 `json:"tensor_activity_mean_pct,omitempty"`
	DRAMBWUtilMeanPct     *float64 `json:"dram_bw_util_mean_pct,omitempty"`
	NVJPGUtilMeanPct      *float64 `json:"nvjpg_util_mean_pct,omitempty"`
	MemClockMeanMHz       *float64 `json:"mem_clock_mean_mhz,omitempty"`
	PCIeRxMeanBytesPerS   *float64 `json:"pcie_rx_mean_bytes_per_s,omitempty"`
	PCIeTxMeanBytesPerS   *float64 `json:"pcie_tx_mean_bytes_per_s,omitempty"`
	// Unavailable names each GPU metric that no sample read, with the
	// reason: SeriesGPU.Unavailable's where the device cannot give it,
	// ReasonNeverRead where every read failed.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// HostSummary condenses the host samples.
type HostSummary struct {
	// CPUCoresMean is this process's CPU time over the whole run divided
	// by the run's wall time, from cumulative counters; CPUCoresPeak is
	// the largest single-sample figure.
	CPUCoresMean  float64 `json:"cpu_cores_mean"`
	CPUCoresPeak  float64 `json:"cpu_cores_peak"`
	RSSPeakBytes  uint64  `json:"rss_peak_bytes"`
	SysCPUMeanPct float64 `json:"sys_cpu_mean_pct"`
	Load1Peak     float64 `json:"load1_peak"`
}

// Summarize condenses the series; images is how many images the run
// processed, for energy per image (0 leaves those fields 0).
func (s Series) Summarize(images int64) Summary {
	sum := Summary{
		Samples:      len(s.Samples),
		Hz:           s.Hz,
		GPUAvailable: s.GPUAvailable,
		GPUReason:    s.GPUReason,
		GPUs:         []GPUSummary{},
		Dropped:      s.Dropped,
	}
	if !s.End.IsZero() {
		sum.DurationS = s.End.Sub(s.Start).Seconds()
	}
	for i, g := range s.GPUs {
		gs := summarizeGPU(s.Samples, i, g)
		if images > 0 {
			gs.EnergyPerImageJ = gs.EnergyJ / float64(images)
		}
		sum.EnergyJ += gs.EnergyJ
		sum.GPUs = append(sum.GPUs, gs)
	}
	if images > 0 {
		sum.EnergyPerImageJ = sum.EnergyJ / float64(images)
	}
	sum.Host = summarizeHost(s.Samples)
	return sum
}

// meanOnly are the GPU metrics summarised by their mean alone (and SM
// activity also by its p95), as pointers that stay nil when never read.
var meanOnly = []Metric{SMActivity, SMOccupancy, TensorActivity, DRAMBandwidth, NVJPGUtil, MemClock, PCIeRx, PCIeTx}

// summarizeGPU condenses the i-th GPU of every sample.
func summarizeGPU(samples []Sample, i int, g SeriesGPU) GPUSummary {
	gs := GPUSummary{
		Index: g.Index, Name: g.Name, UUID: g.UUID, MemTotalBytes: g.MemTotalBytes,
		EnergyMethod: g.EnergyMethod, Unsupported: g.Unsupported, Architecture: g.Architecture,
	}
	var util, memUtil, power, clock []float64
	var read MetricSet // metrics at least one sample read
	vals := map[Metric][]float64{}
	for _, smp := range samples {
		if i >= len(smp.GPUs) {
			continue
		}
		x := smp.GPUs[i]
		has := func(m Metric) bool { return !x.Missing.Has(m) }
		for _, m := range meanOnly {
			if v, ok := x.Value(m); ok {
				vals[m] = append(vals[m], v)
			}
		}
		for m := Metric(0); m < numMetrics; m++ {
			if _, ok := x.Value(m); ok {
				read = read.With(m)
			}
		}
		if has(GPUUtil) {
			util = append(util, x.GPUUtilPct)
		}
		if has(MemUtil) {
			memUtil = append(memUtil, x.MemUtilPct)
		}
		if has(MemUsed) {
			gs.MemPeakBytes = max(gs.MemPeakBytes, x.MemUsedBytes)
		}
		if has(ProcGPUMem) {
			gs.ProcMemPeak = max(gs.ProcMemPeak, x.ProcMemUsedBytes)
		}
		if has(Power) {
			power = append(power, x.PowerW)
		}
		if has(Energy) {
			// Cumulative since start, so the last readable one is the total.
			gs.EnergyJ = x.EnergyJ
		}
		if has(SMClock) {
			clock = append(clock, float64(x.SMClockMHz))
		}
		if has(Temperature) {
			gs.TempPeakC = max(gs.TempPeakC, x.TempC)
		}
	}
	gs.UtilMeanPct, gs.UtilP95Pct = mean(util), percentile(util, 95)
	gs.MemUtilMeanPct = mean(memUtil)
	gs.PowerMeanW = mean(power)
	gs.SMClockMeanMHz = mean(clock)
	meanOf := func(m Metric) *float64 {
		if len(vals[m]) == 0 {
			return nil
		}
		v := mean(vals[m])
		return &v
	}
	gs.SMActivityMeanPct = meanOf(SMActivity)
	if xs := vals[SMActivity]; len(xs) > 0 {
		p := percentile(xs, 95)
		gs.SMActivityP95Pct = &p
	}
	gs.SMOccupancyMeanPct = meanOf(SMOccupancy)
	gs.TensorActivityMeanPct = meanOf(TensorActivity)
	gs.DRAMBWUtilMeanPct = meanOf(DRAMBandwidth)
	gs.NVJPGUtilMeanPct = meanOf(NVJPGUtil)
	gs.MemClockMeanMHz = meanOf(MemClock)
	gs.PCIeRxMeanBytesPerS = meanOf(PCIeRx)
	gs.PCIeTxMeanBytesPerS = meanOf(PCIeTx)
	for m := Metric(0); m < numMetrics; m++ {
		if Definitions[m].Scope != "gpu" || read.Has(m) || m == MemTotal && g.MemTotalBytes > 0 {
			continue
		}
		if gs.Unavailable == nil {
			gs.Unavailable = map[string]string{}
		}
		reason, ok := g.Unavailable[m.String()]
		if !ok {
			reason = ReasonNeverRead
		}
		gs.Unavailable[m.String()] = reason
	}
	return gs
}

func summarizeHost(samples []Sample) HostSummary {
	var h HostSummary
	var sys []float64
	var lastCPU, lastT float64
	for _, smp := range samples {
		x := smp.Host
		if !x.Missing.Has(ProcCPU) {
			h.CPUCoresPeak = max(h.CPUCoresPeak, x.ProcCPUCores)
		}
		if !x.Missing.Has(ProcRSS) {
			h.RSSPeakBytes = max(h.RSSPeakBytes, x.ProcRSSBytes)
			lastCPU, lastT = x.ProcCPUSeconds, smp.ElapsedS
		}
		if !x.Missing.Has(SysCPU) {
			sys = append(sys, x.SysCPUPct)
		}
		if !x.Missing.Has(Load1) {
			h.Load1Peak = max(h.Load1Peak, x.Load1)
		}
	}
	if lastT > 0 {
		h.CPUCoresMean = lastCPU / lastT
	}
	h.SysCPUMeanPct = mean(sys)
	return h
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var t float64
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

// percentile is the nearest-rank p-th percentile: the smallest value with
// at least p% of the values at or below it. It is 0 for no values.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
