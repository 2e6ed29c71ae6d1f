package nvml

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportOverhead turns CPU time over n ticks into the sampler's budget
// figure: percent of one core spent sampling at 10 Hz.
func reportOverhead(b *testing.B, cpu time.Duration, ticks int) {
	per := cpu.Seconds() / float64(ticks)
	b.ReportMetric(per*1e9, "cpu-ns/tick")
	b.ReportMetric(per*10*100, "%core@10Hz")
}

// benchTick measures one sample tick with cfg's sources, called directly
// so the ticker's wake-ups are left out (BenchmarkSamplerLive10Hz has them).
func benchTick(b *testing.B, cfg Config) {
	cfg.Hz = 0.001 // the background loop must not tick during the benchmark
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	smp := s.(*sampler)
	now := time.Now()
	b.ReportAllocs()
	c0 := cpuTime(b)
	for i := 0; b.Loop(); i++ {
		// Advance time so every tick computes rates, as in a real run.
		smp.tick(now.Add(time.Duration(i+1) * 100 * time.Millisecond))
	}
	reportOverhead(b, cpuTime(b)-c0, b.N)
}

// BenchmarkTickSystem is a tick on this machine as it is: real /proc and
// the system NVML library, so it includes real GPU reads where there are
// GPUs and is host-only where there are none.
func BenchmarkTickSystem(b *testing.B) { benchTick(b, Config{}) }

// BenchmarkTickMockH100 adds eight go-nvml mock GPUs. It measures our side
// of GPU sampling (conversion, fan-out, allocation), not the driver's.
func BenchmarkTickMockH100(b *testing.B) { benchTick(b, Config{NVML: mockH100(b, nil)}) }

// BenchmarkSamplerLive10Hz runs the real sampler at 10 Hz for 3 s per
// iteration, ticker wake-ups and garbage collection included, and charges
// it the process's CPU time in that window less that of an equal idle
// window measured just before. Both figures are reported, since on a busy
// machine the difference is noisy.
func BenchmarkSamplerLive10Hz(b *testing.B) {
	const window = 3 * time.Second
	ticks := 0
	var busy, idle time.Duration
	for b.Loop() {
		c0 := cpuTime(b)
		time.Sleep(window)
		idle += cpuTime(b) - c0

		s, err := New(Config{Hz: 10})
		if err != nil {
			b.Fatal(err)
		}
		c0 = cpuTime(b)
		if err := s.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		time.Sleep(window)
		ticks += len(s.Stop().Samples)
		busy += cpuTime(b) - c0
	}
	per := window.Seconds() * float64(b.N)
	b.ReportMetric(float64(ticks)/float64(b.N), "samples/op")
	b.ReportMetric(idle.Seconds()/per*100, "idle-%core")
	b.ReportMetric((busy-idle).Seconds()/per*100, "%core@10Hz")
}
