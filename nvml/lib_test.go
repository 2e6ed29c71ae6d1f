package nvml

import (
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

func TestFailedInitIsFinal(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Every method but Init is nil, so any further NVML call panics.
		lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
		const want = "no NVIDIA GPU visible (libnvidia-ml.so.1 not found; is the NVIDIA driver installed? [ERROR_LIBRARY_NOT_FOUND])"

		var mu sync.Mutex
		var reported []string
		cfg := Config{Hz: 10, NVML: lib, OnGPUUnavailable: func(r string) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, r)
		}}
		var series []Series
		for range 2 { // a second sampler must not retry Init
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second + time.Millisecond)
			if ok, reason := s.GPUStatus(); ok || reason != want {
				t.Errorf("GPUStatus = %v, %q; want false, %q", ok, reason, want)
			}
			series = append(series, s.Stop())
		}
		inv := ProbeWith(cfg)
		if inv.NVMLAvailable || inv.NVMLReason != want || len(inv.GPUs) != 0 {
			t.Errorf("Probe = %v, %q, %d GPUs; want false, %q, 0", inv.NVMLAvailable, inv.NVMLReason, len(inv.GPUs), want)
		}

		if n := len(lib.InitCalls()); n != 1 {
			t.Errorf("Init called %d times, want 1", n)
		}
		if len(reported) != 2 || reported[0] != want || reported[1] != want {
			t.Errorf("OnGPUUnavailable calls = %q, want one per sampler", reported)
		}
		for _, s := range series {
			if s.GPUAvailable || s.GPUReason != want || len(s.GPUs) != 0 {
				t.Errorf("series GPU fields = %v, %q, %v", s.GPUAvailable, s.GPUReason, s.GPUs)
			}
			// 10 ticks in 1.001 s plus Stop's final sample, host only.
			if len(s.Samples) != 11 {
				t.Errorf("%d samples, want 11", len(s.Samples))
			}
			for _, smp := range s.Samples {
				if len(smp.GPUs) != 0 || smp.Host.ProcRSSBytes == 0 {
					t.Errorf("sample at %vs: %d GPUs, rss %d", smp.ElapsedS, len(smp.GPUs), smp.Host.ProcRSSBytes)
				}
			}
		}
	})
}

func TestInitSharedAndReleased(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := mockH100(t, nil)
		cfg := Config{NVML: srv}
		a, _ := New(cfg)
		b, _ := New(cfg)
		if err := a.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := b.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		ProbeWith(cfg)
		time.Sleep(time.Second)
		a.Stop()
		if n := len(srv.ShutdownCalls()); n != 0 {
			t.Errorf("Shutdown called %d times while a sampler still runs", n)
		}
		b.Stop()
		if i, s := len(srv.InitCalls()), len(srv.ShutdownCalls()); i != 1 || s != 1 {
			t.Errorf("Init, Shutdown called %d, %d times; want 1, 1", i, s)
		}
		// A new run initialises again.
		inv := ProbeWith(cfg)
		if i, s := len(srv.InitCalls()), len(srv.ShutdownCalls()); !inv.NVMLAvailable || i != 2 || s != 2 {
			t.Errorf("after re-probe Init, Shutdown = %d, %d; want 2, 2", i, s)
		}
	})
}

func TestZeroDevices(t *testing.T) {
	t.Parallel()
	srv := mockH100(t, nil)
	srv.Devices = nil
	inv := ProbeWith(Config{NVML: srv})
	want := NoGPUReason("NVML initialised but reports 0 devices")
	if inv.NVMLAvailable || inv.NVMLReason != want {
		t.Errorf("Probe = %v, %q; want false, %q", inv.NVMLAvailable, inv.NVMLReason, want)
	}
	if n := len(srv.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times, want 1", n)
	}
}

func TestDescribeInitFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ret  nvml.Return
		want string
	}{
		{nvml.ERROR_LIBRARY_NOT_FOUND, "libnvidia-ml.so.1 not found"},
		{nvml.ERROR_DRIVER_NOT_LOADED, "driver not loaded"},
		{nvml.ERROR_NO_PERMISSION, "no permission"},
		{nvml.ERROR_LIB_RM_VERSION_MISMATCH, "versions differ"},
		{nvml.ERROR_UNKNOWN, "nvmlInit returned 999"},
	} {
		if got := describeInitFailure(tc.ret); !strings.Contains(got, tc.want) {
			t.Errorf("describeInitFailure(%d) = %q, want it to contain %q", tc.ret, got, tc.want)
		}
	}
}
