package bench

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func mustObjective(t testing.TB, name string) Objective {
	t.Helper()
	o, err := ParseObjective(name)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestObjectiveCompare(t *testing.T) {
	t.Parallel()
	tput, lat := mustObjective(t, "throughput"), mustObjective(t, "latency_p95")
	fast := map[string]float64{"throughput": 400, "latency_p95": 0.3}
	slow := map[string]float64{"throughput": 300, "latency_p95": 0.2}
	none := map[string]float64{}
	nan := map[string]float64{"throughput": math.NaN(), "latency_p95": math.NaN()}
	tests := []struct {
		name string
		o    Objective
		a, b map[string]float64
		want int
	}{
		{"throughput: higher wins", tput, fast, slow, 1},
		{"throughput: lower loses", tput, slow, fast, -1},
		{"latency: lower wins", lat, slow, fast, 1},
		{"equal", lat, fast, fast, 0},
		{"missing loses", tput, none, slow, -1},
		{"NaN loses", lat, slow, nan, 1},
		{"both missing tie", tput, none, nan, 0},
	}
	for _, tt := range tests {
		if got := tt.o.Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Compare = %d, want %d", tt.name, got, tt.want)
		}
		if got := tt.o.Better(tt.a, tt.b); got != (tt.want > 0) {
			t.Errorf("%s: Better = %v", tt.name, got)
		}
	}
	if g := tput.Gain(100, 105); math.Abs(g-0.05) > 1e-12 {
		t.Errorf("throughput gain 100→105 = %v", g)
	}
	if g := lat.Gain(0.200, 0.150); math.Abs(g-0.25) > 1e-12 {
		t.Errorf("latency gain 200ms→150ms = %v", g)
	}
	if _, err := ParseObjective("speed"); err == nil || !strings.Contains(err.Error(), "use throughput, latency_p95 or images_per_joule") {
		t.Errorf("ParseObjective(speed) err = %v", err)
	}
	if o := mustObjective(t, "images_per_joule"); !o.Metric.HigherIsBetter || o.String() != "images_per_joule" {
		t.Errorf("images_per_joule: %+v", o)
	}
}

func cell(batch string, tput, p95 float64, status string) Cell {
	return Cell{
		Params:  map[string]string{"batch": batch},
		Metrics: map[string]float64{"throughput": tput, "latency_p95": p95},
		Status:  status,
	}
}

func TestTopN(t *testing.T) {
	t.Parallel()
	cells := []Cell{
		cell("1", 100, 0.010, "ok"),
		cell("8", 400, 0.080, "ok"),
		cell("16", 450, 0.150, ""),
		cell("32", 470, 0.300, "ok"), // fastest but violates the constraint
		cell("64", 900, 0.100, "oom"),
		cell("4", 400, 0.040, "ok"), // ties batch=8 on throughput; comes after it
	}
	cons, err := ParseConstraints("latency_p95<200ms")
	if err != nil {
		t.Fatal(err)
	}
	tput, lat := mustObjective(t, "throughput"), mustObjective(t, "latency_p95")
	none := ConditionSet{}
	tests := []struct {
		name string
		obj  Objective
		cons ConditionSet
		n    int
		want string // batch:satisfies
	}{
		{"throughput under constraint", tput, cons, 3, "16:true 8:true 4:true"},
		{"all passing plus fill", tput, cons, 10, "16:true 8:true 4:true 1:true 32:false"},
		{"no constraints", tput, none, 2, "32:true 16:true"},
		{"latency objective", lat, cons, 2, "1:true 4:true"},
		{"n=0 means all", lat, none, 0, "1:true 4:true 8:true 16:true 32:true"},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range TopN(cells, tt.obj, tt.cons, tt.n) {
			got = append(got, fmt.Sprintf("%s:%v", c.Params["batch"], c.SatisfiesConstraints))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, strings.Join(got, " "), tt.want)
		}
	}
	// Nothing satisfies: the best failing cells are still shown, with why.
	strict, _ := ParseConstraints("latency_p95<1ms")
	top := TopN(cells, tput, strict, 1)
	if len(top) != 1 || top[0].Params["batch"] != "32" || top[0].SatisfiesConstraints ||
		len(top[0].Violations) != 1 || top[0].Violations[0].String() != "constraint latency_p95<1ms failed: 300ms" {
		t.Errorf("strict: %+v", top)
	}
	if cells[3].Violations != nil || cells[3].SatisfiesConstraints {
		t.Error("TopN modified its input")
	}
}

func TestEarlyExit(t *testing.T) {
	t.Parallel()
	tput, lat := mustObjective(t, "throughput"), mustObjective(t, "latency_p95")
	nan := math.NaN()
	tests := []struct {
		name    string
		obj     Objective
		history []float64
		stop    bool
		gain    float64 // checked when judged
		judged  bool
	}{
		{"too few points", tput, []float64{100, 100, 100}, false, 0, false},
		{"flat over 4", tput, []float64{100, 101, 102, 103}, true, 0.03, true},
		{"5.6% keeps going", tput, []float64{100, 180, 185, 188, 190}, false, 10.0 / 180, true},
		{"then 2.7% stops", tput, []float64{100, 180, 185, 188, 190, 189}, true, 5.0 / 185, true},
		{"exactly 5% goes on (stop only below)", tput, []float64{100, 90, 105, 80}, false, 0.05, true},
		{"best is first: decreasing", tput, []float64{200, 150, 120, 100}, true, 0, true},
		{"latency: lower is better", lat, []float64{0.100, 0.090, 0.080, 0.070}, false, 0.3, true},
		{"latency saturated", lat, []float64{0.100, 0.099, 0.098, 0.097}, true, 0.03, true},
		{"failed first point: keep going", tput, []float64{nan, 100, 110, 120}, false, math.Inf(1), true},
		{"failed points ignored for best", tput, []float64{100, nan, 120, nan}, false, 0.2, true},
		{"all failed: stop", tput, []float64{nan, nan, nan, nan}, true, 0, true},
	}
	for _, tt := range tests {
		g, judged := DefaultEarlyExit.Gain(tt.obj, tt.history)
		if judged != tt.judged || (judged && math.Abs(g-tt.gain) > 1e-9 && !(math.IsInf(g, 1) && math.IsInf(tt.gain, 1))) {
			t.Errorf("%s: Gain = %v, %v; want %v, %v", tt.name, g, judged, tt.gain, tt.judged)
		}
		if got := DefaultEarlyExit.ShouldStop(tt.obj, tt.history); got != tt.stop {
			t.Errorf("%s: ShouldStop = %v, want %v", tt.name, got, tt.stop)
		}
	}
}
