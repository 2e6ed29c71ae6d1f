package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// This file is batch_size: auto, after Ray Data's batch_size="auto": probe
// the inference ceiling at a few batch sizes and take the knee.

// AutoBatchSizes are the batch sizes ProbeBatch tries by default.
var AutoBatchSizes = []int{8, 16, 32, 64, 128}

// KneeTolerance is how far below the best throughput the knee may lie: the
// smallest batch within 5% of the best is taken, since a larger batch buys
// at most noise and costs latency and memory.
const KneeTolerance = 0.05

// BatchPoint is one probed batch size.
type BatchPoint struct {
	Batch int `json:"batch"`
	// Throughput is the median of the measured rounds (images/s); Spread
	// the half-width of its confidence interval in percent, 0 when the
	// rounds were too few for a 95% interval (fewer than 6: see Rounds).
	Throughput float64 `json:"throughput"`
	Spread     float64 `json:"spread_pct"`
	// Latency is the median time of one round (one batch per session).
	Latency float64 `json:"latency_s"`
	// Rounds is how many rounds were measured, Stable whether the last 3
	// lay within 10% (perf_analyzer's rule) when the probe stopped.
	Rounds int  `json:"rounds"`
	Stable bool `json:"stable"`
	// Failed says why the size could not be measured (out of memory).
	Failed string `json:"failed,omitempty"`
}

// BatchProbe is a batch_size: auto decision: the points probed and the
// batch size picked.
type BatchProbe struct {
	Points []BatchPoint `json:"points"`
	Picked int          `json:"picked"`
	// MaxLatency is the latency constraint the pick met, 0 for none.
	MaxLatency float64 `json:"max_latency_s,omitempty"`
}

// String renders the probe in one line, e.g.
// "auto → 16: 8 95.1 img/s, 16 101 img/s*, 32 99.0 img/s".
func (p BatchProbe) String() string {
	var parts []string
	for _, pt := range p.Points {
		s := fmt.Sprintf("%d %s", pt.Batch, FormatValue(pt.Throughput, "img/s"))
		if pt.Failed != "" {
			s = fmt.Sprintf("%d failed", pt.Batch)
		}
		if pt.Batch == p.Picked {
			s += "*"
		}
		parts = append(parts, s)
	}
	return fmt.Sprintf("auto → %d: %s", p.Picked, strings.Join(parts, ", "))
}

// Knee picks the smallest batch size whose throughput is within
// KneeTolerance of the best and whose round latency is at most maxLatency
// seconds (0: no limit). Failed points are skipped. It returns 0 when no
// point qualifies.
func Knee(points []BatchPoint, maxLatency float64) int {
	best := 0.0
	ok := func(p BatchPoint) bool {
		return p.Failed == "" && p.Throughput > 0 && (maxLatency <= 0 || p.Latency <= maxLatency)
	}
	for _, p := range points {
		if ok(p) {
			best = max(best, p.Throughput)
		}
	}
	pick := 0
	for _, p := range points {
		if ok(p) && p.Throughput >= (1-KneeTolerance)*best && (pick == 0 || p.Batch < pick) {
			pick = p.Batch
		}
	}
	return pick
}

// falling reports whether the last two points both lie more than
// KneeTolerance below the best so far: past the knee, larger batches only
// cost probe time.
func falling(pts []BatchPoint) bool {
	if len(pts) < 3 {
		return false
	}
	best := 0.0
	for _, p := range pts {
		best = max(best, p.Throughput)
	}
	lim := (1 - KneeTolerance) * best
	return pts[len(pts)-1].Throughput < lim && pts[len(pts)-2].Throughput < lim
}

// ProbeBatch measures the inference ceiling (Ceiling, o's model, session
// and sessions) at each size in sizes with short windows: rounds of one
// batch per session, measured until the last StabilityWindows lie within
// StabilityThreshold (perf_analyzer's rule) or maxRounds is reached. Then
// it picks the Knee under maxLatency. A size that fails (out of memory)
// is recorded and larger ones are not tried, nor are any once two sizes in
// a row fall more than KneeTolerance below the best.
func ProbeBatch(ctx context.Context, o CeilingOptions, sizes []int, maxLatency float64, maxRounds int) (BatchProbe, error) {
	if len(sizes) == 0 {
		sizes = AutoBatchSizes
	}
	maxRounds = max(maxRounds, StabilityWindows)
	probe := BatchProbe{MaxLatency: maxLatency}
	for _, b := range sizes {
		o.Batch, o.Warmup, o.Iters = b, 1, StabilityWindows
		var samples []float64
		pt := BatchPoint{Batch: b}
		for len(samples) < maxRounds {
			r, err := Ceiling(ctx, o)
			if ctx.Err() != nil {
				return probe, ctx.Err()
			}
			if err != nil {
				pt.Failed = err.Error()
				break
			}
			samples = append(samples, r.Samples...)
			if pt.Stable = CheckStability(samples, StabilityWindows, StabilityThreshold).Stable; pt.Stable {
				break
			}
		}
		if pt.Failed == "" {
			s := Summarize(samples, DefaultConfidence)
			pt.Throughput, pt.Rounds = s.Center, len(samples)
			if sp := s.Spread(); !math.IsInf(sp, 0) && !math.IsNaN(sp) {
				pt.Spread = sp // JSON has no infinity
			}
			if s.Center > 0 {
				pt.Latency = float64(b*max(o.Sessions, 1)) / s.Center
			}
		}
		probe.Points = append(probe.Points, pt)
		if pt.Failed != "" || falling(probe.Points) {
			break
		}
	}
	probe.Picked = Knee(probe.Points, maxLatency)
	if probe.Picked == 0 {
		return probe, fmt.Errorf("batch_size auto: no batch size could be measured (%s)", probe)
	}
	if math.IsNaN(probe.Points[0].Throughput) {
		return probe, fmt.Errorf("batch_size auto: the probe measured nothing")
	}
	return probe, nil
}
