package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Bottleneck names the operator that limits throughput and the evidence.
type Bottleneck struct {
	// Op is the bottleneck operator's name, "" when none stands out.
	Op string
	// Utilization is its busy fraction of available task-slot time.
	Utilization float64
	// Evidence says what the other operators did meanwhile.
	Evidence string
}

func (b Bottleneck) String() string {
	if b.Op == "" {
		return "no single bottleneck: " + b.Evidence
	}
	return fmt.Sprintf("%s (busy %.0f%%; %s)", b.Op, b.Utilization*100, b.Evidence)
}

// bottleneckBusy is how busy an operator must be to be called the
// bottleneck: close to 100%, with slack for scheduling gaps.
const bottleneckBusy = 0.80

// FindBottleneck applies the rule: the bottleneck is the busiest operator,
// when it is busy close to 100% of its capacity while the operators before it
// are backpressured or those after it starve. The writer and reader are
// considered like any other operator.
func FindBottleneck(ops []OpSnapshot) Bottleneck {
	best := -1
	for i, o := range ops {
		if best < 0 || o.Utilization > ops[best].Utilization {
			best = i
		}
	}
	if best < 0 {
		return Bottleneck{Evidence: "no operators ran"}
	}
	b := ops[best]
	if b.Utilization < bottleneckBusy {
		return Bottleneck{Evidence: fmt.Sprintf("the busiest operator, %s, was busy %.0f%% of its capacity; "+
			"raise concurrency or batch size until one operator saturates", b.Name, b.Utilization*100)}
	}
	var ev []string
	for i, o := range ops {
		if i == best {
			continue
		}
		wall := o.Metrics.Wall
		if wall <= 0 {
			continue
		}
		if i < best && o.Metrics.BlockedTime > 0 {
			ev = append(ev, fmt.Sprintf("%s backpressured %.0f%%", o.Name, pct(o.Metrics.BlockedTime, wall)))
		}
		if i > best && o.Metrics.StarvedTime > 0 {
			ev = append(ev, fmt.Sprintf("%s starved %.0f%%", o.Name, pct(o.Metrics.StarvedTime, wall)))
		}
	}
	if len(ev) == 0 {
		ev = append(ev, "the other operators kept up")
	}
	return Bottleneck{Op: b.Name, Utilization: b.Utilization, Evidence: strings.Join(ev, ", ")}
}

func pct(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// FormatStats renders per-operator statistics in the shape of Ray's
// Dataset.stats(): one section per operator, then the bottleneck.
func FormatStats(ops []OpSnapshot) string {
	var sb strings.Builder
	for i, o := range ops {
		m := o.Metrics
		fmt.Fprintf(&sb, "Operator %d %s: %d tasks executed, %d blocks produced in %s\n",
			i+1, o.Name, m.TasksFinished, m.BlocksOut, round(m.Wall))
		mean, p50, p95 := m.TaskDurations()
		fmt.Fprintf(&sb, "* Task duration: %s mean, %s p50, %s p95\n", round(mean), round(p50), round(p95))
		fmt.Fprintf(&sb, "* Busy: %s (%.0f%% of capacity); CPU time: %s\n", round(m.BusyTime), o.Utilization*100, round(m.CPUTime))
		fmt.Fprintf(&sb, "* Starved: %s; backpressured: %s", round(m.StarvedTime), round(m.BlockedTime))
		if m.BackpressuredBy != "" {
			fmt.Fprintf(&sb, " (by %s)", m.BackpressuredBy)
		}
		fmt.Fprintf(&sb, "; pending resources: %s\n", round(m.PendingTime))
		fmt.Fprintf(&sb, "* Rows: %d in, %d out (%d with errors); bytes: %s in, %s out\n",
			m.RowsIn, m.RowsOut, m.ErrorRows, FormatBytes(m.BytesIn), FormatBytes(m.BytesOut))
		if m.ConstructorCalls > 0 || m.ActorsAlive > 0 {
			fmt.Fprintf(&sb, "* Constructor calls (model loads): %d, %s total\n", m.ConstructorCalls, round(m.ConstructorTime))
		}
		fmt.Fprintf(&sb, "* Peak queued: %s; rows copied to batch: %d\n", FormatBytes(m.PeakQueuedBytes), m.RowsCopied)
		for _, s := range m.ScalingEvents {
			fmt.Fprintf(&sb, "* Scaled %+d to %d actors at %s: %s\n", s.Delta, s.Actors, round(s.At), s.Reason)
		}
		writeDetections(&sb, m)
		if m.Wall > 0 {
			fmt.Fprintf(&sb, "* Throughput: %.1f rows/s\n", float64(m.RowsOut)/m.Wall.Seconds())
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "Bottleneck: %s\n", FindBottleneck(ops))
	return sb.String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// statsDetections is how many detections an operator's stats list; the
// counts cover the rest.
const statsDetections = 5

// writeDetections adds an operator's stragglers and stalls to its stats:
// the counts, the first few, and the worst straggler when not among them.
func writeDetections(sb *strings.Builder, m OpMetrics) {
	if m.Stragglers+m.Stalls == 0 {
		return
	}
	fmt.Fprintf(sb, "* Stragglers: %d; stalls: %d\n", m.Stragglers, m.Stalls)
	shown := m.Detections[:min(len(m.Detections), statsDetections)]
	for _, d := range shown {
		fmt.Fprintf(sb, "*   %s\n", d)
	}
	if more := len(m.Detections) - len(shown); more > 0 {
		fmt.Fprintf(sb, "*   … %d more\n", more)
	}
	if w := m.WorstStraggler; w != nil && !slices.ContainsFunc(shown, w.sameIssue) {
		fmt.Fprintf(sb, "*   worst %s\n", w)
	}
}
