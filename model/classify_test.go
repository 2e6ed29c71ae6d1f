package model

import (
	"math"
	"slices"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	nan := float32(math.NaN())
	tests := []struct {
		name     string
		logits   []float32
		topLen   int
		wantPred int32
		wantConf float64 // hand-computed softmax of the arg-max
		wantTop  []int32
	}{
		{
			// [1,2,3]: 1/(1+e^-1+e^-2) = 0.6652409557748219.
			name: "three classes, fewer than five", logits: []float32{1, 2, 3}, topLen: 5,
			wantPred: 2, wantConf: 0.6652409557748219, wantTop: []int32{2, 1, 0},
		},
		{
			// Ten equal logits: 1/10 each; ties keep index order.
			name: "all equal", logits: make([]float32, 10), topLen: 5,
			wantPred: 0, wantConf: 0.1, wantTop: []int32{0, 1, 2, 3, 4},
		},
		{
			// 1000 and 999 would overflow float32 exp: 1/(1+e^-1) = 0.7310585786300049.
			name: "large logits stay stable", logits: []float32{999, 1000, -1e30}, topLen: 2,
			wantPred: 1, wantConf: 0.7310585786300049, wantTop: []int32{1, 0},
		},
		{
			name:   "top five of eight",
			logits: []float32{0.5, -1, 4, 4, 3, 0, 2, 3.5}, topLen: 5,
			// max 4 (twice): 1/Σe^(l-4) with Σ = e^-3.5+e^-5+1+1+e^-1+e^-4+e^-2+e^-0.5.
			wantPred: 2,
			wantConf: 1 / (math.Exp(-3.5) + math.Exp(-5) + 2 + math.Exp(-1) + math.Exp(-4) + math.Exp(-2) + math.Exp(-0.5)),
			wantTop:  []int32{2, 3, 7, 4, 6},
		},
		{
			name: "NaN ranks last", logits: []float32{nan, 1, nan, 0}, topLen: 3,
			wantPred: 1, wantConf: 1 / (1 + math.Exp(-1)), wantTop: []int32{1, 3, 0},
		},
		{
			name: "top of length zero still classifies", logits: []float32{3, 1}, topLen: 0,
			wantPred: 0, wantConf: 1 / (1 + math.Exp(-2)), wantTop: []int32{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			top := make([]int32, tt.topLen)
			pred, conf, got := Classify(tt.logits, top)
			if pred != tt.wantPred {
				t.Errorf("pred = %d, want %d", pred, tt.wantPred)
			}
			if math.Abs(float64(conf)-tt.wantConf) > 1e-6 {
				t.Errorf("conf = %.9f, want %.9f", conf, tt.wantConf)
			}
			if !slices.Equal(got, tt.wantTop) {
				t.Errorf("top = %v, want %v", got, tt.wantTop)
			}
		})
	}
}

func TestClassifyDegenerate(t *testing.T) {
	t.Parallel()
	inf := float32(math.Inf(1))
	for _, logits := range [][]float32{nil, {float32(math.NaN())}, {inf, 0}} {
		_, conf, _ := Classify(logits, make([]int32, 5))
		if !math.IsNaN(float64(conf)) {
			t.Errorf("Classify(%v) conf = %v, want NaN", logits, conf)
		}
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	top := make([]int32, 5)
	if n := testing.AllocsPerRun(100, func() { Classify(logits, top) }); n != 0 {
		t.Errorf("Classify allocates %.0f times per row", n)
	}
}

func BenchmarkClassify1000(b *testing.B) {
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	top := make([]int32, 5)
	for b.Loop() {
		Classify(logits, top)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
