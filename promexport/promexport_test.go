package promexport

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"workbench/nvml"
	"workbench/pipeline"
)

func gather(t *testing.T, e *Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the one series of name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			ok = ok && found
		}
		if ok {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestWatch: a snapshot and a telemetry sample on the bus become gauges
// with the run's labels; a metric the sample could not read gets no
// series; a later run with the same label replaces the earlier one's.
func TestWatch(t *testing.T) {
	e := New([]string{"batch_size", "device"})
	bus := pipeline.NewEventBus()
	wait := e.Watch(Run{Dataset: "optimized#A", Scenario: "optimized", Knobs: map[string]string{"batch_size": "32", "device": "cpu"}}, bus)
	bus.Publish(pipeline.Event{Snapshot: &pipeline.Snapshot{
		At: 2 * time.Second, RowsDone: 64, RowsTotal: 100,
		Resources: pipeline.ExecutionResources{CPU: 3, GPU: 1},
		Ops: []pipeline.OpSnapshot{{Name: "Inference", Utilization: 0.5, Metrics: pipeline.OpMetrics{
			RowsOut: 64, BytesOut: 1 << 20, TasksRunning: 2, ActorsAlive: 1, QueuedBytes: 4096,
			BusyTime: 1500 * time.Millisecond, StarvedTime: 250 * time.Millisecond, BlockedTime: time.Second}}},
	}})
	var missing nvml.MetricSet
	bus.Publish(pipeline.Event{Payload: nvml.Sample{
		Host: nvml.HostSample{ProcCPUCores: 1.5, ProcRSSBytes: 1 << 30, Missing: missing.With(nvml.SysCPU)},
		GPUs: []nvml.GPUSample{{Index: 0, GPUUtilPct: 87, PowerW: 250, Missing: missing.With(nvml.Temperature)}},
	}})
	bus.Close()
	wait()
	fams := gather(t, e)
	op := map[string]string{LabelDataset: "optimized#A", LabelScenario: "optimized", LabelOperator: "Inference"}
	run := map[string]string{LabelDataset: "optimized#A", LabelScenario: "optimized"}
	gpu := map[string]string{LabelDataset: "optimized#A", LabelGPU: "0"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"workbench_output_rows", op, 64},
		{"workbench_output_bytes", op, 1 << 20},
		{"workbench_num_tasks_running", op, 2},
		{"workbench_num_alive_actors", op, 1},
		{"workbench_queued_bytes", op, 4096},
		{"workbench_busy_seconds", op, 1.5},
		{"workbench_starved_seconds", op, 0.25},
		{"workbench_backpressured_seconds", op, 1},
		{"workbench_operator_utilization", op, 0.5},
		{"workbench_throughput_rows_per_second", run, 32},
		{"workbench_rows_total", run, 100},
		{"workbench_cpu_usage_cores", run, 3},
		{"workbench_gpu_usage_cores", run, 1},
		{"workbench_process_cpu_cores", run, 1.5},
		{"workbench_process_resident_memory_bytes", run, 1 << 30},
		{"workbench_gpu_utilization_percent", gpu, 87},
		{"workbench_gpu_power_watts", gpu, 250},
		{"workbench_run_info", map[string]string{LabelDataset: "optimized#A", "batch_size": "32", "device": "cpu"}, 1},
	} {
		got, ok := value(t, fams, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	for _, name := range []string{"workbench_host_cpu_percent", "workbench_gpu_temperature_celsius"} {
		if _, ok := value(t, fams, name, nil); ok {
			t.Errorf("%s has a series, but the sample could not read it", name)
		}
	}

	// The same label again: the first run's operator series go.
	bus = pipeline.NewEventBus()
	wait = e.Watch(Run{Dataset: "optimized#A", Scenario: "optimized"}, bus)
	bus.Publish(pipeline.Event{Snapshot: &pipeline.Snapshot{Ops: []pipeline.OpSnapshot{{Name: "ReadImages"}}}})
	bus.Close()
	wait()
	fams = gather(t, e)
	if _, ok := value(t, fams, "workbench_output_rows", op); ok {
		t.Error("the earlier run's Inference series survived a rerun under the same label")
	}
}

// TestRetention: only the most recent maxRuns runs keep series.
func TestRetention(t *testing.T) {
	e := New(nil)
	for i := range maxRuns + 3 {
		bus := pipeline.NewEventBus()
		wait := e.Watch(Run{Dataset: "cell" + string(rune('A'+i)), Scenario: "optimized"}, bus)
		bus.Publish(pipeline.Event{Snapshot: &pipeline.Snapshot{RowsDone: 1}})
		bus.Close()
		wait()
	}
	if n := len(gather(t, e)["workbench_rows_done"].Metric); n != maxRuns {
		t.Errorf("%d runs have series, want %d", n, maxRuns)
	}
}
