package bench

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseConditions(t *testing.T) {
	t.Parallel()
	type cond struct {
		metric string
		op     Op
		value  float64
	}
	tests := []struct {
		spec    string
		want    []cond
		wantErr string
	}{
		{"throughput>100,latency_p95<250ms", []cond{{"throughput", OpGT, 100}, {"latency_p95", OpLT, 0.25}}, ""},
		{"latency_p95<200ms,peak_rss<4GiB,gpu_mem<20GiB",
			[]cond{{"latency_p95", OpLT, 0.2}, {"peak_rss", OpLT, 4 << 30}, {"gpu_mem", OpLT, 20 << 30}}, ""},
		{" latency_p99 <= 1.5s , errors == 0 ", []cond{{"latency_p99", OpLE, 1.5}, {"errors", OpEQ, 0}}, ""},
		{"time_to_first_result<2s", []cond{{"ttfr", OpLT, 2}}, ""},
		{"ttfr<500us", []cond{{"ttfr", OpLT, 500e-6}}, ""},
		{"ttfr<500µs", []cond{{"ttfr", OpLT, 500e-6}}, ""},
		{"latency_p50<1m", []cond{{"latency_p50", OpLT, 60}}, ""},
		{"peak_rss<512MB", []cond{{"peak_rss", OpLT, 512e6}}, ""},
		{"peak_rss<1e9", []cond{{"peak_rss", OpLT, 1e9}}, ""},
		{"peak_rss<2KB", []cond{{"peak_rss", OpLT, 2000}}, ""},
		{"cpu_pct<80%", []cond{{"cpu_pct", OpLT, 80}}, ""},
		{"gpu_util>=50", []cond{{"gpu_util", OpGE, 50}}, ""},
		{"images_per_joule>2.5", []cond{{"images_per_joule", OpGT, 2.5}}, ""},
		{"", nil, ""},
		{"latency_p95<250", nil, "--threshold latency_p95<250: latency_p95 is a duration and needs a unit (ns, us, ms, s, m, h); write e.g. latency_p95<250ms"},
		{"throughput>100ms", nil, `--threshold throughput>100ms: unit "ms" does not fit throughput (a rate, written as a plain number); write e.g. throughput>100`},
		{"peak_rss<4GB/s", nil, `unit "GB/s" does not fit peak_rss`},
		{"latency<250ms", nil, `--threshold latency<250ms: unknown metric "latency"; known metrics: ` + knownMetricNames()},
		{"throughput100", nil, "no comparison operator; use one of < <= > >= =="},
		{"throughput=100", nil, "no comparison operator"},
		{"<100", nil, "missing metric name before <"},
		{"throughput>", nil, "missing value after the operator; write e.g. throughput>100"},
		{"throughput>abc", nil, "missing number; write e.g. throughput>100"},
		{"throughput>1.2.3", nil, `"1.2.3" is not a number`},
		{"throughput>100,", nil, "empty condition"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			set, err := ParseThresholds(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(set.Conds) != len(tt.want) {
				t.Fatalf("got %d conditions, want %d", len(set.Conds), len(tt.want))
			}
			for i, c := range set.Conds {
				w := tt.want[i]
				if c.Metric.Name != w.metric || c.Op != w.op || c.Value != w.value {
					t.Errorf("cond %d = %s %s %v, want %s %s %v", i, c.Metric.Name, c.Op, c.Value, w.metric, w.op, w.value)
				}
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	set, err := ParseThresholds("throughput>100,latency_p95<250ms,gpu_mem<20GiB,peak_rss<=4GiB,errors==0")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		metrics map[string]float64
		want    []string
	}{
		{"all hold", map[string]float64{"throughput": 412, "latency_p95": 0.2, "gpu_mem": 1 << 30, "peak_rss": 4 << 30, "errors": 0}, nil},
		{"two fail, one missing", map[string]float64{"throughput": 95.2, "latency_p95": 0.312, "peak_rss": 4.5 * (1 << 30), "errors": 0},
			[]string{
				"threshold throughput>100 failed: 95.2 img/s",
				"threshold latency_p95<250ms failed: 312ms",
				"threshold gpu_mem<20GiB failed: gpu_mem was not measured",
				"threshold peak_rss<=4GiB failed: 4.50GiB",
			}},
		{"boundary is strict for <", map[string]float64{"throughput": 100, "latency_p95": 0.25, "gpu_mem": 0, "peak_rss": 0, "errors": 3},
			[]string{"threshold throughput>100 failed: 100 img/s", "threshold latency_p95<250ms failed: 250ms", "threshold errors==0 failed: 3"}},
	}
	for _, tt := range tests {
		var got []string
		for _, v := range set.Evaluate(tt.metrics) {
			got = append(got, v.String())
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
	if set.String() != "throughput>100,latency_p95<250ms,gpu_mem<20GiB,peak_rss<=4GiB,errors==0" {
		t.Errorf("String() = %q", set.String())
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	// k6's documented values; scripts depend on them.
	if ExitThresholdFailed != 99 || ExitInvalidConfig != 104 {
		t.Errorf("exit codes %d, %d", ExitThresholdFailed, ExitInvalidConfig)
	}
}

func ExampleConditionSet_Evaluate() {
	set, err := ParseConstraints("latency_p95<200ms,peak_rss<4GiB")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range set.Evaluate(map[string]float64{"latency_p95": 0.312, "peak_rss": 3 << 30}) {
		fmt.Println(v)
	}
	// Output:
	// constraint latency_p95<200ms failed: 312ms
}
