package ray

import (
	"fmt"
	"strings"
)

// Bottleneck is the watch's verdict on which operator holds a dataset back.
type Bottleneck struct {
	// Op is the operator's label, "" when none stands out or the metrics
	// cannot tell.
	Op string
	// Known is false when the cluster does not report what the rule needs
	// (queued_blocks), so no verdict is possible.
	Known bool
	// Evidence says why, or what is missing.
	Evidence string
}

// String renders the verdict for a status line.
func (b Bottleneck) String() string {
	switch {
	case !b.Known:
		return "unknown: " + b.Evidence
	case b.Op == "":
		return "no single bottleneck: " + b.Evidence
	}
	return b.Op + " (" + b.Evidence + ")"
}

// FindBottleneck applies the local runs' rule (pipeline.FindBottleneck) in
// the form the dashboard's numbers allow. Locally the bottleneck is the
// busiest operator while those before it are backpressured and those after
// it starve. The dashboard serves no busy time, but it serves each
// operator's queued input blocks, which is the same picture seen from the
// queues: work piles up in front of the operator that cannot keep up, and
// the operators after it wait with empty inputs. So the bottleneck is the
// last operator, in pipeline order, with input waiting while every operator
// after it has none. Operators that finished are not candidates.
func FindBottleneck(ops []OperatorInfo) Bottleneck {
	reported := false
	for _, o := range ops {
		reported = reported || o.QueuedBlocks != nil
	}
	if !reported {
		return Bottleneck{Evidence: "this Ray does not report operators' queued input blocks, which the rule needs"}
	}
	for i := len(ops) - 1; i >= 0; i-- {
		o := ops[i]
		if o.QueuedBlocks == nil || *o.QueuedBlocks == 0 || o.State == DataFinished {
			continue
		}
		ev := []string{fmt.Sprintf("%d blocks wait at its input", *o.QueuedBlocks)}
		var starved []string
		for _, after := range ops[i+1:] {
			if after.State != DataFinished {
				starved = append(starved, after.Label())
			}
		}
		if len(starved) > 0 {
			ev = append(ev, strings.Join(starved, ", ")+" after it wait with empty inputs")
		}
		if o.GPUCores.HasValue && o.GPUCores.Value > 0 {
			ev = append(ev, fmt.Sprintf("%.3g GPUs in use", o.GPUCores.Value))
		}
		return Bottleneck{Op: o.Label(), Known: true, Evidence: strings.Join(ev, "; ")}
	}
	return Bottleneck{Known: true, Evidence: "no operator has input waiting"}
}
