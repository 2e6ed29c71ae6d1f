package model

import "math"

// Classify reads one row of logits. pred is the arg-max class, conf its
// softmax probability, computed stably (exp(l−max) summed in float64, so
// large logits cannot overflow). A row that is already a probability
// distribution (IsProbabilities: a model ending in Softmax) is not
// softmaxed again: conf is then the row's own largest value. top receives the indices of the len(top)
// highest logits, best first, ties going to the lower index; when the row has
// fewer classes than len(top), only the first len(logits) entries are
// written and the returned slice is top cut to that length. NaN logits rank
// below every number; conf is NaN when the largest logit is not finite.
// Classify does not allocate.
//
// An empty row returns pred −1, conf NaN and an empty slice.
func Classify(logits []float32, top []int32) (pred int32, conf float32, topk []int32) {
	if len(logits) == 0 {
		return -1, float32(math.NaN()), top[:0]
	}
	m := min(len(top), len(logits))
	topk = top[:m]
	filled := 0
	best := 0
	for i, v := range logits {
		if greater(v, logits[best]) {
			best = i
		}
		if m == 0 || (filled == m && !greater(v, logits[topk[m-1]])) {
			continue
		}
		// Insertion into the short sorted list: O(K·m), and m is 5.
		j := filled
		if filled < m {
			filled++
		} else {
			j = m - 1
		}
		for j > 0 && greater(v, logits[topk[j-1]]) {
			topk[j] = topk[j-1]
			j--
		}
		topk[j] = int32(i)
	}
	maxv := float64(logits[best])
	if math.IsNaN(maxv) || math.IsInf(maxv, 0) {
		return int32(best), float32(math.NaN()), topk
	}
	if IsProbabilities(logits) {
		return int32(best), logits[best], topk
	}
	var sum float64
	for _, v := range logits {
		if v == v { // NaN contributes nothing
			sum += math.Exp(float64(v) - maxv)
		}
	}
	return int32(best), float32(1 / sum), topk
}

// greater orders logits with NaN below every number and strict ">"
// otherwise, so earlier indices win ties.
func greater(a, b float32) bool {
	if b != b {
		return a == a
	}
	return a > b
}

// ProbabilityTolerance is how far from 1 a row's sum may be for
// IsProbabilities: float16 outputs of a 1,000-way softmax sum to 1 within
// about 5e-4, float32 within 1e-6.
const ProbabilityTolerance = 2e-3

// IsProbabilities reports whether row is already a probability
// distribution: every value in [0, 1] and the sum within
// ProbabilityTolerance of 1. Logits pass this only by a coincidence real
// models do not produce (K values in [0,1] summing to 1), and a row of one
// value is never taken for one, since its softmax is 1 either way.
func IsProbabilities(row []float32) bool {
	if len(row) < 2 {
		return false
	}
	var sum float64
	for _, v := range row {
		if !(v >= 0 && v <= 1) {
			return false
		}
		sum += float64(v)
	}
	return math.Abs(sum-1) <= ProbabilityTolerance
}
