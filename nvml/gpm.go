package nvml

import (
	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// gpmMetrics are the GPM metrics sampled, in the order they are asked for.
var gpmMetrics = [...]struct {
	m  Metric
	id nvml.GpmMetricId
}{
	{SMActivity, nvml.GPM_METRIC_SM_UTIL},
	{SMOccupancy, nvml.GPM_METRIC_SM_OCCUPANCY},
	{TensorActivity, nvml.GPM_METRIC_ANY_TENSOR_UTIL},
	{DRAMBandwidth, nvml.GPM_METRIC_DRAM_BW_UTIL},
}

// gpmSymbols are the GPM functions of libnvidia-ml the reader calls.
var gpmSymbols = []string{"nvmlGpmQueryDeviceSupport", "nvmlGpmSampleAlloc", "nvmlGpmSampleGet", "nvmlGpmMetricsGet", "nvmlGpmSampleFree"}

// gpmReader reads GPU Performance Monitoring metrics. GPM metrics are rates
// between two samples the driver takes, so the reader keeps two and
// alternates: each tick takes a new one and asks for the metrics between it
// and the one before, which becomes the base of the next tick. The first
// sample is taken when the reader opens, so the first tick already has an
// interval.
type gpmReader struct {
	on      bool
	samples [2]nvml.GpmSample
	last    int // index of the newest sample
	// get is reused: the request holds room for every GPM metric NVML
	// knows (about 19 KB), too much to allocate at every tick.
	get nvml.GpmMetricsGetType
}

// openGPM decides whether g's device can give GPM metrics and, if it can,
// takes the first sample. When it cannot, every GPM metric is marked
// unavailable with the reason, and never asked for.
func (g *gpuReader) openGPM() {
	lib := g.lib
	off := func(reason string) {
		for _, x := range gpmMetrics {
			g.markUnavailable(reason, x.m)
		}
	}
	// The architecture is checked first: on an older GPU even asking
	// whether GPM is supported needs a driver new enough to know GPM.
	if arch, ok := architecture(lib, g.dev); ok && arch < nvml.DEVICE_ARCH_HOPPER {
		off(ReasonNeedsHopper + " (this GPU is " + ArchName(arch) + ")")
		return
	}
	if sym := missingSymbol(lib, gpmSymbols...); sym != "" {
		off(ReasonNotSupported + " (libnvidia-ml lacks " + sym + ")")
		return
	}
	sup, ret := g.dev.GpmQueryDeviceSupport()
	switch {
	case ret == nvml.ERROR_NOT_SUPPORTED:
		off(ReasonNotSupported)
		return
	case ret != nvml.SUCCESS:
		off("GPM support query failed: " + ret.Error())
		return
	case sup.IsSupportedDevice == 0:
		off("GPM not supported on this device (NVML GpmQueryDeviceSupport)")
		return
	}
	for i := range g.gpm.samples {
		s, ret := lib.GpmSampleAlloc()
		if ret != nvml.SUCCESS {
			g.gpm.close(lib)
			off("GPM sample allocation failed: " + ret.Error())
			return
		}
		g.gpm.samples[i] = s
	}
	if ret := g.dev.GpmSampleGet(g.gpm.samples[0]); ret != nvml.SUCCESS {
		g.gpm.close(lib)
		if ret == nvml.ERROR_NOT_SUPPORTED {
			off(ReasonNotSupported)
		} else {
			off("GPM sample failed: " + ret.Error())
		}
		return
	}
	g.gpm.on, g.gpm.last = true, 0
}

// read fills s's GPM figures for the interval since the previous read. A
// failed read marks them missing in this sample only, except for
// NOT_SUPPORTED, which ok makes final for the metrics it names.
func (r *gpmReader) read(g *gpuReader, s *GPUSample, ok func(nvml.Return, ...Metric) bool) {
	lib := g.lib
	if !r.on {
		return
	}
	var want [len(gpmMetrics)]int // indexes into gpmMetrics
	var wantM [len(gpmMetrics)]Metric
	n := 0
	for i, x := range gpmMetrics {
		if !g.unsupported.Has(x.m) {
			want[n], wantM[n] = i, x.m
			n++
		}
	}
	if n == 0 {
		r.close(lib)
		return
	}
	next := 1 - r.last
	if !ok(g.dev.GpmSampleGet(r.samples[next]), wantM[:n]...) {
		return
	}
	r.get.NumMetrics = uint32(n)
	r.get.Sample1, r.get.Sample2 = r.samples[r.last], r.samples[next]
	for k, i := range want[:n] {
		r.get.Metrics[k] = nvml.GpmMetric{MetricId: uint32(gpmMetrics[i].id)}
	}
	// The new sample is the base of the next interval whatever happens
	// to this one's metrics.
	r.last = next
	if !ok(lib.GpmMetricsGet(&r.get), wantM[:n]...) {
		return
	}
	for k, i := range want[:n] {
		got := r.get.Metrics[k]
		if !ok(nvml.Return(got.NvmlReturn), gpmMetrics[i].m) {
			continue
		}
		v := got.Value
		switch gpmMetrics[i].m {
		case SMActivity:
			s.SMActivityPct = &v
		case SMOccupancy:
			s.SMOccupancyPct = &v
		case TensorActivity:
			s.TensorActivityPct = &v
		case DRAMBandwidth:
			s.DRAMBWUtilPct = &v
		}
	}
}

// close frees the samples; the reader reads nothing afterwards.
func (r *gpmReader) close(lib nvml.Interface) {
	for i, s := range r.samples {
		if s != nil {
			// A sample that cannot be freed is lost memory in the
			// driver, and nothing here can recover it.
			_ = lib.GpmSampleFree(s)
			r.samples[i] = nil
		}
	}
	r.on = false
}
