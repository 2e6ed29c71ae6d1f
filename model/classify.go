package model

import "math"

// Classify reads one row of logits. pred is the arg-max class, conf its
// softmax probability, computed stably (exp(l−max) summed in float64, so
// large logits cannot overflow). top receives the indices of the len(top)
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
