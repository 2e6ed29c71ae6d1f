package nvml

import (
	"sync/atomic"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"workbench/nvml/nvmltest"
)

// Raw NVML readings the mock devices return, in NVML's own units. Device i
// adds i to each so a mix-up between devices shows.
const (
	rawUtilGPU   = nvmltest.UtilGPU
	rawUtilMem   = nvmltest.UtilMem
	rawMemUsed   = nvmltest.MemUsed
	rawEnergyMJ  = nvmltest.EnergyMJ
	rawSMClock   = nvmltest.SMClock
	rawTempC     = nvmltest.TempC
	rawPCIeRxKBs = nvmltest.PCIeRxKBs
	rawPCIeTxKBs = nvmltest.PCIeTxKBs
	rawProcMem   = nvmltest.ProcMem
)

// mockH100 is a DGX H100 (8 GPUs) whose devices answer every call the
// sampler makes, GPM included. energyMJ is read by each device's energy
// counter, so a test can advance it while a sampler runs; nil means the
// counter is not supported.
func mockH100(t testing.TB, energyMJ *atomic.Uint64) *server.Server {
	t.Helper()
	return nvmltest.H100(energyMJ)
}
