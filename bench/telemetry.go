package bench

import (
	"context"

	"workbench/nvml"
	"workbench/pipeline"
)

// Telemetry is a run's GPU and host telemetry: the nvml summary plus the
// time series, thinned to at most maxTelemetrySamples samples so records stay
// small.
type Telemetry struct {
	Summary nvml.Summary  `json:"summary"`
	Samples []nvml.Sample `json:"samples,omitempty"`
}

const maxTelemetrySamples = 600

// gpuMeans are the per-GPU means that become registry metrics.
var gpuMeans = map[string]func(g nvml.GPUSummary) *float64{
	MetricSMActivity:     func(g nvml.GPUSummary) *float64 { return g.SMActivityMeanPct },
	MetricSMOccupancy:    func(g nvml.GPUSummary) *float64 { return g.SMOccupancyMeanPct },
	MetricTensorActivity: func(g nvml.GPUSummary) *float64 { return g.TensorActivityMeanPct },
	MetricDRAMBWUtil:     func(g nvml.GPUSummary) *float64 { return g.DRAMBWUtilMeanPct },
	MetricNVJPGUtil:      func(g nvml.GPUSummary) *float64 { return g.NVJPGUtilMeanPct },
}

// Metrics exposes telemetry under the threshold and objective names.
func (t *Telemetry) Metrics() map[string]float64 {
	m := map[string]float64{}
	if t == nil {
		return m
	}
	var util, mem float64
	for _, g := range t.Summary.GPUs {
		util = max(util, g.UtilMeanPct)
		mem = max(mem, float64(g.ProcMemPeak), float64(g.MemPeakBytes))
	}
	if t.Summary.GPUAvailable {
		m[MetricGPUUtil] = util
		m[MetricGPUMem] = mem
	}
	// The busiest GPU's mean, over the GPUs that measured it: a metric no
	// GPU could give is left out, so thresholds on it fail rather than
	// pass on a zero.
	for name, get := range gpuMeans {
		for _, g := range t.Summary.GPUs {
			if v := get(g); v != nil {
				m[name] = max(m[name], *v)
			}
		}
	}
	if t.Summary.EnergyPerImageJ > 0 {
		m[MetricImagesPerJoule] = 1 / t.Summary.EnergyPerImageJ
	}
	return m
}

// StartTelemetry starts a sampler whose samples are also published on bus.
// It returns a stop function producing the Telemetry; with hz < 0 it
// samples nothing.
func StartTelemetry(ctx context.Context, hz float64, bus *pipeline.EventBus, onNoGPU func(string)) func(images int64) *Telemetry {
	if hz < 0 {
		return func(int64) *Telemetry { return nil }
	}
	s, err := nvml.New(nvml.Config{Hz: hz, OnGPUUnavailable: onNoGPU})
	if err != nil {
		return func(int64) *Telemetry { return nil }
	}
	if err := s.Start(ctx); err != nil {
		return func(int64) *Telemetry { return nil }
	}
	done := make(chan struct{})
	if bus != nil {
		ch, cancel := s.Subscribe(16)
		go func() {
			defer close(done)
			for smp := range ch {
				bus.Publish(pipeline.Event{Payload: smp})
			}
		}()
		_ = cancel
	} else {
		close(done)
	}
	return func(images int64) *Telemetry {
		series := s.Stop()
		<-done
		t := &Telemetry{Summary: series.Summarize(images), Samples: series.Samples}
		if n := len(t.Samples); n > maxTelemetrySamples {
			step := (n + maxTelemetrySamples - 1) / maxTelemetrySamples
			thin := make([]nvml.Sample, 0, n/step+1)
			for i := 0; i < n; i += step {
				thin = append(thin, t.Samples[i])
			}
			t.Samples = thin
		}
		return t
	}
}
