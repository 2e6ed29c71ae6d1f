package nvml

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestDefinitionsMatchSamples keeps Definitions, the Metric constants and
// the JSON field names of GPUSample and HostSample in step.
func TestDefinitionsMatchSamples(t *testing.T) {
	t.Parallel()
	if len(Definitions) != int(numMetrics) {
		t.Fatalf("%d definitions for %d metrics", len(Definitions), numMetrics)
	}
	if numMetrics > 32 {
		t.Fatalf("%d metrics do not fit MetricSet", numMetrics)
	}
	fields := map[string]map[string]bool{"gpu": jsonNames(GPUSample{}), "host": jsonNames(HostSample{})}
	for i, d := range Definitions {
		if d.Metric != Metric(i) {
			t.Errorf("Definitions[%d] is %v", i, d.Metric)
		}
		if !fields[d.Scope][d.Name] {
			t.Errorf("%s: no %s sample field with JSON name %q", d.Metric, d.Scope, d.Name)
		}
		if d.Unit == "" && !strings.HasPrefix(d.Name, "load") || d.Source == "" || d.Meaning == "" {
			t.Errorf("%s: incomplete definition %+v", d.Name, d)
		}
	}
	one := 1.0
	full := GPUSample{SMActivityPct: &one, SMOccupancyPct: &one, TensorActivityPct: &one, DRAMBWUtilPct: &one, NVJPGUtilPct: &one}
	for _, d := range Definitions {
		_, ok := full.Value(d.Metric)
		if ok != (d.Scope == "gpu") {
			t.Errorf("GPUSample.Value(%s) ok = %v for a %s metric", d.Name, ok, d.Scope)
		}
		if _, ok := (GPUSample{Missing: MetricSet(0).With(d.Metric)}).Value(d.Metric); ok {
			t.Errorf("GPUSample.Value(%s) reads a missing metric", d.Name)
		}
	}
	shown := map[Metric]int{}
	for _, d := range Table() {
		shown[d.Metric]++
	}
	for m := Metric(0); m < numMetrics; m++ {
		if shown[m] != 1 {
			t.Errorf("Table shows %s %d times, want once", m, shown[m])
		}
	}
	if got := Metric(200).String(); got != "metric(200)" {
		t.Errorf("unknown metric String = %q", got)
	}
	if _, ok := Metric(200).Def(); ok {
		t.Error("unknown metric has a definition")
	}
	if d, ok := GPUUtil.Def(); !ok || !strings.Contains(d.Meaning, "not SM occupancy") {
		t.Errorf("GPUUtil definition = %+v", d)
	}
}

func jsonNames(v any) map[string]bool {
	names := map[string]bool{}
	typ := reflect.TypeOf(v)
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}

func TestMetricSet(t *testing.T) {
	t.Parallel()
	s := MetricSet(0).With(Power).With(Load15)
	if !s.Has(Power) || !s.Has(Load15) || s.Has(GPUUtil) {
		t.Errorf("set %b", s)
	}
	if got := strings.Join(s.Names(), ","); got != "power_w,load15" {
		t.Errorf("Names = %q", got)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

func TestWriteDefinitionsGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteDefinitions(&b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "definitions.md.golden")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("WriteDefinitions differs from %s (rerun with -update if intended):\n%s", golden, b.String())
	}
}
