package nvml

import (
	"math"
	"os"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// GPUSample is one reading of one GPU. Field names match [Definitions];
// units are converted from NVML's (mW, mJ, KB/s) to W, J and bytes/s.
type GPUSample struct {
	Index            int     `json:"index"`
	GPUUtilPct       float64 `json:"gpu_util_pct"`
	MemUtilPct       float64 `json:"mem_util_pct"`
	MemUsedBytes     uint64  `json:"mem_used_bytes"`
	MemTotalBytes    uint64  `json:"mem_total_bytes"`
	PowerW           float64 `json:"power_w"`
	EnergyJ          float64 `json:"energy_j"` // since the sampler started
	SMClockMHz       uint32  `json:"sm_clock_mhz"`
	TempC            uint32  `json:"temp_c"`
	PCIeRxBytesPerS  float64 `json:"pcie_rx_bytes_per_s"`
	PCIeTxBytesPerS  float64 `json:"pcie_tx_bytes_per_s"`
	ProcMemUsedBytes uint64  `json:"proc_mem_bytes"`

	// Missing flags the metrics that could not be read for this sample,
	// including those the device does not support; their fields are zero.
	Missing MetricSet `json:"missing,omitempty"`
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
	dev  nvml.Device
	info GPUInfo
	pid  uint32

	// unsupported holds metrics that returned ERROR_NOT_SUPPORTED; they
	// are not asked for again.
	unsupported MetricSet

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
	g := &gpuReader{dev: dev, info: info, pid: uint32(os.Getpid())}
	if mJ, ret := dev.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
		g.energyMethod, g.energyBase = EnergyCounter, mJ
	} else {
		// Any failure, not only NOT_SUPPORTED, falls back: a counter that
		// cannot give a baseline cannot give a difference either.
		g.energyMethod = EnergyPowerIntegral
		if mW, ret := dev.GetPowerUsage(); ret == nvml.SUCCESS {
			g.lastPowerW, g.lastPowerT, g.havePower = float64(mW)/1000, now, true
		} else if ret == nvml.ERROR_NOT_SUPPORTED {
			g.unsupported = g.unsupported.With(Power).With(Energy)
			g.energyMethod = EnergyNone
		}
	}
	return g, nil
}

// describeGPU reads a device's static facts; unreadable ones stay empty.
func describeGPU(dev nvml.Device, index int) GPUInfo {
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
				g.unsupported = g.unsupported.With(m)
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
	s.Missing = miss
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
