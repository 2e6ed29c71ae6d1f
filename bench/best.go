package bench

import (
	"math"
	"sort"
)

// Best is the best configuration of a results file: its label, scenario
// and sweep parameters, and its throughput over all its repeats.
type Best struct {
	Scenario, Label string
	Params          map[string]string
	Throughput      Summary
}

// BestCell picks the best configuration of recs, the one selection rule
// that export ray --from, tune and the TUI share: the cell the sweep ranked
// 1, or, in records without ranks, the label with the highest median
// throughput. Failed and skipped runs are left out; ok is false when none
// completed.
func BestCell(recs []*Record) (Best, bool) {
	byLabel := map[string][]*Record{}
	var labels []string
	for _, r := range recs {
		if r.Status != "" && r.Status != StatusOK {
			continue
		}
		if _, ok := byLabel[r.Label]; !ok {
			labels = append(labels, r.Label)
		}
		byLabel[r.Label] = append(byLabel[r.Label], r)
	}
	if len(labels) == 0 {
		return Best{}, false
	}
	tput := func(label string) Summary {
		var xs []float64
		for _, r := range byLabel[label] {
			xs = append(xs, r.Throughput)
		}
		return Summarize(xs, DefaultConfidence)
	}
	rank := func(label string) int {
		for _, r := range byLabel[label] {
			if r.Rank > 0 {
				return r.Rank
			}
		}
		return math.MaxInt
	}
	sort.SliceStable(labels, func(i, j int) bool {
		ri, rj := rank(labels[i]), rank(labels[j])
		if ri != rj {
			return ri < rj
		}
		return tput(labels[i]).Center > tput(labels[j]).Center
	})
	top := labels[0]
	first := byLabel[top][0]
	return Best{Scenario: first.Scenario, Label: top, Params: first.Params, Throughput: tput(top)}, true
}
