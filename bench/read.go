package bench

import (
	"fmt"
	"io"
)

// ReadStats is what the read operator did against storage: requests
// (retries included), retries, requests that failed for good, object bytes
// received and GET latency percentiles. Nil for a local folder, whose reads
// are plain file reads.
type ReadStats struct {
	Requests int64   `json:"requests"`
	Retries  int64   `json:"retries"`
	Failures int64   `json:"failures"`
	Bytes    int64   `json:"bytes"`
	Gets     int64   `json:"gets"`
	GetP50   float64 `json:"get_p50_seconds"`
	GetP95   float64 `json:"get_p95_seconds"`
	GetP99   float64 `json:"get_p99_seconds"`
	// GetConcurrency is the GETs in flight per read task the run used.
	GetConcurrency int `json:"get_concurrency"`
}

// Accuracy is top-1 and top-5 accuracy against the source's labels, over
// the rows that had both a label and a prediction. Meaningless is set, with
// the reason, when the model's weights are untrained (the zoo).
type Accuracy struct {
	Labelled    int64   `json:"labelled"`
	Top1        float64 `json:"top1"`
	Top5        float64 `json:"top5"`
	Meaningless string  `json:"meaningless,omitempty"`
}

// writeReadSummary prints the read stage's storage stats and the accuracy,
// when the run has them.
func writeReadSummary(w io.Writer, r *Record) {
	for _, o := range r.Ops {
		if rd := o.Read; rd != nil {
			fmt.Fprintf(w, "  read       %s in %d GETs (%d requests, %d retries, %d failed), GET p50 %s, p95 %s, p99 %s; %d GETs in flight per read task\n",
				FormatValue(float64(rd.Bytes), UnitBytes), rd.Gets, rd.Requests, rd.Retries, rd.Failures,
				FormatValue(rd.GetP50, UnitSeconds), FormatValue(rd.GetP95, UnitSeconds), FormatValue(rd.GetP99, UnitSeconds), rd.GetConcurrency)
		}
	}
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(w, "  accuracy   top-1 %.1f%%, top-5 %.1f%% over %d labelled rows", 100*a.Top1, 100*a.Top5, a.Labelled)
		if a.Meaningless != "" {
			fmt.Fprintf(w, ": %s", a.Meaningless)
		}
		fmt.Fprintln(w)
	}
}

// readKnob says which knob moves a read-bound run. Reads from an object
// store wait on GET latency, not CPU: what bounds them is the GETs in
// flight, read tasks (blocks) × get_concurrency, unless the store is
// already throttling, when more requests only add retries.
func readKnob(r *Record, rd opView) string {
	st := rd.Read
	if st == nil {
		return "raise the read parallelism (--blocks) or move the data to faster storage"
	}
	if st.Requests > 0 && float64(st.Retries) > 0.05*float64(st.Requests) {
		return fmt.Sprintf("the store is throttling (%d retries in %d requests): lower --get-concurrency or spread keys over more prefixes", st.Retries, st.Requests)
	}
	if st.GetConcurrency < 4 {
		return fmt.Sprintf("raise --get-concurrency (GETs in flight per read task; now %d): a read task waits out each GET's latency before the next", st.GetConcurrency)
	}
	if r.Config.Blocks < 2*max(r.Fingerprint.Cores, 1) {
		return fmt.Sprintf("raise --blocks (read tasks; now %d): with few read tasks the GETs run nearly one after another", r.Config.Blocks)
	}
	return fmt.Sprintf("raise --get-concurrency (GETs in flight per read task; now %d) so more requests overlap their latency", st.GetConcurrency)
}
