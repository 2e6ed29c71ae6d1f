// Package nvml owns workbench's live telemetry: per-GPU readings through
// NVIDIA's NVML (via github.com/NVIDIA/go-nvml) and host readings from
// Linux /proc, sampled at a fixed rate alongside a run, summarised for the
// run record, and probed once for the engine's resource limits and
// `workbench doctor`.
//
// # Honesty
//
// Every metric is defined in [Definitions] with its unit and what NVML or
// the kernel actually means by it; "GPU util" in particular is the share of
// time a kernel was running, not SM occupancy. A reading that failed is
// flagged in the sample's Missing mask rather than reported as zero, and a
// metric the device does not support is listed once per GPU in the
// [Series], with the reason in [SeriesGPU.Unavailable], and never asked
// for again.
//
// # GPM
//
// On Hopper and newer, GPU Performance Monitoring gives what util cannot:
// SM activity and occupancy, tensor activity and DRAM bandwidth, each a
// rate between two driver samples. Each GPU's reader keeps two samples and
// alternates them, one taken per tick. The architecture is checked first
// (DeviceGetArchitecture), then the driver's own answer
// (GpmQueryDeviceSupport); on older GPUs, or drivers without the GPM
// functions (looked up in the library before any call, since calling a
// missing symbol would abort the process), these metrics are nil in every
// sample and "unavailable" in the summary, with the reason: never 0.
//
// # No GPU
//
// go-nvml dlopens libnvidia-ml.so.1 on Init. When there is no driver, no
// library or no device, Init fails once, the reason is kept as
// "no NVIDIA GPU visible (REASON)" (see [Sampler.GPUStatus] and
// [Inventory.NVMLReason]) and the package never calls NVML again for that
// library: later samplers and probes reuse the remembered failure instead
// of retrying. Successful Inits are reference counted so several samplers
// and probes can share the library and the last one out shuts it down.
//
// # Why /proc is read directly
//
// Host readings come from /proc files this package opens once and rereads
// with pread: /proc/stat (first line only), /proc/self/stat and
// /proc/loadavg. prometheus/procfs and gopsutil reopen and parse whole
// files into general-purpose structs on every call and add a dependency,
// while the sampler's budget is under 0.5% of one core at 10 Hz. The
// formats we read are stable kernel ABI and small; the parsers are tested
// against recorded fixtures in testdata/proc. Process CPU time comes from
// utime+stime in /proc/self/stat, which the kernel reports in USER_HZ
// ticks; USER_HZ is 100 on every Linux architecture Go supports, so a
// single sample at 4 Hz resolves process CPU to ±0.04 cores, while the
// run-level mean in [Summary] is exact because it uses the cumulative
// counters.
package nvml
