package nvml_test

import (
	"context"
	"fmt"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"workbench/nvml"
)

func ExampleFormatCUDAVersion() {
	fmt.Println(nvml.FormatCUDAVersion(12040), nvml.FormatCUDAVersion(13000))
	// Output: 12.4 13.0
}

// A run starts a sampler beside its pipeline, shows live samples, and
// summarises the series into its record. Here NVML is go-nvml's mock of a
// host without the driver, so the output is the same on every machine (the
// host figures, which vary, are not printed); a real run leaves NVML unset.
func ExampleNew() {
	if _, err := nvml.New(nvml.Config{Hz: -1}); err != nil {
		fmt.Println(err)
	}
	s, err := nvml.New(nvml.Config{Hz: 4, NVML: noDriver})
	if err != nil {
		panic(err)
	}
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	ok, reason := s.GPUStatus()
	fmt.Println("GPUs sampled:", ok)
	_ = reason // e.g. "no NVIDIA GPU visible (...)": say it once
	live, cancel := s.Subscribe(8)
	defer cancel()
	go func() {
		for smp := range live {
			_ = smp.Host.ProcCPUCores // feed the progress line or TUI
		}
	}()
	// ... run the pipeline over 1000 images ...
	summary := s.Stop().Summarize(1000)
	fmt.Println(len(summary.GPUs), "GPUs summarised, available:", summary.GPUAvailable)
	// Output:
	// sample rate -1 Hz: want 0 (default 4) to 100
	// GPUs sampled: false
	// 0 GPUs summarised, available: false
}

// noDriver is NVML on a host without the NVIDIA driver.
var noDriver = &mock.Interface{
	InitFunc:     func() gonvml.Return { return gonvml.ERROR_LIBRARY_NOT_FOUND },
	ShutdownFunc: func() gonvml.Return { return gonvml.SUCCESS },
	ErrorStringFunc: func(r gonvml.Return) string {
		return "NVML Shared Library Not Found"
	},
}
