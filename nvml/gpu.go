package nvml

import (
	"math"
	"os"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// GPUSample is one reading of one GPU. Field names match [Definitions];
// units are converted from NVML's (mW, mJ, KB/s) to W, J and bytes/s.
//
// The GPM figures (SM activity, SM occupancy, tensor activity, DRAM
// bandwidth) and NVJPG utilisation are pointers: nil, and left out of
// JSON, when the device cannot give them (GPM needs Hopper or newer), so an
// unavailable figure never reads as a measured 0. [SeriesGPU.Unavailable]
// says why.
type GPUSample struct {
	Index            int     `json:"index"`
	GPUUtilPct       float64 `json:"gpu_util_pct"`
	MemUtilPct       float64 `json:"mem_util_pct"`
	MemUsedBytes     uint64  `json:"mem_used_bytes"`
	MemTotalBytes    uint64  `json:"mem_total_bytes"`
	PowerW           float64 `json:"power_w"`
	EnergyJ          float64 `json:"energy_j"` // since the sampler started
	SMClockMHz       uint32  `json:"sm_clock_mhz"`
	MemClockMHz      uint32  `json:"mem_clock_mhz"`
	TempC            uint32  `json:"temp_c"`
	PCIeRxBytesPerS  float64 `json:"pcie_rx_bytes_per_s"`
	PCIeTxBytesPerS  float64 `json:"pcie_tx_bytes_per_s"`
	ProcMemUsedBytes uint64  `json:"proc_mem_bytes"`

	SMActivityPct     *float64 `json:"sm_activity_pct,omitempty"`
	SMOccupancyPct    *float64 `json:"sm_occupancy_pct,omitempty"`
	TensorActivityPct *float64 `json:"tensor_activity_pct,omitempty"`
	DRAMBWUtilPct     *float64 `json:"dram_bw_util_pct,omitempty"`
	NVJPGUtilPct      *float64 `json:"nvjpg_util_pct,omitempty"`

	// Missing flags the metrics that could not be read for this sample,
	// including those the device does not support; their fields are zero
	// (nil for the pointers).
	Missing MetricSet `json:"missing,omitempty"`
}

// Value returns metric m of the sample in the units of [Definitions]; ok
// is false when the sample did not read it, or m is not a GPU metric.
func (x GPUSample) Value(m Metric) (v float64, ok bool) {
	if x.Missing.Has(m) {
		return 0, false
	}
	deref := func(p *float64) (float64, bool) {
		if p == nil {
			return 0, false
		}
		return *p, true
	}
	switch m {
	case GPUUtil:
		return x.GPUUtilPct, true
	case MemUtil:
		return x.MemUtilPct, true
	case MemUsed:
		return float64(x.MemUsedBytes), true
	case MemTotal:
		return float64(x.MemTotalBytes), true
	case Power:
		return x.PowerW, true
	case Energy:
		return x.EnergyJ, true
	case SMClock:
		return float64(x.SMClockMHz), true
	case MemClock:
		return float64(x.MemClockMHz), true
	case Temperature:
		return float64(x.TempC), true
	case PCIeRx:
		return x.PCIeRxBytesPerS, true
	case PCIeTx:
		return x.PCIeTxBytesPerS, true
	case ProcGPUMem:
		return float64(x.ProcMemUsedBytes), true
	case SMActivity:
		return deref(x.SMActivityPct)
	case SMOccupancy:
		return deref(x.SMOccupancyPct)
	case TensorActivity:
		return deref(x.TensorActivityPct)
	case DRAMBandwidth:
		return deref(x.DRAMBWUtilPct)
	case NVJPGUtil:
		return deref(x.NVJPGUtilPct)
	}
	return 0, false
}

// Energy methods, as reported in [SeriesGPU.EnergyMethod] and
// [GPUSummary.EnergyMethod].
const (
	EnergyCounter       = "counter"        // NVML's total-energy counter
	EnergyPowerIntegral = "power_integral" // trapezoidal integral of power
	EnergyNone          = "none"           // neither power nor energy readable
)

// kib is NVML's "KB" in its PCIe throughput: 1024 bytes.
const kib = 1024

// notAvailable is NVML_VALUE_NOT_AVAILABLE as an unsigned long long, which
// NVML puts in usedGpuMemory when it cannot attribute memory to a process.
const notAvailable = math.MaxUint64

// gpuReader samples one device. It is used by one goroutine at a time.
type gpuReader struct {
	lib  nvml.Interface
	dev  nvml.Device
	info GPUInfo
	pid  uint32

	// unsupported holds metrics that returned ERROR_NOT_SUPPORTED or that
	// the device cannot give at all; they are not asked for again.
	// reasons says why, for each of them.
	unsupported MetricSet
	reasons     map[Metric]string

	gpm gpmReader

	energyMethod string
	energyBase   uint64 // mJ at start, for EnergyCounter

	// Power integration state, for EnergyPowerIntegral.
	integralJ  float64
	lastPowerW float64
	lastPowerT time.Time
	havePower  bool
}

// openGPU prepares the device info describes for sampling from now on.
func openGPU(lib nvml.Interface, info GPUInfo, now time.Time) (*gpuReader, error) {
	dev, ret := lib.DeviceGetHandleByIndex(info.Index)
	if ret != nvml.SUCCESS {
		return nil, &nvmlError{"DeviceGetHandleByIndex", ret}
	}
	g := &gpuReader{lib: lib, dev: dev, info: info, pid: uint32(os.Getpid()), reasons: map[Metric]string{}}
	if mJ, ret := dev.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
		g.energyMethod, g.energyBase = EnergyCounter, mJ
	} else {
		// Any failure, not only NOT_SUPPORTED, falls back: a counter that
		// cannot give a baseline cannot give a difference either.
		g.energyMethod = EnergyPowerIntegral
		if mW, ret := dev.GetPowerUsage(); ret == nvml.SUCCESS {
			g.lastPowerW, g.lastPowerT, g.havePower = float64(mW)/1000, now, true
		} else if ret == nvml.ERROR_NOT_SUPPORTED {
			g.markUnavailable(ReasonNotSupported, Power, Energy)
			g.energyMethod = EnergyNone
		}
	}
	if sym := missingSymbol(lib, "nvmlDeviceGetJpgUtilization"); sym != "" {
		g.markUnavailable(ReasonNotSupported+" (libnvidia-ml lacks "+sym+")", NVJPGUtil)
	}
	g.openGPM()
	return g, nil
}

// Reasons a metric is unavailable, as [SeriesGPU.Unavailable] and
// [GPUSummary.Unavailable] give them; a reason may carry more detail after
// these words, e.g. "GPM needs Hopper or newer (this GPU is Ampere)".
const (
	ReasonNeedsHopper  = "GPM needs Hopper or newer"
	ReasonNotSupported = "not supported by driver"
	ReasonNeverRead    = "no sample could read it"
)

// markUnavailable stops asking for ms and keeps the first reason given for
// each.
func (g *gpuReader) markUnavailable(reason string, ms ...Metric) {
	for _, m := range ms {
		g.unsupported = g.unsupported.With(m)
		if _, ok := g.reasons[m]; !ok {
			g.reasons[m] = reason
		}
	}
}

// unavailable returns the reasons by metric name, nil when every metric is
// read.
func (g *gpuReader) unavailable() map[string]string {
	if len(g.reasons) == 0 {
		return nil
	}
	out := make(map[string]string, len(g.reasons))
	for m, r := range g.reasons {
		out[m.String()] = r
	}
	return out
}

// architecture asks NVML for dev's architecture, unless the driver
// predates the question.
func architecture(lib nvml.Interface, dev nvml.Device) (nvml.DeviceArchitecture, bool) {
	if missingSymbol(lib, "nvmlDeviceGetArchitecture") != "" {
		return 0, false
	}
	arch, ret := dev.GetArchitecture()
	return arch, ret == nvml.SUCCESS
}

// missingSymbol returns the first of names that lib's shared library does
// not export, "" when it has them all. A driver older than a function must
// not be called through it: with lazy binding the call would abort the
// process rather than return an error.
func missingSymbol(lib nvml.Interface, names ...string) string {
	ext := lib.Extensions()
	for _, n := range names {
		if ext.LookupSymbol(n) != nil {
			return n
		}
	}
	return ""
}

// close releases what the reader holds in NVML (its GPM samples).
func (g *gpuReader) close() { g.gpm.close(g.lib) }

// describeGPU reads a device's static facts; unreadable ones stay empty.
func describeGPU(lib nvml.Interface, dev nvml.Device, index int) GPUInfo {
	info := GPUInfo{Index: index}
	if name, ret := dev.GetName(); ret == nvml.SUCCESS {
		info.Name = name
	}
	if uuid, ret := dev.GetUUID(); ret == nvml.SUCCESS {
		info.UUID = uuid
	}
	if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
		info.MemTotalBytes = mem.Total
	}
	if arch, ok := architecture(lib, dev); ok {
		info.Architecture = ArchName(arch)
	}
	return info
}

// read takes one sample at now.
func (g *gpuReader) read(now time.Time) GPUSample {
	s := GPUSample{Index: g.info.Index}
	miss := g.unsupported
	// ok records a call's outcome: a NOT_SUPPORTED metric is never asked
	// for again, any other failure only marks this sample.
	ok := func(ret nvml.Return, ms ...Metric) bool {
		if ret == nvml.SUCCESS {
			return true
		}
		for _, m := range ms {
			miss = miss.With(m)
			if ret == nvml.ERROR_NOT_SUPPORTED {
				g.markUnavailable(ReasonNotSupported, m)
			}
		}
		return false
	}
	want := func(m Metric) bool { return !g.unsupported.Has(m) }

	if want(GPUUtil) {
		if u, ret := g.dev.GetUtilizationRates(); ok(ret, GPUUtil, MemUtil) {
			s.GPUUtilPct, s.MemUtilPct = float64(u.Gpu), float64(u.Memory)
		}
	}
	if want(MemUsed) {
		if m, ret := g.dev.GetMemoryInfo(); ok(ret, MemUsed, MemTotal) {
			s.MemUsedBytes, s.MemTotalBytes = m.Used, m.Total
		}
	}
	if want(Power) {
		if mW, ret := g.dev.GetPowerUsage(); ok(ret, Power) {
			s.PowerW = float64(mW) / 1000
		}
	}
	g.energy(&s, &miss, ok, now)
	if want(SMClock) {
		if mhz, ret := g.dev.GetClockInfo(nvml.CLOCK_SM); ok(ret, SMClock) {
			s.SMClockMHz = mhz
		}
	}
	if want(MemClock) {
		if mhz, ret := g.dev.GetClockInfo(nvml.CLOCK_MEM); ok(ret, MemClock) {
			s.MemClockMHz = mhz
		}
	}
	if want(Temperature) {
		if c, ret := g.dev.GetTemperature(nvml.TEMPERATURE_GPU); ok(ret, Temperature) {
			s.TempC = c
		}
	}
	if want(PCIeRx) {
		if kb, ret := g.dev.GetPcieThroughput(nvml.PCIE_UTIL_RX_BYTES); ok(ret, PCIeRx) {
			s.PCIeRxBytesPerS = float64(kb) * kib
		}
	}
	if want(PCIeTx) {
		if kb, ret := g.dev.GetPcieThroughput(nvml.PCIE_UTIL_TX_BYTES); ok(ret, PCIeTx) {
			s.PCIeTxBytesPerS = float64(kb) * kib
		}
	}
	if want(ProcGPUMem) {
		if procs, ret := g.dev.GetComputeRunningProcesses(); ok(ret, ProcGPUMem) {
			for _, p := range procs {
				if p.Pid != g.pid {
					continue
				}
				if p.UsedGpuMemory == notAvailable {
					miss = miss.With(ProcGPUMem)
				} else {
					s.ProcMemUsedBytes += p.UsedGpuMemory
				}
			}
		}
	}
	if want(NVJPGUtil) {
		if pct, _, ret := g.dev.GetJpgUtilization(); ok(ret, NVJPGUtil) {
			v := float64(pct)
			s.NVJPGUtilPct = &v
		}
	}
	g.gpm.read(g, &s, ok)
	s.Missing = miss | g.unsupported
	return s
}

// energy fills s.EnergyJ from the counter, or from the power integral when
// the counter is not supported.
func (g *gpuReader) energy(s *GPUSample, miss *MetricSet, ok func(nvml.Return, ...Metric) bool, now time.Time) {
	switch g.energyMethod {
	case EnergyCounter:
		if g.unsupported.Has(Energy) {
			break // already flagged through miss
		}
		if mJ, ret := g.dev.GetTotalEnergyConsumption(); ok(ret, Energy) {
			if mJ >= g.energyBase {
				s.EnergyJ = float64(mJ-g.energyBase) / 1000
			} else {
				// The counter restarts when the driver reloads; nothing
				// before that can be recovered.
				*miss = miss.With(Energy)
			}
		}
	case EnergyPowerIntegral:
		if miss.Has(Power) {
			*miss = miss.With(Energy)
			break
		}
		if g.havePower {
			dt := now.Sub(g.lastPowerT).Seconds()
			g.integralJ += (g.lastPowerW + s.PowerW) / 2 * dt
		}
		g.lastPowerW, g.lastPowerT, g.havePower = s.PowerW, now, true
		s.EnergyJ = g.integralJ
	default:
		*miss = miss.With(Energy)
	}
}

// nvmlError is an NVML call that failed.
type nvmlError struct {
	call string
	ret  nvml.Return
}

func (e *nvmlError) Error() string { return "nvml " + e.call + ": " + e.ret.Error() }
