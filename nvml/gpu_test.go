package nvml

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

func TestProbeEnumeratesDGXH100(t *testing.T) {
	t.Parallel()
	srv := mockH100(t, nil)
	inv := ProbeWith(Config{NVML: srv, ProcFS: "testdata/proc/t0"})

	if !inv.NVMLAvailable || inv.NVMLReason != "" {
		t.Fatalf("NVMLAvailable = %v, reason %q; want available", inv.NVMLAvailable, inv.NVMLReason)
	}
	if len(inv.GPUs) != 8 {
		t.Fatalf("len(GPUs) = %d, want 8", len(inv.GPUs))
	}
	// dgxh100 reports CUDA driver version 12040 and driver 550.54.15.
	if inv.DriverVersion != srv.DriverVersion || inv.CUDADriverVersion != "12.4" {
		t.Errorf("versions = %q, %q; want %q, %q", inv.DriverVersion, inv.CUDADriverVersion, srv.DriverVersion, "12.4")
	}
	uuids := map[string]bool{}
	for i, g := range inv.GPUs {
		dev := srv.Devices[i].(*server.Device)
		want := GPUInfo{
			Index: i, Name: gpus.H100_SXM5_80GB.Name, UUID: dev.UUID,
			MemTotalBytes:     gpus.H100_SXM5_80GB.MemoryMB << 20,
			Architecture:      "Hopper",
			DriverVersion:     srv.DriverVersion,
			CUDADriverVersion: "12.4",
		}
		if g != want {
			t.Errorf("GPU %d = %+v, want %+v", i, g, want)
		}
		uuids[g.UUID] = true
	}
	if len(uuids) != 8 {
		t.Errorf("%d distinct UUIDs, want 8", len(uuids))
	}
	if got := srv.ShutdownCalls(); len(got) != 1 {
		t.Errorf("Probe left NVML initialised: %d Shutdown calls, want 1", len(got))
	}
}

func TestFormatCUDAVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    int
		want string
	}{{12040, "12.4"}, {13000, "13.0"}, {12090, "12.9"}, {11080, "11.8"}, {12100, "12.10"}} {
		if got := FormatCUDAVersion(tc.v); got != tc.want {
			t.Errorf("FormatCUDAVersion(%d) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// openMockGPU opens device index of srv as the sampler would.
func openMockGPU(t *testing.T, srv *server.Server, index int, now time.Time) *gpuReader {
	t.Helper()
	g, err := openGPU(srv, GPUInfo{Index: index}, now)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGPUSampleConversions(t *testing.T) {
	t.Parallel()
	var energy atomic.Uint64
	energy.Store(rawEnergyMJ)
	srv := mockH100(t, &energy)
	t0 := time.Unix(1000, 0)
	const i = 3 // any device but the first, to catch index mix-ups
	g := openMockGPU(t, srv, i, t0)
	energy.Add(12_345) // mJ used between open and read
	s := g.read(t0.Add(time.Second))

	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"gpu_util_pct (%)", s.GPUUtilPct, rawUtilGPU + i},
		{"mem_util_pct (%)", s.MemUtilPct, rawUtilMem + i},
		{"mem_used_bytes", float64(s.MemUsedBytes), rawMemUsed + i},
		{"mem_used GiB", float64(s.MemUsedBytes) / (1 << 30), 10 + float64(i)/(1<<30)},
		{"mem_total_bytes = 80 GiB", float64(s.MemTotalBytes) / (1 << 30), 80},
		{"power_w from mW", s.PowerW, 350.253},
		{"energy_j from mJ", s.EnergyJ, 12.345},
		{"sm_clock_mhz", float64(s.SMClockMHz), rawSMClock + i},
		{"temp_c", float64(s.TempC), rawTempC + i},
		{"pcie_rx bytes/s from KB/s", s.PCIeRxBytesPerS, (rawPCIeRxKBs + i) * 1024},
		{"pcie_tx bytes/s from KB/s", s.PCIeTxBytesPerS, (rawPCIeTxKBs + i) * 1024},
		{"proc_mem_bytes of our pid only", float64(s.ProcMemUsedBytes), rawProcMem + i},
	} {
		if d := tc.got - tc.want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if s.Index != i || s.Missing != 0 {
		t.Errorf("Index = %d, Missing = %v; want %d, none", s.Index, s.Missing.Names(), i)
	}
	if g.energyMethod != EnergyCounter {
		t.Errorf("energy method = %q, want %q", g.energyMethod, EnergyCounter)
	}
}

func TestEnergyFromPowerIntegral(t *testing.T) {
	t.Parallel()
	srv := mockH100(t, nil) // no energy counter
	dev := srv.Devices[0].(*server.Device)
	powerMW := []uint32{100_000, 200_000, 300_000} // at open, +2 s, +3 s
	calls := 0
	dev.GetPowerUsageFunc = func() (uint32, nvml.Return) {
		p := powerMW[min(calls, len(powerMW)-1)]
		calls++
		return p, nvml.SUCCESS
	}
	t0 := time.Unix(1000, 0)
	g := openMockGPU(t, srv, 0, t0)
	if g.energyMethod != EnergyPowerIntegral {
		t.Fatalf("energy method = %q, want %q", g.energyMethod, EnergyPowerIntegral)
	}
	s1 := g.read(t0.Add(2 * time.Second))
	s2 := g.read(t0.Add(3 * time.Second))
	// Trapezoids: (100+200)/2 W * 2 s = 300 J, then (200+300)/2 W * 1 s.
	if s1.EnergyJ != 300 || s2.EnergyJ != 550 {
		t.Errorf("energy = %v J, %v J; want 300, 550", s1.EnergyJ, s2.EnergyJ)
	}
	if s2.Missing.Has(Energy) || g.unsupported.Has(Energy) {
		t.Errorf("integrated energy flagged missing: %v", s2.Missing.Names())
	}
}

func TestUnsupportedMetricAskedOnce(t *testing.T) {
	t.Parallel()
	srv := mockH100(t, nil)
	dev := srv.Devices[0].(*server.Device)
	dev.GetPcieThroughputFunc = func(nvml.PcieUtilCounter) (uint32, nvml.Return) {
		return 0, nvml.ERROR_NOT_SUPPORTED
	}
	g := openMockGPU(t, srv, 0, time.Unix(1000, 0))
	for k := range 3 {
		s := g.read(time.Unix(1001+int64(k), 0))
		if !s.Missing.Has(PCIeRx) || !s.Missing.Has(PCIeTx) || s.Missing.Has(Power) {
			t.Errorf("read %d: Missing = %v, want pcie rx and tx only", k, s.Missing.Names())
		}
	}
	if n := len(dev.GetPcieThroughputCalls()); n != 2 {
		t.Errorf("GetPcieThroughput called %d times over 3 reads, want 2 (rx and tx once)", n)
	}
	if got := g.unsupported.Names(); len(got) != 2 || got[0] != "pcie_rx_bytes_per_s" || got[1] != "pcie_tx_bytes_per_s" {
		t.Errorf("unsupported = %v", got)
	}
}

func TestTransientFailureMarksOneSample(t *testing.T) {
	t.Parallel()
	srv := mockH100(t, nil)
	dev := srv.Devices[0].(*server.Device)
	fail := false
	dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		if fail {
			return nvml.Utilization{}, nvml.ERROR_UNKNOWN
		}
		return nvml.Utilization{Gpu: 50, Memory: 5}, nvml.SUCCESS
	}
	g := openMockGPU(t, srv, 0, time.Unix(1000, 0))
	fail = true
	bad := g.read(time.Unix(1001, 0))
	fail = false
	good := g.read(time.Unix(1002, 0))
	if !bad.Missing.Has(GPUUtil) || !bad.Missing.Has(MemUtil) || bad.GPUUtilPct != 0 {
		t.Errorf("failed read: Missing = %v, util = %v", bad.Missing.Names(), bad.GPUUtilPct)
	}
	if good.Missing != 0 || good.GPUUtilPct != 50 {
		t.Errorf("next read: Missing = %v, util = %v; want none, 50", good.Missing.Names(), good.GPUUtilPct)
	}
}

func TestProcessMemory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		procs       func(pid uint32) []nvml.ProcessInfo
		want        uint64
		wantMissing bool
	}{
		{"no context", func(pid uint32) []nvml.ProcessInfo {
			return []nvml.ProcessInfo{{Pid: pid + 1, UsedGpuMemory: 1 << 30}}
		}, 0, false},
		{"ours among others", func(pid uint32) []nvml.ProcessInfo {
			return []nvml.ProcessInfo{{Pid: pid + 1, UsedGpuMemory: 1 << 30}, {Pid: pid, UsedGpuMemory: 2 << 30}}
		}, 2 << 30, false},
		{"not attributable", func(pid uint32) []nvml.ProcessInfo {
			return []nvml.ProcessInfo{{Pid: pid, UsedGpuMemory: notAvailable}}
		}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := mockH100(t, nil)
			g := openMockGPU(t, srv, 0, time.Unix(1000, 0))
			srv.Devices[0].(*server.Device).GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) {
				return tc.procs(g.pid), nvml.SUCCESS
			}
			s := g.read(time.Unix(1001, 0))
			if s.ProcMemUsedBytes != tc.want || s.Missing.Has(ProcGPUMem) != tc.wantMissing {
				t.Errorf("proc mem = %d, missing %v; want %d, %v", s.ProcMemUsedBytes, s.Missing.Has(ProcGPUMem), tc.want, tc.wantMissing)
			}
		})
	}
}
