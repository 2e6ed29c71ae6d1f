package nvml

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// GPUInfo is what does not change about a GPU during a run.
type GPUInfo struct {
	Index         int    `json:"index"`
	Name          string `json:"name"`
	UUID          string `json:"uuid"`
	MemTotalBytes uint64 `json:"mem_total_bytes"`
	// Architecture is the GPU generation NVML reports ("Ampere",
	// "Hopper"), empty when it cannot say.
	Architecture      string `json:"architecture,omitempty"`
	DriverVersion     string `json:"driver_version,omitempty"`
	CUDADriverVersion string `json:"cuda_driver_version,omitempty"` // e.g. "13.0"
}

// HostInfo describes the machine.
type HostInfo struct {
	CPUModel string `json:"cpu_model"`
	// LogicalCores counts the processors in /proc/cpuinfo; UsableCores is
	// how many of them this process may run on (its CPU affinity), which
	// is what the engine should plan with. Neither reflects a cgroup CPU
	// quota.
	LogicalCores  int    `json:"logical_cores"`
	UsableCores   int    `json:"usable_cores"`
	MemTotalBytes uint64 `json:"mem_total_bytes"`
}

// Inventory is what the machine offers, for the engine's resource limits
// and `workbench doctor`. The engine's default GPU limit is len(GPUs).
type Inventory struct {
	// NVMLAvailable is true when NVML initialised and saw at least one
	// GPU; otherwise NVMLReason says why, as "no NVIDIA GPU visible (...)".
	NVMLAvailable     bool      `json:"nvml_available"`
	NVMLReason        string    `json:"nvml_reason,omitempty"`
	DriverVersion     string    `json:"driver_version,omitempty"`
	CUDADriverVersion string    `json:"cuda_driver_version,omitempty"`
	GPUs              []GPUInfo `json:"gpus"`
	Host              HostInfo  `json:"host"`
	// HostErrors lists /proc files that could not be read or parsed.
	HostErrors []string `json:"host_errors,omitempty"`
}

// Probe inventories this machine with the system NVML library and /proc.
// It never fails: what it cannot see it reports in NVMLReason and
// HostErrors.
func Probe() Inventory { return ProbeWith(Config{}) }

// ProbeWith is Probe with cfg's NVML and ProcFS (other fields are unused).
func ProbeWith(cfg Config) Inventory {
	cfg = cfg.withDefaults()
	inv := Inventory{GPUs: []GPUInfo{}}
	inv.Host, inv.HostErrors = probeHost(cfg.ProcFS)

	gpus, reason := openGPUs(cfg.NVML)
	if reason != "" {
		inv.NVMLReason = reason
		return inv
	}
	defer release(cfg.NVML)
	inv.NVMLAvailable = true
	inv.GPUs = append(inv.GPUs, gpus...)
	if len(gpus) > 0 {
		inv.DriverVersion, inv.CUDADriverVersion = gpus[0].DriverVersion, gpus[0].CUDADriverVersion
	}
	return inv
}

// openGPUs acquires lib and describes every device. When it returns a
// reason the library has been released (or never acquired); otherwise the
// caller owns one reference and must release it.
func openGPUs(lib nvml.Interface) ([]GPUInfo, string) {
	ok, reason := acquire(lib)
	if !ok {
		return nil, reason
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		release(lib)
		return nil, NoGPUReason("nvmlDeviceGetCount: " + ret.Error())
	}
	if n == 0 {
		release(lib)
		return nil, NoGPUReason("NVML initialised but reports 0 devices")
	}
	driver, cuda := systemVersions(lib)
	gpus := make([]GPUInfo, 0, n)
	for i := range n {
		info := GPUInfo{Index: i}
		if dev, ret := lib.DeviceGetHandleByIndex(i); ret == nvml.SUCCESS {
			info = describeGPU(lib, dev, i)
		}
		info.DriverVersion, info.CUDADriverVersion = driver, cuda
		gpus = append(gpus, info)
	}
	return gpus, ""
}

// systemVersions returns the driver version and the CUDA driver API version
// formatted as "major.minor"; unreadable ones are empty.
func systemVersions(lib nvml.Interface) (driver, cuda string) {
	if v, ret := lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		driver = v
	}
	if v, ret := lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
		cuda = FormatCUDAVersion(v)
	}
	return driver, cuda
}

// ArchName names an NVML device architecture ("Hopper"), or
// "architecture N" for one this package does not know.
func ArchName(a nvml.DeviceArchitecture) string {
	names := map[nvml.DeviceArchitecture]string{
		nvml.DEVICE_ARCH_KEPLER: "Kepler", nvml.DEVICE_ARCH_MAXWELL: "Maxwell", nvml.DEVICE_ARCH_PASCAL: "Pascal",
		nvml.DEVICE_ARCH_VOLTA: "Volta", nvml.DEVICE_ARCH_TURING: "Turing", nvml.DEVICE_ARCH_AMPERE: "Ampere",
		nvml.DEVICE_ARCH_ADA: "Ada", nvml.DEVICE_ARCH_HOPPER: "Hopper", nvml.DEVICE_ARCH_BLACKWELL: "Blackwell",
		nvml.DEVICE_ARCH_RUBIN: "Rubin",
	}
	if n, ok := names[a]; ok {
		return n
	}
	if a == nvml.DEVICE_ARCH_UNKNOWN {
		return "unknown"
	}
	return "architecture " + strconv.Itoa(int(a))
}

// FormatCUDAVersion formats NVML's CUDA driver version integer
// (1000*major + 10*minor, e.g. 12040) as "12.4".
func FormatCUDAVersion(v int) string {
	return strconv.Itoa(v/1000) + "." + strconv.Itoa(v%1000/10)
}

func probeHost(root string) (HostInfo, []string) {
	h := HostInfo{UsableCores: runtime.NumCPU()}
	var errs []string
	if b, err := os.ReadFile(filepath.Join(root, "cpuinfo")); err == nil {
		h.CPUModel, h.LogicalCores = parseCPUInfo(b)
	} else {
		errs = append(errs, err.Error())
	}
	if b, err := os.ReadFile(filepath.Join(root, "meminfo")); err == nil {
		if h.MemTotalBytes, err = parseMeminfo(b); err != nil {
			errs = append(errs, err.Error())
		}
	} else {
		errs = append(errs, err.Error())
	}
	return h, errs
}
