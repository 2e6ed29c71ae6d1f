package nvml

import (
	"os"
	"sync/atomic"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

// Raw NVML readings the mock devices return, in NVML's own units. Device i
// adds i to each so a mix-up between devices shows.
const (
	rawUtilGPU   = 70       // %
	rawUtilMem   = 30       // %
	rawMemUsed   = 10 << 30 // bytes
	rawPowerMW   = 350250   // mW
	rawEnergyMJ  = 5_000_000
	rawSMClock   = 1980 // MHz
	rawTempC     = 61
	rawPCIeRxKBs = 2048    // KB/s
	rawPCIeTxKBs = 512     // KB/s
	rawProcMem   = 3 << 30 // bytes used by our pid
	rawOtherMem  = 7 << 30 // bytes used by some other pid
)

// mockH100 is a DGX H100 (8 GPUs) whose devices answer every call the
// sampler makes. energyMJ is read by each device's energy counter, so a
// test can advance it while a sampler runs; nil means the counter is not
// supported.
func mockH100(t testing.TB, energyMJ *atomic.Uint64) *server.Server {
	t.Helper()
	srv := dgxh100.New()
	pid := uint32(os.Getpid())
	for i, d := range srv.Devices {
		dev := d.(*server.Device)
		u := uint32(i)
		dev.MemoryInfo.Used = rawMemUsed + uint64(i)
		dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: rawUtilGPU + u, Memory: rawUtilMem + u}, nvml.SUCCESS
		}
		dev.GetPowerUsageFunc = func() (uint32, nvml.Return) { return rawPowerMW + u, nvml.SUCCESS }
		dev.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) {
			if energyMJ == nil {
				return 0, nvml.ERROR_NOT_SUPPORTED
			}
			return energyMJ.Load() + uint64(i), nvml.SUCCESS
		}
		dev.GetClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
			if c != nvml.CLOCK_SM {
				return 0, nvml.ERROR_INVALID_ARGUMENT
			}
			return rawSMClock + u, nvml.SUCCESS
		}
		dev.GetTemperatureFunc = func(s nvml.TemperatureSensors) (uint32, nvml.Return) {
			return rawTempC + u, nvml.SUCCESS
		}
		dev.GetPcieThroughputFunc = func(c nvml.PcieUtilCounter) (uint32, nvml.Return) {
			switch c {
			case nvml.PCIE_UTIL_RX_BYTES:
				return rawPCIeRxKBs + u, nvml.SUCCESS
			case nvml.PCIE_UTIL_TX_BYTES:
				return rawPCIeTxKBs + u, nvml.SUCCESS
			}
			return 0, nvml.ERROR_INVALID_ARGUMENT
		}
		dev.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
			return []nvml.ProcessInfo{
				{Pid: pid + 1, UsedGpuMemory: rawOtherMem},
				{Pid: pid, UsedGpuMemory: rawProcMem + uint64(i)},
			}, nvml.SUCCESS
		}
	}
	return srv
}
