package backend

import (
	"context"
	"fmt"
	"math"
	"sync"

	"workbench/nvml"
)

// MonitorHz is the sampling rate of the GPU screen's telemetry: one point
// a second, one history column a second, as nvitop draws.
const MonitorHz = 1

// MonitorBackend is implemented by backends that choose what the GPU
// screen watches. Any other backend's GPU screen watches this machine's
// GPUs and host through nvml.
type MonitorBackend interface {
	// Monitor returns a sampler, not yet started, for the GPU screen.
	Monitor() (nvml.Sampler, error)
}

// Monitor returns the sampler the GPU screen of b watches: b's own when it
// is a MonitorBackend, else this machine's at MonitorHz.
func Monitor(b Backend) (nvml.Sampler, error) {
	if mb, ok := b.(MonitorBackend); ok {
		return mb.Monitor()
	}
	return nvml.New(nvml.Config{Hz: MonitorHz})
}

// Monitor implements MonitorBackend: f.GPU's sampler when set, else a
// machine without a GPU.
func (f *Fake) Monitor() (nvml.Sampler, error) {
	if f.GPU != nil {
		return f.GPU(), nil
	}
	return FakeNoGPU(30), nil
}

// FakeSampler is a deterministic nvml.Sampler: a subscription receives
// every one of Samples at once, so a screen shows them on its first drain,
// with no clock involved.
type FakeSampler struct {
	OK      bool
	Reason  string
	GPUs    []nvml.SeriesGPU
	Samples []nvml.Sample

	mu      sync.Mutex
	started bool
	stopped bool
	subs    []chan nvml.Sample
}

var _ nvml.Sampler = (*FakeSampler)(nil)

// Start implements nvml.Sampler.
func (s *FakeSampler) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return fmt.Errorf("fake sampler: a sampler runs once")
	}
	s.started = true
	return nil
}

// Stop implements nvml.Sampler: it closes every subscription.
func (s *FakeSampler) Stop() nvml.Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.stopped = true
		for _, ch := range s.subs {
			close(ch)
		}
		s.subs = nil
	}
	return nvml.Series{Hz: MonitorHz, GPUAvailable: s.OK, GPUReason: s.Reason, GPUs: s.GPUs, Samples: s.Samples}
}

// Subscribe implements nvml.Sampler; the channel already holds Samples.
func (s *FakeSampler) Subscribe(buffer int) (<-chan nvml.Sample, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan nvml.Sample, len(s.Samples)+max(buffer, 1))
	for _, smp := range s.Samples {
		ch <- smp
	}
	if s.stopped {
		close(ch)
		return ch, func() {}
	}
	s.subs = append(s.subs, ch)
	return ch, func() {}
}

// GPUStatus implements nvml.Sampler.
func (s *FakeSampler) GPUStatus() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return false, "not started"
	}
	return s.OK, s.Reason
}

// Stopped reports whether Stop was called.
func (s *FakeSampler) Stopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Dropped implements nvml.Sampler.
func (s *FakeSampler) Dropped() uint64 { return 0 }

// Devices implements nvml.Sampler.
func (s *FakeSampler) Devices() []nvml.SeriesGPU { return s.GPUs }

// fakeHost is a host reading at second i of a fake feed.
func fakeHost(i int) nvml.HostSample {
	w := wave(i, 7)
	return nvml.HostSample{ProcCPUCores: 0.6 + 0.8*w, ProcRSSBytes: uint64(300+4*i) << 20, SysCPUPct: 35 + 40*w,
		Load1: 1.2 + 0.6*w, Load5: 1.1, Load15: 0.9, ProcCPUSeconds: 1.2 * float64(i+1)}
}

// wave is a smooth, deterministic 0..1 wobble with the given period.
func wave(i, period int) float64 { return 0.5 + 0.5*math.Sin(2*math.Pi*float64(i)/float64(period)) }

// FakeNoGPU is a machine without an NVIDIA driver: n seconds of host
// readings and the reason nvml gives.
func FakeNoGPU(n int) *FakeSampler {
	s := &FakeSampler{Reason: nvml.NoGPUReason("libnvidia-ml.so.1 not found; is the NVIDIA driver installed? [ERROR_LIBRARY_NOT_FOUND]")}
	for i := range n {
		s.Samples = append(s.Samples, nvml.Sample{ElapsedS: float64(i + 1), Host: fakeHost(i)})
	}
	return s
}

// FakeGPUs is a machine with gpus GPUs of architecture arch ("Hopper",
// "Ampere", …) running a job for n seconds: GPM figures where arch is
// Hopper or newer, else absent with nvml's reason, as the real sampler
// reports them.
func FakeGPUs(arch string, gpus, n int) *FakeSampler {
	gpm := arch == "Hopper" || arch == "Blackwell"
	name := map[bool]string{true: "NVIDIA H100 80GB HBM3", false: "NVIDIA A100-SXM4-40GB"}[gpm]
	total := map[bool]uint64{true: 80 << 30, false: 40 << 30}[gpm]
	s := &FakeSampler{OK: true}
	gpmMissing := nvml.MetricSet(0).With(nvml.SMActivity).With(nvml.SMOccupancy).With(nvml.TensorActivity).With(nvml.DRAMBandwidth)
	for g := range gpus {
		d := nvml.SeriesGPU{GPUInfo: nvml.GPUInfo{Index: g, Name: name, UUID: fmt.Sprintf("GPU-fake-%d", g), MemTotalBytes: total,
			Architecture: arch, DriverVersion: "580.82.07", CUDADriverVersion: "13.0"}, EnergyMethod: nvml.EnergyCounter}
		if !gpm {
			d.Unsupported = gpmMissing.Names()
			d.Unavailable = map[string]string{}
			for _, m := range d.Unsupported {
				d.Unavailable[m] = nvml.ReasonNeedsHopper + " (this GPU is " + arch + ")"
			}
		}
		s.GPUs = append(s.GPUs, d)
	}
	for i := range n {
		smp := nvml.Sample{ElapsedS: float64(i + 1), Host: fakeHost(i)}
		for g := range gpus {
			// The second GPU idles at a third of the first's load, so
			// the two rows differ at a glance.
			load := wave(i+3*g, 11) * map[bool]float64{true: 1, false: 1.0 / 3}[g == 0]
			pct := func(base, span float64) *float64 { v := math.Round(base + span*load); return &v }
			x := nvml.GPUSample{Index: g, GPUUtilPct: math.Round(20 + 78*load), MemUtilPct: math.Round(10 + 40*load),
				MemUsedBytes: total/4 + uint64(load*float64(total/2)), MemTotalBytes: total, PowerW: math.Round(90 + 500*load),
				EnergyJ: 300 * float64(i+1), SMClockMHz: uint32(1410 + 570*load), MemClockMHz: 2619, TempC: uint32(40 + 30*load),
				PCIeRxBytesPerS: (2 + 400*load) * (1 << 20), PCIeTxBytesPerS: (1 + 20*load) * (1 << 20),
				ProcMemUsedBytes: map[bool]uint64{true: 6 << 30, false: 0}[g == 0], NVJPGUtilPct: pct(0, 0)}
			if gpm {
				x.SMActivityPct, x.SMOccupancyPct = pct(10, 70), pct(5, 35)
				x.TensorActivityPct, x.DRAMBWUtilPct = pct(2, 55), pct(8, 50)
			} else {
				x.Missing = gpmMissing
			}
			smp.GPUs = append(smp.GPUs, x)
		}
		s.Samples = append(s.Samples, smp)
	}
	return s
}
