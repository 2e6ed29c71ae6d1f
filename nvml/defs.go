package nvml

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Metric identifies one sampled quantity. Its value is the bit position used
// in [GPUSample.Missing] and [HostSample.Missing], and its String is the
// JSON field name that carries it in [GPUSample] or [HostSample].
type Metric uint8

// The GPU metrics, read per device through NVML.
const (
	GPUUtil Metric = iota
	MemUtil
	MemUsed
	MemTotal
	Power
	Energy
	SMClock
	Temperature
	PCIeRx
	PCIeTx
	ProcGPUMem
	// The host metrics, read from /proc.
	ProcCPU
	ProcRSS
	SysCPU
	Load1
	Load5
	Load15
	// GPU metrics added after the host ones so that the bit positions of
	// [MetricSet] in records written before them keep their meaning.
	MemClock
	SMActivity
	SMOccupancy
	TensorActivity
	DRAMBandwidth
	NVJPGUtil
	numMetrics
)

// MetricDef says what one metric is: its JSON field name, unit, where it is
// read from and what that source means by it. Reports and the README render
// [Definitions] rather than restating them.
type MetricDef struct {
	Metric  Metric `json:"-"`
	Name    string `json:"name"`    // JSON field name in GPUSample or HostSample
	Scope   string `json:"scope"`   // "gpu" (one value per device) or "host"
	Unit    string `json:"unit"`    // unit after conversion
	Source  string `json:"source"`  // NVML call or /proc file, with its raw unit
	Meaning string `json:"meaning"` // what the source means by the value
}

// Definitions lists every metric in Metric order. Treat it as read-only.
var Definitions = []MetricDef{
	{GPUUtil, "gpu_util_pct", "gpu", "%", "nvmlDeviceGetUtilizationRates .gpu (%)",
		"Percent of time over the past sample period (1/6 s to 1 s, depending on the product) during which one or more kernels was executing on the GPU. It is not SM occupancy: one tiny kernel running all the time reads 100%."},
	{MemUtil, "mem_util_pct", "gpu", "%", "nvmlDeviceGetUtilizationRates .memory (%)",
		"Percent of time over the past sample period during which global (device) memory was being read or written. It is not the share of memory allocated."},
	{MemUsed, "mem_used_bytes", "gpu", "bytes", "nvmlDeviceGetMemoryInfo .used (bytes)",
		"Device memory allocated by all processes and the driver, at the sample instant."},
	{MemTotal, "mem_total_bytes", "gpu", "bytes", "nvmlDeviceGetMemoryInfo .total (bytes)",
		"Installed device memory visible to NVML."},
	{Power, "power_w", "gpu", "W", "nvmlDeviceGetPowerUsage (mW)",
		"Power draw of the GPU and its associated circuitry (e.g. memory). On Ampere (except GA100) and newer it is averaged by the driver over 1 s; on GA100 and older it is instantaneous. Converted from milliwatts."},
	{Energy, "energy_j", "gpu", "J", "nvmlDeviceGetTotalEnergyConsumption (mJ), else power integrated over time",
		"Energy the board used since the sampler started: the difference of NVML's millijoule counter (since driver load) where supported (energy_method \"counter\"), otherwise the trapezoidal integral of power_w over sample times (energy_method \"power_integral\")."},
	{SMClock, "sm_clock_mhz", "gpu", "MHz", "nvmlDeviceGetClockInfo(NVML_CLOCK_SM) (MHz)",
		"Current streaming-multiprocessor clock at the sample instant."},
	{Temperature, "temp_c", "gpu", "C", "nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU) (C)",
		"GPU die temperature at the sample instant."},
	{PCIeRx, "pcie_rx_bytes_per_s", "gpu", "bytes/s", "nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_RX_BYTES) (KB/s)",
		"PCIe bytes received by the GPU (host to device), counted over a 20 ms window at the sample instant, not averaged over the sample period; converted from KB/s (1 KB = 1024 bytes)."},
	{PCIeTx, "pcie_tx_bytes_per_s", "gpu", "bytes/s", "nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_TX_BYTES) (KB/s)",
		"PCIe bytes sent by the GPU (device to host), counted over a 20 ms window at the sample instant; converted from KB/s (1 KB = 1024 bytes)."},
	{ProcGPUMem, "proc_mem_bytes", "gpu", "bytes", "nvmlDeviceGetComputeRunningProcesses .usedGpuMemory (bytes)",
		"Device memory used by this process's compute context, matched by PID. Zero when this process has no CUDA context on the device; inside a container without host PID visibility NVML reports host PIDs and no match is possible."},
	{ProcCPU, "proc_cpu_cores", "host", "cores", "/proc/self/stat utime+stime (USER_HZ ticks)",
		"CPU time (user+system) this process used over the sample period divided by the period: 1.85 means 1.85 cores busy on average. Resolution is 10 ms of CPU per sample."},
	{ProcRSS, "proc_rss_bytes", "host", "bytes", "/proc/self/stat rss (pages)",
		"Resident set size of this process at the sample instant."},
	{SysCPU, "sys_cpu_pct", "host", "%", "/proc/stat cpu line (USER_HZ ticks)",
		"Share of all logical CPUs' time over the sample period that was not idle or iowait, for the whole machine: 100% means every core busy."},
	{Load1, "load1", "host", "", "/proc/loadavg",
		"Kernel 1-minute load average: runnable plus uninterruptible tasks, exponentially averaged."},
	{Load5, "load5", "host", "", "/proc/loadavg", "Kernel 5-minute load average."},
	{Load15, "load15", "host", "", "/proc/loadavg", "Kernel 15-minute load average."},
	{MemClock, "mem_clock_mhz", "gpu", "MHz", "nvmlDeviceGetClockInfo(NVML_CLOCK_MEM) (MHz)",
		"Current device-memory clock at the sample instant."},
	{SMActivity, "sm_activity_pct", "gpu", "%", "nvmlGpmMetricsGet(NVML_GPM_METRIC_SM_UTIL) (%), between two GPM samples",
		"Percent of SMs that were busy (NVML's definition; DCGM calls it SM active: at least one warp resident), averaged over the time between this sample and the previous one. Unlike gpu_util_pct it stays low when kernels are too small to fill the GPU. GPM (GPU Performance Monitoring) needs Hopper or newer."},
	{SMOccupancy, "sm_occupancy_pct", "gpu", "%", "nvmlGpmMetricsGet(NVML_GPM_METRIC_SM_OCCUPANCY) (%)",
		"Occupied warps as a percent of the theoretical maximum, averaged over the sample period: how full the SMs are. Hopper or newer."},
	{TensorActivity, "tensor_activity_pct", "gpu", "%", "nvmlGpmMetricsGet(NVML_GPM_METRIC_ANY_TENSOR_UTIL) (%)",
		"Percent of time the SMs were doing any tensor-core operation, averaged over the sample period: near 0 means the model's math is not on tensor cores. Hopper or newer."},
	{DRAMBandwidth, "dram_bw_util_pct", "gpu", "%", "nvmlGpmMetricsGet(NVML_GPM_METRIC_DRAM_BW_UTIL) (%)",
		"Device-memory bandwidth used as a percent of the theoretical maximum, averaged over the sample period. Hopper or newer."},
	{NVJPGUtil, "nvjpg_util_pct", "gpu", "%", "nvmlDeviceGetJpgUtilization (%)",
		"Percent of time over the driver's sampling period that the hardware JPEG decoder (NVJPG) was busy. workbench's own decoders run on the CPU, so expect 0 unless another process decodes on this GPU."},
}

// displayOrder is the order [Table] shows the metrics in: what the GPU's
// SMs did beside util, then memory, power, clocks, transfers, and the host.
var displayOrder = []Metric{
	GPUUtil, SMActivity, SMOccupancy, TensorActivity, DRAMBandwidth, MemUtil,
	MemUsed, MemTotal, ProcGPUMem, Power, Energy, SMClock, MemClock, Temperature,
	PCIeRx, PCIeTx, NVJPGUtil,
	ProcCPU, ProcRSS, SysCPU, Load1, Load5, Load15,
}

// Table lists Definitions as they are shown: the GPU metrics, utilisation
// first, then the host ones.
func Table() []MetricDef {
	out := make([]MetricDef, len(displayOrder))
	for i, m := range displayOrder {
		out[i] = Definitions[m]
	}
	return out
}

// String returns the metric's JSON field name, or "metric(N)" for an
// unknown value.
func (m Metric) String() string {
	if int(m) < len(Definitions) {
		return Definitions[m].Name
	}
	return "metric(" + strconv.Itoa(int(m)) + ")"
}

// Def returns the metric's definition; ok is false for an unknown value.
func (m Metric) Def() (def MetricDef, ok bool) {
	if int(m) < len(Definitions) {
		return Definitions[m], true
	}
	return MetricDef{}, false
}

// MetricSet is a bit set of metrics, bit i standing for Metric(i).
type MetricSet uint32

// Has reports whether m is in the set.
func (s MetricSet) Has(m Metric) bool { return s&(1<<m) != 0 }

// With returns the set with m added.
func (s MetricSet) With(m Metric) MetricSet { return s | 1<<m }

// Names lists the set's metric names in Metric order.
func (s MetricSet) Names() []string {
	var out []string
	for m := Metric(0); m < numMetrics; m++ {
		if s.Has(m) {
			out = append(out, m.String())
		}
	}
	return out
}

// WriteDefinitions renders [Table] as a Markdown table (metric, scope,
// unit, source, meaning) for the README, reports and `workbench doctor`.
func WriteDefinitions(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| Metric | Scope | Unit | Source | Meaning |\n|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, d := range Table() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Name, d.Scope, cell(d.Unit), cell(d.Source), cell(d.Meaning))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
