package nvml

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hz   float64
		errs int
	}{{0, 0}, {4, 0}, {0.5, 0}, {MaxHz, 0}, {-1, 1}, {MaxHz + 1, 1}, {math.NaN(), 1}, {math.Inf(1), 1}} {
		if got := len(Config{Hz: tc.hz}.Validate()); got != tc.errs {
			t.Errorf("Validate(Hz=%v): %d errors, want %d", tc.hz, got, tc.errs)
		}
		if _, err := New(Config{Hz: tc.hz}); (err != nil) != (tc.errs > 0) {
			t.Errorf("New(Hz=%v) error = %v", tc.hz, err)
		}
	}
}

func TestSamplerWithMockGPUs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var energy atomic.Uint64
		energy.Store(rawEnergyMJ)
		srv := mockH100(t, &energy)
		s, err := New(Config{NVML: srv}) // default 4 Hz
		if err != nil {
			t.Fatal(err)
		}
		if ok, reason := s.GPUStatus(); ok || reason != "not started" {
			t.Errorf("GPUStatus before Start = %v, %q", ok, reason)
		}
		live, _ := s.Subscribe(16)
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(t.Context()); err == nil {
			t.Error("second Start succeeded")
		}
		if ok, reason := s.GPUStatus(); !ok || reason != "" {
			t.Errorf("GPUStatus = %v, %q; want true, empty", ok, reason)
		}
		time.Sleep(1100 * time.Millisecond)
		energy.Add(4_000) // 4 J before Stop's final sample
		series := s.Stop()

		// Ticks at 0.25, 0.5, 0.75 and 1 s, then Stop's final at 1.1 s.
		wantElapsed := []float64{0.25, 0.5, 0.75, 1, 1.1}
		if len(series.Samples) != len(wantElapsed) {
			t.Fatalf("%d samples, want %d", len(series.Samples), len(wantElapsed))
		}
		for i, smp := range series.Samples {
			if math.Abs(smp.ElapsedS-wantElapsed[i]) > 1e-9 || len(smp.GPUs) != 8 {
				t.Errorf("sample %d: elapsed %v, %d GPUs", i, smp.ElapsedS, len(smp.GPUs))
			}
			for j, g := range smp.GPUs {
				if g.Index != j || g.Missing != 0 {
					t.Errorf("sample %d GPU %d: index %d, missing %v", i, j, g.Index, g.Missing.Names())
				}
			}
		}
		if got := series.Samples[4].GPUs[0].EnergyJ; got != 4 {
			t.Errorf("final energy = %v J, want 4", got)
		}
		if series.Hz != DefaultHz || !series.GPUAvailable || len(series.GPUs) != 8 || series.GPUs[7].EnergyMethod != EnergyCounter {
			t.Errorf("series header = hz %v, gpu %v, %d GPUs", series.Hz, series.GPUAvailable, len(series.GPUs))
		}
		if !series.End.Equal(series.Start.Add(1100 * time.Millisecond)) {
			t.Errorf("End - Start = %v, want 1.1s", series.End.Sub(series.Start))
		}

		var got int
		for range live {
			got++
		}
		if got != 5 || s.Dropped() != 0 {
			t.Errorf("subscriber got %d samples, %d dropped; want 5, 0", got, s.Dropped())
		}
		if again := s.Stop(); len(again.Samples) != 5 {
			t.Errorf("second Stop: %d samples, want 5", len(again.Samples))
		}
		if n := len(srv.ShutdownCalls()); n != 1 {
			t.Errorf("Shutdown called %d times, want 1", n)
		}
	})
}

func TestSlowSubscriberDropsOldest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{Hz: 10, NVML: mockH100(t, nil)})
		if err != nil {
			t.Fatal(err)
		}
		slow, _ := s.Subscribe(1) // never read until Stop
		gone, cancel := s.Subscribe(1)
		cancel()
		cancel() // idempotent
		if _, open := <-gone; open {
			t.Error("cancelled subscription still open")
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(550 * time.Millisecond)
		series := s.Stop()

		// 5 ticks and a final sample went to a one-slot buffer: 5 dropped,
		// and the slot holds the newest.
		if len(series.Samples) != 6 || series.Dropped != 5 || s.Dropped() != 5 {
			t.Errorf("%d samples, %d dropped; want 6, 5", len(series.Samples), series.Dropped)
		}
		last, ok := <-slow
		if !ok || last.ElapsedS != 0.55 {
			t.Errorf("slot holds sample at %vs, want the final one at 0.55s", last.ElapsedS)
		}
		if _, open := <-slow; open {
			t.Error("subscription open after Stop")
		}
		after, _ := s.Subscribe(1)
		if _, open := <-after; open {
			t.Error("subscription made after Stop is open")
		}
	})
}

func TestContextEndsSampling(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, _ := New(Config{Hz: 10, NVML: mockH100(t, nil)})
		ctx, cancel := context.WithCancel(t.Context())
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		cancel()
		time.Sleep(time.Second)
		series := s.Stop()
		// Two ticks before the cancel, then only Stop's final sample.
		if len(series.Samples) != 3 {
			t.Errorf("%d samples, want 3", len(series.Samples))
		}
	})
}

func TestStopBeforeStart(t *testing.T) {
	t.Parallel()
	s, _ := New(Config{NVML: mockH100(t, nil)})
	if series := s.Stop(); len(series.Samples) != 0 || series.GPUs == nil {
		t.Errorf("Stop before Start = %+v", series)
	}
	if err := s.Start(t.Context()); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

func TestStartFailsWithoutProc(t *testing.T) {
	t.Parallel()
	lib := mockH100(t, nil)
	s, _ := New(Config{NVML: lib, ProcFS: t.TempDir()})
	if err := s.Start(t.Context()); err == nil {
		s.Stop()
		t.Fatal("Start without /proc succeeded")
	}
	if n := len(lib.InitCalls()); n != 0 {
		t.Errorf("Init called %d times by a Start that failed on /proc", n)
	}
}

// TestNoGPUWithSystemNVML uses the real go-nvml library. On a machine
// without an NVIDIA driver it must fail once, say why, and keep sampling
// the host.
func TestNoGPUWithSystemNVML(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{Hz: 20})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		ok, reason := s.GPUStatus()
		if ok {
			s.Stop()
			t.Skip("this machine has a GPU; the no-GPU path cannot be exercised")
		}
		t.Logf("GPUStatus: %s", reason)
		if !strings.HasPrefix(reason, "no NVIDIA GPU visible (") || !strings.HasSuffix(reason, ")") {
			t.Errorf("reason = %q", reason)
		}
		time.Sleep(time.Second)
		series := s.Stop()
		if len(series.Samples) < 20 {
			t.Fatalf("%d samples in 1 s at 20 Hz", len(series.Samples))
		}
		for _, smp := range series.Samples {
			if len(smp.GPUs) != 0 || smp.Host.ProcRSSBytes == 0 || smp.Host.Missing.Has(ProcRSS) || smp.Host.Missing.Has(Load1) {
				t.Errorf("sample at %vs: %+v", smp.ElapsedS, smp)
			}
		}
		if inv := Probe(); inv.NVMLAvailable || inv.NVMLReason != reason || inv.Host.LogicalCores == 0 || inv.Host.MemTotalBytes == 0 {
			t.Errorf("Probe = %+v", inv)
		}
	})
}
