package nvml_test

import (
	"context"
	"fmt"

	"workbench/nvml"
)

func ExampleFormatCUDAVersion() {
	fmt.Println(nvml.FormatCUDAVersion(12040), nvml.FormatCUDAVersion(13000))
	// Output: 12.4 13.0
}

// A run starts a sampler beside its pipeline, shows live samples, and
// summarises the series into its record.
func ExampleNew() {
	s, err := nvml.New(nvml.Config{Hz: 4})
	if err != nil {
		panic(err)
	}
	if err := s.Start(context.Background()); err != nil {
		panic(err)
	}
	if ok, reason := s.GPUStatus(); !ok {
		fmt.Println(reason) // e.g. "no NVIDIA GPU visible (...)"
	}
	live, cancel := s.Subscribe(8)
	defer cancel()
	go func() {
		for smp := range live {
			_ = smp.Host.ProcCPUCores // feed the progress line or TUI
		}
	}()
	// ... run the pipeline over 1000 images ...
	summary := s.Stop().Summarize(1000)
	fmt.Printf("%.2f cores mean, %.3f J/image\n", summary.Host.CPUCoresMean, summary.EnergyPerImageJ)
}
