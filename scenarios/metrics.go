package scenarios

import "workbench/bench"

// metricDefs are the metrics an `expect:` entry may name: the one registry
// in bench, so an expectation, a threshold and a race table read a metric
// the same way.
var metricDefs = func() map[string]bench.MetricInfo {
	m := map[string]bench.MetricInfo{}
	for _, d := range bench.KnownMetrics {
		m[d.Name] = d
	}
	return m
}()

// Metric returns the definition of the metric called name.
func Metric(name string) (bench.MetricInfo, bool) { return bench.LookupMetric(name) }

// MetricNames lists the metrics an `expect:` entry may name.
func MetricNames() []string { return bench.MetricNames() }
