package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"workbench/model"
)

// CeilingOptions configure an inference-only measurement.
type CeilingOptions struct {
	Model   *model.Model
	Session model.SessionOptions
	Batch   int
	// Sessions run concurrently, one goroutine each, as the run's actors do.
	Sessions int
	// Warmup batches per session are excluded; Iters batches per session
	// are measured, each as one sample.
	Warmup, Iters int
}

// CeilingResult is the inference-only throughput: preprocessed tensors
// already in memory, nothing but forward passes.
type CeilingResult struct {
	Batch    int       `json:"batch"`
	Sessions int       `json:"sessions"`
	Samples  []float64 `json:"samples"` // images/s per measured round
	Summary  Summary   `json:"summary"`
}

// Ceiling measures the throughput a pipeline could reach if preprocessing
// were free: the same model, session options and concurrency, fed tensors
// from memory. Each sample is one round in which every session runs one
// batch; its throughput is images over the round's wall time.
func Ceiling(ctx context.Context, o CeilingOptions) (CeilingResult, error) {
	o.Sessions = max(o.Sessions, 1)
	if o.Iters <= 0 {
		o.Iters = 10
	}
	elems := o.Model.ImageElems()
	input := make([]float32, o.Batch*elems)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range input {
		input[i] = float32(r.NormFloat64())
	}
	sessions := make([]*model.Session, o.Sessions)
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.Close()
			}
		}
	}()
	for i := range sessions {
		s, err := model.NewSession(o.Model, o.Session)
		if err != nil {
			return CeilingResult{}, err
		}
		sessions[i] = s
	}
	logits := make([][]float32, o.Sessions)
	for i := range logits {
		logits[i] = make([]float32, o.Batch*o.Model.NumClasses)
	}
	round := func() (time.Duration, error) {
		var wg sync.WaitGroup
		errs := make([]error, o.Sessions)
		t0 := time.Now()
		for i, s := range sessions {
			wg.Go(func() { errs[i] = s.Run(input, o.Batch, logits[i]) })
		}
		wg.Wait()
		d := time.Since(t0)
		for _, err := range errs {
			if err != nil {
				return 0, err
			}
		}
		return d, nil
	}
	for range o.Warmup {
		if _, err := round(); err != nil {
			return CeilingResult{}, err
		}
	}
	res := CeilingResult{Batch: o.Batch, Sessions: o.Sessions}
	for range o.Iters {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		d, err := round()
		if err != nil {
			return res, err
		}
		res.Samples = append(res.Samples, float64(o.Batch*o.Sessions)/d.Seconds())
	}
	res.Summary = Summarize(res.Samples, DefaultConfidence)
	return res, nil
}

// String renders the result as "412 img/s ± 3% (n=10, batch 64, 1 session)".
func (c CeilingResult) String() string {
	return fmt.Sprintf("%s (n=%d, batch %d, %d session(s))", c.Summary.Format("img/s"), c.Summary.N, c.Batch, c.Sessions)
}
