// Package promexport serves live run metrics to Prometheus: the pipeline's
// per-operator metrics, the run's throughput and resources, and the
// telemetry samples, read from a run's pipeline.EventBus. It is what
// --metrics-addr starts, so a Grafana board can watch a long tune or a
// shared workshop box as Ray Data's, nvitop-exporter's and Triton's
// endpoints are watched.
//
// Metric names follow Ray Data's where they mean the same
// (ray_data_output_rows is workbench_output_rows); Metrics lists them all,
// and the README's telemetry table is checked against it. Every series
// carries the run's label (dataset, as Ray tags a dataset's metrics) and
// scenario; workbench_run_info carries the run's knobs as labels. All are
// gauges, as Ray Data's are: a run's counts start from zero.
package promexport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"workbench/nvml"
	"workbench/pipeline"
)

// Metric is one exported metric family.
type Metric struct {
	// Name is the Prometheus name, e.g. workbench_output_rows.
	Name string
	// Help is the metric's HELP text.
	Help string
	// Ray is the Ray Data metric with the same meaning, "" when Ray has
	// none.
	Ray string
	// Labels are the labels beyond dataset and scenario.
	Labels []string
	// GPU marks a metric that exists only where a GPU is sampled.
	GPU bool
}

// Label names shared by every series.
const (
	LabelDataset  = "dataset"
	LabelScenario = "scenario"
	LabelOperator = "operator"
	LabelGPU      = "gpu"
)

// opNames renames the pipeline's per-operator metrics after Ray Data's
// where they mean the same; a metric missing here is exported as
// workbench_NAME (durations as workbench_NAME_seconds), so a new pipeline
// metric is exported, and the README check asks for its row.
var opNames = map[string]struct{ name, ray string }{
	"rows_out":           {"workbench_output_rows", "ray_data_output_rows"},
	"bytes_out":          {"workbench_output_bytes", "ray_data_output_bytes"},
	"blocks_in":          {"workbench_num_inputs_received", "ray_data_num_inputs_received"},
	"bytes_in":           {"workbench_bytes_inputs_received", "ray_data_bytes_inputs_received"},
	"rows_in":            {"workbench_input_rows", ""},
	"blocks_out":         {"workbench_num_task_outputs_generated", "ray_data_num_task_outputs_generated"},
	"tasks_submitted":    {"workbench_num_tasks_submitted", "ray_data_num_tasks_submitted"},
	"tasks_running":      {"workbench_num_tasks_running", "ray_data_num_tasks_running"},
	"tasks_finished":     {"workbench_num_tasks_finished", "ray_data_num_tasks_finished"},
	"tasks_failed":       {"workbench_num_tasks_failed", "ray_data_num_tasks_failed"},
	"actors_alive":       {"workbench_num_alive_actors", "ray_data_num_alive_actors"},
	"actors_pending":     {"workbench_num_pending_actors", "ray_data_num_pending_actors"},
	"busy_time":          {"workbench_busy_seconds", ""},
	"starved_time":       {"workbench_starved_seconds", ""},
	"backpressured_time": {"workbench_backpressured_seconds", ""},
}

// opMetricName is the exported name of a pipeline metric.
func opMetricName(d pipeline.MetricDesc) (name, ray string) {
	if n, ok := opNames[d.Name]; ok {
		return n.name, n.ray
	}
	if d.Unit == "seconds" {
		return "workbench_" + strings.TrimSuffix(d.Name, "_time") + "_seconds", ""
	}
	return "workbench_" + d.Name, ""
}

// runMetrics are the run-level gauges, from each snapshot.
var runMetrics = []struct {
	Metric
	value func(s *pipeline.Snapshot) float64
}{
	{Metric{Name: "workbench_rows_done", Help: "rows the last operator has finished"},
		func(s *pipeline.Snapshot) float64 { return float64(s.RowsDone) }},
	{Metric{Name: "workbench_rows_total", Help: "rows the read found (0 before it knows)"},
		func(s *pipeline.Snapshot) float64 { return float64(s.RowsTotal) }},
	{Metric{Name: "workbench_throughput_rows_per_second", Help: "rows done over the time since execution started"},
		func(s *pipeline.Snapshot) float64 {
			if s.At <= 0 {
				return 0
			}
			return float64(s.RowsDone) / s.At.Seconds()
		}},
	{Metric{Name: "workbench_elapsed_seconds", Help: "time since execution started"},
		func(s *pipeline.Snapshot) float64 { return s.At.Seconds() }},
	{Metric{Name: "workbench_in_flight_bytes", Help: "bytes of blocks queued between operators or held by running tasks"},
		func(s *pipeline.Snapshot) float64 { return float64(s.InFlightBytes) }},
	{Metric{Name: "workbench_cpu_usage_cores", Help: "logical CPUs the running tasks and actors hold", Ray: "ray_data_cpu_usage_cores"},
		func(s *pipeline.Snapshot) float64 { return s.Resources.CPU }},
	{Metric{Name: "workbench_gpu_usage_cores", Help: "GPUs the running actors hold", Ray: "ray_data_gpu_usage_cores"},
		func(s *pipeline.Snapshot) float64 { return s.Resources.GPU }},
	{Metric{Name: "workbench_cpu_limit_cores", Help: "the resource manager's CPU limit"},
		func(s *pipeline.Snapshot) float64 { return s.Limits.CPU }},
	{Metric{Name: "workbench_run_done", Help: "1 once the run has finished, else 0"},
		func(s *pipeline.Snapshot) float64 {
			if s.Done {
				return 1
			}
			return 0
		}},
}

// utilization is the one per-operator figure that is not an OpMetrics
// field.
var utilization = Metric{Name: "workbench_operator_utilization", Help: "busy time over available task-slot time (1 = every slot busy)", Labels: []string{LabelOperator}}

// hostMetrics and gpuMetrics are the telemetry gauges, from each sample.
var hostMetrics = []struct {
	Metric
	m     nvml.Metric
	value func(h nvml.HostSample) float64
}{
	{Metric{Name: "workbench_process_cpu_cores", Help: "CPU cores this process used over the last sample period"}, nvml.ProcCPU,
		func(h nvml.HostSample) float64 { return h.ProcCPUCores }},
	{Metric{Name: "workbench_process_resident_memory_bytes", Help: "this process's resident set size"}, nvml.ProcRSS,
		func(h nvml.HostSample) float64 { return float64(h.ProcRSSBytes) }},
	{Metric{Name: "workbench_host_cpu_percent", Help: "the whole machine's CPU utilisation (100 = every core)"}, nvml.SysCPU,
		func(h nvml.HostSample) float64 { return h.SysCPUPct }},
	{Metric{Name: "workbench_host_load1", Help: "the kernel's 1-minute load average"}, nvml.Load1,
		func(h nvml.HostSample) float64 { return h.Load1 }},
}

// gpuMetrics read their value with nvml.GPUSample.Value, which says when a
// sample did not read it (GPM before Hopper, a failed call).
var gpuMetrics = []struct {
	Metric
	m nvml.Metric
}{
	{Metric{Name: "workbench_gpu_utilization_percent", Help: "NVML GPU utilisation: time a kernel was running (not SM occupancy)"}, nvml.GPUUtil},
	{Metric{Name: "workbench_gpu_sm_activity_percent", Help: "GPM SM activity: share of SMs busy (Hopper or newer)"}, nvml.SMActivity},
	{Metric{Name: "workbench_gpu_sm_occupancy_percent", Help: "GPM SM occupancy: warps resident over the maximum (Hopper or newer)"}, nvml.SMOccupancy},
	{Metric{Name: "workbench_gpu_tensor_activity_percent", Help: "GPM tensor activity: time any tensor-core pipe was busy (Hopper or newer)"}, nvml.TensorActivity},
	{Metric{Name: "workbench_gpu_dram_bandwidth_percent", Help: "GPM DRAM bandwidth used over its maximum (Hopper or newer)"}, nvml.DRAMBandwidth},
	{Metric{Name: "workbench_gpu_memory_utilization_percent", Help: "NVML memory utilisation: time device memory was read or written"}, nvml.MemUtil},
	{Metric{Name: "workbench_gpu_memory_used_bytes", Help: "device memory allocated by all processes"}, nvml.MemUsed},
	{Metric{Name: "workbench_gpu_memory_total_bytes", Help: "installed device memory"}, nvml.MemTotal},
	{Metric{Name: "workbench_gpu_process_memory_bytes", Help: "device memory this process uses"}, nvml.ProcGPUMem},
	{Metric{Name: "workbench_gpu_power_watts", Help: "board power draw"}, nvml.Power},
	{Metric{Name: "workbench_gpu_energy_joules", Help: "energy since the run's sampler started"}, nvml.Energy},
	{Metric{Name: "workbench_gpu_sm_clock_mhz", Help: "SM clock"}, nvml.SMClock},
	{Metric{Name: "workbench_gpu_memory_clock_mhz", Help: "device-memory clock"}, nvml.MemClock},
	{Metric{Name: "workbench_gpu_temperature_celsius", Help: "GPU temperature"}, nvml.Temperature},
	{Metric{Name: "workbench_gpu_pcie_rx_bytes_per_second", Help: "PCIe receive throughput"}, nvml.PCIeRx},
	{Metric{Name: "workbench_gpu_pcie_tx_bytes_per_second", Help: "PCIe transmit throughput"}, nvml.PCIeTx},
	{Metric{Name: "workbench_gpu_nvjpg_utilization_percent", Help: "hardware JPEG decoder (NVJPG) utilisation"}, nvml.NVJPGUtil},
}

// runInfo carries the run's knobs as labels.
var runInfo = Metric{Name: "workbench_run_info", Help: "1 for each run; its labels are the run's knobs as the scenario, --set and flags resolved them"}

// Metrics lists every metric the exporter serves: the per-operator
// metrics, the run-level ones, workbench_run_info and the telemetry.
func Metrics() []Metric {
	var out []Metric
	for _, d := range pipeline.Descriptors {
		name, ray := opMetricName(d)
		out = append(out, Metric{Name: name, Help: d.Description, Ray: ray, Labels: []string{LabelOperator}})
	}
	out = append(out, utilization)
	for _, m := range runMetrics {
		out = append(out, m.Metric)
	}
	out = append(out, runInfo)
	for _, m := range hostMetrics {
		out = append(out, m.Metric)
	}
	for _, m := range gpuMetrics {
		m.Labels, m.GPU = []string{LabelGPU}, true
		out = append(out, m.Metric)
	}
	return out
}

// maxRuns bounds the runs whose series are kept: a long TUI or serve
// session, or a sweep, keeps its most recent runs' last values only.
const maxRuns = 32

// Exporter holds the gauges and serves them. Its methods are safe for
// concurrent use.
type Exporter struct {
	reg    *prometheus.Registry
	gauges map[string]*prometheus.GaugeVec
	knobs  []string // the knob label names of workbench_run_info

	mu   sync.Mutex
	runs []string // datasets with series, oldest first

	addr string
}

// New returns an exporter whose workbench_run_info has one label per knob
// name.
func New(knobNames []string) *Exporter {
	e := &Exporter{reg: prometheus.NewRegistry(), gauges: map[string]*prometheus.GaugeVec{}, knobs: slices.Clone(knobNames)}
	base := []string{LabelDataset, LabelScenario}
	for _, m := range Metrics() {
		labels := append(slices.Clone(base), m.Labels...)
		if m.Name == runInfo.Name {
			labels = append(labels, e.knobs...)
		}
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: m.Name, Help: m.Help}, labels)
		e.reg.MustRegister(g)
		e.gauges[m.Name] = g
	}
	return e
}

// Handler serves the metrics in the Prometheus text format.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{})
}

// Addr is the address the exporter listens on ("" when it does not).
func (e *Exporter) Addr() string { return e.addr }

var (
	servingMu sync.Mutex
	serving   = map[string]*Exporter{}
)

// Serve starts an exporter on addr (HOST:PORT) serving /metrics, or
// returns the one this process already serves there: every run of a
// process (a sweep's cells, the TUI's races, serve's sessions) shares one
// endpoint, and it serves until the process exits. A missing host means
// loopback (127.0.0.1); a host other machines can reach makes warnf say
// so, since the labels name the models, data and settings.
func Serve(addr string, knobNames []string, warnf func(format string, a ...any)) (*Exporter, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %q: want HOST:PORT, e.g. 127.0.0.1:9464 or :9464 (loopback)", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	addr = net.JoinHostPort(host, port)
	servingMu.Lock()
	defer servingMu.Unlock()
	if e := serving[addr]; e != nil {
		return e, nil
	}
	if !isLoopback(host) && warnf != nil {
		warnf("warning: --metrics-addr %s is not a loopback address: other machines can read the run's metrics, scenario, model and knobs", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	e := New(knobNames)
	e.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && warnf != nil {
			warnf("metrics endpoint %s stopped: %v", e.addr, err)
		}
	}()
	serving[addr] = e
	if port == "0" {
		serving[e.addr] = e
	}
	return e, nil
}

// isLoopback reports whether host names this machine only.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run names one run's series.
type Run struct {
	// Dataset is the run's label (optimized, batch=32,concurrency=1).
	Dataset string
	// Scenario is the scenario's name.
	Scenario string
	// Knobs are the run's knob values by knob name.
	Knobs map[string]string
}

// Watch follows bus for run until the bus closes, updating the gauges on
// each snapshot and telemetry sample; the returned function waits for
// that. A nil exporter watches nothing.
func (e *Exporter) Watch(run Run, bus *pipeline.EventBus) (wait func()) {
	if e == nil || bus == nil {
		return func() {}
	}
	e.begin(run)
	ch := bus.Subscribe(64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			switch {
			case ev.Snapshot != nil:
				e.snapshot(run, ev.Snapshot)
			case ev.Payload != nil:
				if s, ok := ev.Payload.(nvml.Sample); ok {
					e.sample(run, s)
				}
			}
		}
	}()
	return func() { <-done }
}

// begin replaces any earlier series of run.Dataset, sets its run_info and
// retires the oldest runs past maxRuns.
func (e *Exporter) begin(run Run) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.forget(run.Dataset)
	e.runs = append(e.runs, run.Dataset)
	for len(e.runs) > maxRuns {
		e.forget(e.runs[0])
	}
	labels := prometheus.Labels{LabelDataset: run.Dataset, LabelScenario: run.Scenario}
	for _, k := range e.knobs {
		labels[k] = run.Knobs[k]
	}
	e.gauges[runInfo.Name].With(labels).Set(1)
}

// forget deletes every series of dataset; e.mu is held.
func (e *Exporter) forget(dataset string) {
	for _, g := range e.gauges {
		g.DeletePartialMatch(prometheus.Labels{LabelDataset: dataset})
	}
	e.runs = slices.DeleteFunc(e.runs, func(d string) bool { return d == dataset })
}

func (e *Exporter) snapshot(run Run, s *pipeline.Snapshot) {
	base := []string{run.Dataset, run.Scenario}
	for _, m := range runMetrics {
		e.gauges[m.Name].WithLabelValues(base...).Set(m.value(s))
	}
	for _, op := range s.Ops {
		lv := append(slices.Clone(base), op.Name)
		vals := op.Metrics.Values()
		for _, d := range pipeline.Descriptors {
			name, _ := opMetricName(d)
			e.gauges[name].WithLabelValues(lv...).Set(vals[d.Name])
		}
		e.gauges[utilization.Name].WithLabelValues(lv...).Set(op.Utilization)
	}
}

// sample sets the telemetry gauges a sample measured; a metric the sample
// could not read keeps no value for it rather than a false zero.
func (e *Exporter) sample(run Run, s nvml.Sample) {
	base := []string{run.Dataset, run.Scenario}
	for _, m := range hostMetrics {
		if !s.Host.Missing.Has(m.m) {
			e.gauges[m.Name].WithLabelValues(base...).Set(m.value(s.Host))
		}
	}
	for _, g := range s.GPUs {
		lv := append(slices.Clone(base), strconv.Itoa(g.Index))
		for _, m := range gpuMetrics {
			if v, ok := g.Value(m.m); ok {
				e.gauges[m.Name].WithLabelValues(lv...).Set(v)
			}
		}
	}
}
