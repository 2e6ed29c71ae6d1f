package bench

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
