// Package nvmltest builds go-nvml mock machines whose devices answer every
// call workbench's nvml sampler makes, GPM included, so the sampler and
// everything that shows its samples can be tested without a GPU. Raw
// readings are in NVML's own units; device i adds i to each, so a mix-up
// between devices shows.
package nvmltest

import (
	"os"
	"sync"
	"sync/atomic"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxb200"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// Raw readings every mock device returns (plus its index).
const (
	UtilGPU   = 70       // %
	UtilMem   = 30       // %
	MemUsed   = 10 << 30 // bytes
	PowerMW   = 350250   // mW
	EnergyMJ  = 5_000_000
	SMClock   = 1980 // MHz
	MemClock  = 2619 // MHz
	TempC     = 61
	PCIeRxKBs = 2048    // KB/s
	PCIeTxKBs = 512     // KB/s
	ProcMem   = 3 << 30 // bytes used by this process
	OtherMem  = 7 << 30 // bytes used by some other pid
	NVJPGUtil = 12      // %

	// GPM metrics (%), on Hopper and newer only.
	SMActivity     = 62.5
	SMOccupancy    = 31.25
	TensorActivity = 41.5
	DRAMBWUtil     = 35.0
)

// H100 is a DGX H100 (8 Hopper GPUs). energyMJ is read by each device's
// energy counter, so a test can advance it while a sampler runs; nil means
// the counter is not supported.
func H100(energyMJ *atomic.Uint64) *server.Server {
	srv := dgxh100.New()
	answer(srv, energyMJ)
	return srv
}

// B200 is a DGX B200 (8 Blackwell GPUs), answered as H100: GPM is there
// on every generation from Hopper on.
func B200(energyMJ *atomic.Uint64) *server.Server {
	srv := dgxb200.New()
	answer(srv, energyMJ)
	return srv
}

// A100 is a DGX A100 (8 Ampere GPUs): every call answered as on H100,
// except that GPM is not there. Its support query says so, as a driver
// does for a pre-Hopper device, and sampling is refused.
func A100(energyMJ *atomic.Uint64) *server.Server {
	srv := dgxa100.New()
	answer(srv, energyMJ)
	for _, d := range srv.Devices {
		dev := d.(*server.Device)
		dev.GpmQueryDeviceSupportFunc = func() (nvml.GpmSupport, nvml.Return) {
			return nvml.GpmSupport{IsSupportedDevice: 0}, nvml.SUCCESS
		}
		dev.GpmSampleGetFunc = func(nvml.GpmSample) nvml.Return { return nvml.ERROR_NOT_SUPPORTED }
	}
	return srv
}

// GPMSample is a mock GPM sample: it remembers the device it was last
// taken on and when, as a count of all samples taken on the machine.
type GPMSample struct {
	mu    sync.Mutex
	dev   int
	seq   uint64
	freed bool
}

// Free implements nvml.GpmSample.
func (s *GPMSample) Free() nvml.Return {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	s.freed = true
	return nvml.SUCCESS
}

// Get implements nvml.GpmSample; the mock devices take samples through
// Device.GpmSampleGet, which records the device's index.
func (s *GPMSample) Get(nvml.Device) nvml.Return { return nvml.ERROR_NOT_SUPPORTED }

// MigGet implements nvml.GpmSample; MIG is not mocked.
func (s *GPMSample) MigGet(nvml.Device, int) nvml.Return { return nvml.ERROR_NOT_SUPPORTED }

func (s *GPMSample) state() (dev int, seq uint64, freed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dev, s.seq, s.freed
}

// answer sets every device function the sampler calls.
func answer(srv *server.Server, energyMJ *atomic.Uint64) {
	pid := uint32(os.Getpid())
	var taken atomic.Uint64
	for i, d := range srv.Devices {
		dev := d.(*server.Device)
		u := uint32(i)
		dev.MemoryInfo.Used = MemUsed + uint64(i)
		dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: UtilGPU + u, Memory: UtilMem + u}, nvml.SUCCESS
		}
		dev.GetPowerUsageFunc = func() (uint32, nvml.Return) { return PowerMW + u, nvml.SUCCESS }
		dev.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) {
			if energyMJ == nil {
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return energyMJ.Load() + uint64(i), nvml.SUCCESS
		}
		dev.GetClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
			switch c {
			case nvml.CLOCK_SM:
				return SMClock + u, nvml.SUCCESS
			case nvml.CLOCK_MEM:
				return MemClock + u, nvml.SUCCESS
			}
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		dev.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) {
			return TempC + u, nvml.SUCCESS
		}
		dev.GetPcieThroughputFunc = func(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
			switch c {
			case nvml.PCIE_UTIL_RX_BYTES:
				return PCIeRxKBs + u, nvml.SUCCESS
			case nvml.PCIE_UTIL_TX_BYTES:
				return PCIeTxKBs + u, nvml.SUCCESS
			}
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		dev.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
			return []nvml.ProcessInfo{
				{Pid: pid + 1, UsedGpuMemory: OtherMem},
				{Pid: pid, UsedGpuMemory: ProcMem + uint64(i)},
			}, nvml.SUCCESS
		}
		dev.GetJpgUtilizationFunc = func() (uint32, uint32, nvml.Return) {
			return NVJPGUtil + u, 1_000_000, nvml.SUCCESS
		}
		dev.GpmQueryDeviceSupportFunc = func() (nvml.GpmSupport, nvml.Return) {
			return nvml.GpmSupport{IsSupportedDevice: 1}, nvml.SUCCESS
		}
		dev.GpmSampleGetFunc = func(s nvml.GpmSample) nvml.Return {
			ms, ok := s.(*GPMSample)
			if !ok {
				return nvml.ERROR_INVALID_ARGUMENT
			}
			ms.mu.Lock()
			defer ms.mu.Unlock()
			if ms.freed {
				return nvml.ERROR_INVALID_ARGUMENT
			}
			ms.dev, ms.seq = i, taken.Add(1)
			return nvml.SUCCESS
		}
	}
	srv.GpmSampleAllocFunc = func() (nvml.GpmSample, nvml.Return) { return &GPMSample{}, nvml.SUCCESS }
	srv.GpmSampleFreeFunc = func(s nvml.GpmSample) nvml.Return { return s.Free() }
	srv.GpmMetricsGetFunc = metricsGet
}

// metricsGet answers nvmlGpmMetricsGet as the driver does: the two samples
// must be live, of the same device and in time order, and each metric gets
// its own return code.
func metricsGet(g *nvml.GpmMetricsGetType) nvml.Return {
	s1, ok1 := g.Sample1.(*GPMSample)
	s2, ok2 := g.Sample2.(*GPMSample)
	if !ok1 || !ok2 || s1 == s2 || g.NumMetrics > uint32(len(g.Metrics)) {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	d1, t1, f1 := s1.state()
	d2, t2, f2 := s2.state()
	if f1 || f2 || t1 == 0 || t2 <= t1 || d1 != d2 {
		return nvml.ERROR_INVALID_ARGUMENT
	}
	values := map[nvml.GpmMetricId]float64{
		nvml.GPM_METRIC_SM_UTIL:         SMActivity,
		nvml.GPM_METRIC_SM_OCCUPANCY:    SMOccupancy,
		nvml.GPM_METRIC_ANY_TENSOR_UTIL: TensorActivity,
		nvml.GPM_METRIC_DRAM_BW_UTIL:    DRAMBWUtil,
	}
	for k := range g.NumMetrics {
		m := &g.Metrics[k]
		v, ok := values[nvml.GpmMetricId(m.MetricId)]
		if !ok {
			m.NvmlReturn = uint32(nvml.ERROR_NOT_SUPPORTED)
			continue
		}
		m.Value, m.NvmlReturn = v+float64(d2), uint32(nvml.SUCCESS)
	}
	return nvml.SUCCESS
}
