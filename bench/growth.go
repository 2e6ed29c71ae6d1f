package bench

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"

	"workbench/pipeline"
)

// MetricRSSGrowth names rss_growth_per_1k_images: how many bytes of resident
// memory a run gains per 1,000 rows completed, once it is past its start.
// A streaming run holds it near 0; a run that keeps something per row (a
// take_all, a listing held whole) shows that something's size.
const MetricRSSGrowth = "rss_growth_per_1k_images"

// MetricHeldPer1k names held_bytes_per_1k_images: the most bytes of rows
// the pipeline's stages kept in memory between batches (pipeline.Holder,
// OpRecord.PeakHeldBytes), per 1,000 images. A streaming write keeps none;
// a take_all keeps every result until the end, so it reads the size of
// 1,000 results at any dataset size. It is counted, not sampled: where
// rss_growth_per_1k_images cannot see a few hundred kilobytes in a small
// run's noise, this can.
const MetricHeldPer1k = "held_bytes_per_1k_images"

// HeldPer1k returns held_bytes_per_1k_images for r, and false when r has
// no operators or no rows.
func HeldPer1k(r *Record) (float64, bool) {
	if len(r.Ops) == 0 || r.Images <= 0 {
		return 0, false
	}
	var held int64
	for _, o := range r.Ops {
		held += o.PeakHeldBytes
	}
	return float64(held) / float64(r.Images) * 1000, true
}

// GrowthPoint is one observation of resident memory against progress.
type GrowthPoint struct {
	Rows int64 // rows completed
	RSS  int64 // resident set size, bytes
}

// maxGrowthPoints bounds a sampler's memory: when full it keeps every
// other point, so a run of any length costs the same few kilobytes and the
// points stay evenly spread over its progress.
const maxGrowthPoints = 512

// RSSSampler records the process's resident memory against rows completed.
// Drive it with every pipeline Snapshot (Observe) or directly (Add); it is
// safe for concurrent use. Its memory is bounded whatever the run's length.
type RSSSampler struct {
	mu     sync.Mutex
	points []GrowthPoint
	stride int64 // keep a point only every stride rows, doubled when full
	read   func() int64
}

// NewRSSSampler returns a sampler reading /proc/self/status VmRSS.
func NewRSSSampler() *RSSSampler { return &RSSSampler{stride: 1, read: CurrentRSS} }

// Observe samples RSS now against the snapshot's RowsDone.
func (s *RSSSampler) Observe(sn *pipeline.Snapshot) {
	if sn == nil {
		return
	}
	s.Add(sn.RowsDone, s.read())
}

// Add records one point. Points must come in non-decreasing rows.
func (s *RSSSampler) Add(rows, rss int64) {
	if rss <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.points); n > 0 && rows-s.points[n-1].Rows < s.stride {
		return
	}
	s.points = append(s.points, GrowthPoint{rows, rss})
	if len(s.points) >= maxGrowthPoints {
		kept := s.points[:0]
		for i := 0; i < len(s.points); i += 2 {
			kept = append(kept, s.points[i])
		}
		s.points = kept
		s.stride *= 2
	}
}

// Points returns a copy of the points so far.
func (s *RSSSampler) Points() []GrowthPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.points)
}

// Growth is Growth over the sampler's points.
func (s *RSSSampler) Growth() (perK, spread float64, ok bool) { return Growth(s.Points()) }

// Growth returns rss_growth_per_1k_images over the steady state of a run:
// the Theil–Sen slope (the median of every pairwise slope, which a GC
// cycle's sawtooth or one outlier cannot move the way it moves least
// squares) of RSS against rows, in bytes per 1,000 rows, and its spread,
// half the distance between the 25th and 75th percentiles of the pairwise
// slopes. The first 20% of rows are the warm-up (model load, pools filling,
// the first blocks in flight) and are left out. ok is false with fewer than
// 4 steady-state points or no progress between them.
func Growth(points []GrowthPoint) (perK, spread float64, ok bool) {
	if len(points) == 0 {
		return 0, 0, false
	}
	last := points[len(points)-1].Rows
	var steady []GrowthPoint
	for _, p := range points {
		if p.Rows >= last/5 {
			steady = append(steady, p)
		}
	}
	if len(steady) < 4 {
		return 0, 0, false
	}
	var slopes []float64
	for i := range steady {
		for j := i + 1; j < len(steady); j++ {
			if dr := steady[j].Rows - steady[i].Rows; dr > 0 {
				slopes = append(slopes, float64(steady[j].RSS-steady[i].RSS)/float64(dr)*1000)
			}
		}
	}
	if len(slopes) == 0 {
		return 0, 0, false
	}
	slices.Sort(slopes)
	q := func(p float64) float64 { return slopes[int(math.Round(p*float64(len(slopes)-1)))] }
	return q(0.5), (q(0.75) - q(0.25)) / 2, true
}

// CurrentRSS returns the process's resident set size (VmRSS) in bytes, or
// 0 where /proc is not available.
func CurrentRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, _ := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
}
