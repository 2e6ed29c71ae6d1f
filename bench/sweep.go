package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"workbench/model"
)

// Record statuses. A record that is not StatusOK carries its Reason.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusOOM     = "oom"     // out of memory: GPU, host, or the memory budget
	StatusSkipped = "skipped" // not run: a smaller batch failed, or early exit
)

// ErrOutOfMemory marks an error as running out of memory. Code that enforces
// a memory budget should wrap it (fmt.Errorf("...: %w", bench.ErrOutOfMemory))
// so that sweeps classify the failure as "oom" without matching text.
var ErrOutOfMemory = errors.New("out of memory")

// oomPatterns are lower-cased fragments of the messages ONNX Runtime, CUDA
// and its libraries print when an allocation fails. They are taken from real
// reports (see sweep_test.go for the full messages and their sources).
var oomPatterns = []string{
	"out of memory",             // CUDA failure 2: out of memory; Cuda Error in allocate: 2 (out of memory)
	"failed to allocate memory", // BFCArena::AllocateRawInternal Failed to allocate memory for requested buffer of size N
	"alloc_failed",              // CUBLAS_STATUS_ALLOC_FAILED, CUDNN_STATUS_ALLOC_FAILED
	"cudaerrormemoryallocation", // the CUDA runtime's enum name for error 2
	"std::bad_alloc",            // a C++ allocation failure escaping ORT on CPU
	"cannot allocate memory",    // ENOMEM from the kernel, as strerror words it
}

// ClassifyError says how a sweep cell failed: StatusOOM when err is an
// out-of-memory error (ErrOutOfMemory, model.ErrOOM or syscall.ENOMEM in its
// chain, anything model.IsOOM recognises, or a
// message ONNX Runtime or CUDA prints for a failed allocation), StatusFailed
// for any other error, and StatusOK for nil. Larger batches are skipped after
// either kind of failure; the distinction tells the reader whether the
// batch size or something else is to blame.
func ClassifyError(err error) string {
	if err == nil {
		return StatusOK
	}
	if errors.Is(err, ErrOutOfMemory) || errors.Is(err, syscall.ENOMEM) || model.IsOOM(err) {
		return StatusOOM
	}
	msg := strings.ToLower(err.Error())
	for _, p := range oomPatterns {
		if strings.Contains(msg, p) {
			return StatusOOM
		}
	}
	return StatusFailed
}

// A CellFunc runs one repeat (1-based) of one sweep cell and returns its
// record. On failure it returns the error, and the record too when it has
// one (runner.Run does); Sweep fills in what is missing.
type CellFunc func(ctx context.Context, cell map[string]string, repeat int) (*Record, error)

// A SearchMode says which cells a sweep runs.
type SearchMode string

// Search modes.
const (
	// SearchFull runs every cell, batch sizes innermost and ascending, with
	// failures skipping larger batches and the early exit when configured.
	SearchFull SearchMode = "full"
	// SearchQuick hill-climbs from a starting cell, one dimension at a
	// time, and runs only the cells on its path and their neighbours.
	SearchQuick SearchMode = "quick"
)

// ParseSearchMode parses --search: "", "full"/"brute" or "quick".
func ParseSearchMode(s string) (SearchMode, error) {
	switch s {
	case "", "full", "brute":
		return SearchFull, nil
	case "quick":
		return SearchQuick, nil
	}
	return "", fmt.Errorf("--search %s: want full or quick", s)
}

// SweepOptions configure Sweep.
type SweepOptions struct {
	Grid Grid
	// Repeat is the number of runs per cell; values below 1 mean 1.
	Repeat int
	// Objective ranks cells; the zero value means throughput.
	Objective   Objective
	Constraints ConditionSet
	Search      SearchMode
	// Start is where quick search begins; a dimension it does not name
	// starts at its first value.
	Start map[string]string
	// EarlyExit, when not nil, stops raising the batch dimension of a full
	// sweep once the objective stops improving (DefaultEarlyExit is Model
	// Analyzer's rule). The cells it leaves out are recorded as skipped.
	EarlyExit *EarlyExit
	// BatchDim names the dimension that failures cut short: after a cell
	// fails, the cells with a larger value of it and the same other
	// parameters are skipped. Default "batch".
	BatchDim string
	// Scenario is written into records that lack one.
	Scenario string
	// OnRecord, when set, sees every record as it is made (progress).
	OnRecord func(*Record)
	// Protocol, when set, measures every cell by it: runs repeat (at
	// least Repeat of them) until the cell has enough samples and a stable
	// last run, or until its run or time limit; unstable cells are not
	// ranked; cells whose intervals overlap the best's are tied with it
	// and ordered by the protocol's secondary objective; quick search
	// moves only on a gain outside the noise. Nil keeps Repeat runs per
	// cell ranked by their medians alone.
	Protocol *Protocol
	// Budget, when positive, caps the sweep's time: each cell is allotted
	// an equal share of what is left, and cells reached after the budget
	// is spent are recorded as skipped for lack of it.
	Budget time.Duration
	// Now is the clock for the budget; nil is time.Now.
	Now func() time.Time
}

// A CellResult is one cell of a sweep: its runs and their medians.
type CellResult struct {
	Params map[string]string
	Label  string
	// Status is the cell's outcome: StatusOK when every repeat completed,
	// otherwise the first failure's status (or StatusSkipped), with Reason.
	Status string
	Reason string
	// Metrics are the medians of the completed repeats' metrics.
	Metrics map[string]float64
	Records []*Record
	// SatisfiesConstraints, Violations and Rank are set for completed
	// cells once the sweep ends; Rank 1 is the best.
	SatisfiesConstraints bool
	Violations           []Violation
	Rank                 int
	// Stable reports whether the cell's measurement met the protocol
	// (enough samples, a stable last run); always true without one.
	// Samples are its objective's samples and their summary.
	Stable  bool
	Samples CellSamples
	// Tied marks a cell whose interval overlaps the best cell's (the best
	// included, when it has ties); TieBreak says how the tie was broken.
	Tied     bool
	TieBreak string
}

// OK reports whether every repeat of the cell completed.
func (c *CellResult) OK() bool { return c.Status == StatusOK }

// Value is the cell's objective value, NaN when it has none.
func (c *CellResult) Value(obj Objective) float64 {
	if v, ok := c.Metrics[obj.Metric.Name]; ok && c.OK() {
		return v
	}
	return math.NaN()
}

// SweepResult is what a sweep measured.
type SweepResult struct {
	// Records holds every record in the order made, skipped cells included.
	Records []*Record
	// Cells are the cells run or skipped, in visit order.
	Cells []*CellResult
	// Top are the best completed cells (at most 3), constraint-satisfying
	// ones first, as TopN orders them.
	Top []*CellResult
	// GridSize is the number of cells in the grid; Visited the number
	// actually run (skipped and unvisited cells excluded).
	GridSize, Visited int
	Search            SearchMode
	Objective         Objective
	Constraints       ConditionSet
	// Protocol is the protocol the cells were measured by, nil without.
	Protocol *Protocol
	// Budget is the sweep's time cap (0 = none) and BudgetSkipped the
	// cells not run for lack of it.
	Budget        time.Duration
	BudgetSkipped int
}

// Best is the top cell, or nil when no cell completed.
func (r *SweepResult) Best() *CellResult {
	if len(r.Top) == 0 {
		return nil
	}
	return r.Top[0]
}

// VisitRatio is Visited over GridSize.
func (r *SweepResult) VisitRatio() float64 {
	if r.GridSize == 0 {
		return 0
	}
	return float64(r.Visited) / float64(r.GridSize)
}

// Sweep runs the grid's cells through run and ranks them.
//
// A failing cell is recorded with its status (ClassifyError) and reason and
// the sweep goes on; the cells with a larger BatchDim value and otherwise
// the same parameters are then not run but recorded as skipped, as the
// tutorial's loop breaks out of its batch sizes on the first OOM. Repeats
// of a cell stop at its first failure. Only a cancelled ctx ends a sweep
// early: the result so far is returned with ctx's error.
func Sweep(ctx context.Context, o SweepOptions, run CellFunc) (*SweepResult, error) {
	if o.Repeat < 1 {
		o.Repeat = 1
	}
	if o.Objective.Metric.Name == "" {
		o.Objective, _ = ParseObjective(MetricThroughput)
	}
	if o.BatchDim == "" {
		o.BatchDim = "batch"
	}
	if o.Search == "" {
		o.Search = SearchFull
	}
	if o.Protocol != nil {
		p := o.Protocol.WithDefaults()
		o.Protocol = &p
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &sweeper{o: o, run: run, done: map[string]*CellResult{}, start: o.Now(),
		res: &SweepResult{GridSize: o.Grid.Len(), Search: o.Search, Objective: o.Objective, Constraints: o.Constraints,
			Protocol: o.Protocol, Budget: o.Budget}}
	var err error
	switch o.Search {
	case SearchQuick:
		err = s.quick(ctx)
	default:
		err = s.full(ctx)
	}
	s.rank()
	return s.res, err
}

type sweeper struct {
	o     SweepOptions
	run   CellFunc
	res   *SweepResult
	done  map[string]*CellResult // by label
	start time.Time
}

// allotment is the time the next cell may take under the budget: an equal
// share of what is left among the cells not yet reached (0 = no limit), and
// whether any budget is left at all.
func (s *sweeper) allotment() (time.Duration, bool) {
	if s.o.Budget <= 0 {
		return 0, true
	}
	left := s.o.Budget - s.o.Now().Sub(s.start)
	if left <= 0 {
		return 0, false
	}
	todo := max(1, s.res.GridSize-len(s.res.Cells))
	if s.o.Search == SearchQuick {
		// Quick search reaches about a third of the grid.
		todo = max(1, (s.res.GridSize+2)/3-len(s.res.Cells))
	}
	return left / time.Duration(todo), true
}

// lineKey identifies a cell's line: its parameters except the batch.
func (s *sweeper) lineKey(cell map[string]string) string {
	var parts []string
	for _, d := range s.o.Grid.Dims {
		if d.Name != s.o.BatchDim {
			parts = append(parts, d.Name+"="+cell[d.Name])
		}
	}
	return strings.Join(parts, " ")
}

// batchLess orders batch values numerically when both are numbers, and by
// their position in the dimension otherwise.
func (s *sweeper) batchLess(a, b string) bool {
	x, e1 := strconv.ParseFloat(a, 64)
	y, e2 := strconv.ParseFloat(b, 64)
	if e1 == nil && e2 == nil {
		return x < y
	}
	for _, d := range s.o.Grid.Dims {
		if d.Name == s.o.BatchDim {
			return slices.Index(d.Values, a) < slices.Index(d.Values, b)
		}
	}
	return false
}

// failedBelow returns a failed cell on cell's line with a smaller batch.
func (s *sweeper) failedBelow(cell map[string]string) *CellResult {
	b, ok := cell[s.o.BatchDim]
	if !ok {
		return nil
	}
	key := s.lineKey(cell)
	for _, c := range s.res.Cells {
		if c.OK() || c.Status == StatusSkipped || s.lineKey(c.Params) != key {
			continue
		}
		if s.batchLess(c.Params[s.o.BatchDim], b) {
			return c
		}
	}
	return nil
}

// visit runs a cell, or records it as skipped when a smaller batch on its
// line failed. Cells already visited are returned from memory.
func (s *sweeper) visit(ctx context.Context, cell map[string]string) (*CellResult, error) {
	label := s.o.Grid.Label(cell)
	if c, ok := s.done[label]; ok {
		return c, nil
	}
	if f := s.failedBelow(cell); f != nil {
		reason := fmt.Sprintf("%s=%s failed (%s) at %s; larger batches there are not run",
			s.o.BatchDim, f.Params[s.o.BatchDim], f.Status, orAll(s.lineKey(cell)))
		return s.skip(cell, reason), nil
	}
	allot, ok := s.allotment()
	if !ok {
		s.res.BudgetSkipped++
		return s.skip(cell, fmt.Sprintf("budget: the sweep's %s were spent before this cell", s.o.Budget)), nil
	}
	c := &CellResult{Params: cell, Label: label, Status: StatusOK}
	s.done[label] = c
	s.res.Cells = append(s.res.Cells, c)
	s.res.Visited++
	cellStart := s.o.Now()
	for r := 1; s.more(c, r, cellStart, allot); r++ {
		if err := ctx.Err(); err != nil {
			c.Status, c.Reason = StatusFailed, "interrupted: "+err.Error()
			return c, err
		}
		rec, err := s.run(ctx, cell, r)
		if err != nil && ctx.Err() != nil {
			c.Status, c.Reason = StatusFailed, "interrupted: "+ctx.Err().Error()
			return c, ctx.Err()
		}
		if rec == nil {
			rec = &Record{SchemaVersion: SchemaVersion, Kind: "run"}
		}
		s.fill(rec, cell, label, r)
		if err != nil {
			rec.Status = ClassifyError(err)
			rec.Reason = err.Error()
		} else if rec.Status == "" {
			rec.Status = StatusOK
		}
		c.Records = append(c.Records, rec)
		s.emit(rec)
		if rec.Status != StatusOK {
			c.Status, c.Reason = rec.Status, rec.Reason
			break
		}
	}
	if c.OK() {
		c.Metrics = medianMetrics(c.Records)
		s.judge(c)
	}
	return c, nil
}

// more reports whether run r (1-based) of cell c should happen: the first
// Repeat runs always; under a protocol, more until the cell has what the
// protocol needs, its run limit, or its share of time (the protocol's
// CellSeconds or the budget's allotment, whichever is less).
func (s *sweeper) more(c *CellResult, r int, start time.Time, allot time.Duration) bool {
	if r == 1 {
		return true
	}
	p := s.o.Protocol
	if p == nil {
		return r <= s.o.Repeat
	}
	limit := allot
	if cs := time.Duration(p.CellSeconds * float64(time.Second)); cs > 0 && (limit == 0 || cs < limit) {
		limit = cs
	}
	if limit > 0 && s.o.Now().Sub(start) >= limit {
		return false
	}
	if r <= s.o.Repeat {
		return true
	}
	return r <= p.MaxRuns && !p.Enough(c.Records, s.o.Objective.String())
}

// judge summarises a completed cell's samples of the objective and decides
// whether it is stable enough to rank.
func (s *sweeper) judge(c *CellResult) {
	p := s.o.Protocol
	obj := s.o.Objective.String()
	if p == nil {
		c.Stable = true
		for _, r := range c.Records {
			if v, ok := r.Metrics()[obj]; ok {
				c.Samples.Values = append(c.Samples.Values, v)
			}
		}
		c.Samples.Summary = SummarizeAtMost(c.Samples.Values, DefaultConfidence)
		return
	}
	c.Samples = p.Samples(c.Records, obj)
	if len(c.Samples.Values) > 0 {
		c.Metrics[obj] = c.Samples.Summary.Center
	}
	c.Stable = p.Enough(c.Records, obj)
	if !c.Stable {
		last := c.Records[len(c.Records)-1]
		switch {
		case !last.Stable:
			c.Reason = fmt.Sprintf("unstable: the last %d windows of run %d vary by %s (limit %.0f%%)",
				p.StableWindows, len(c.Records), pctOrUnknown(last.Variation), 100*p.Threshold)
		default:
			c.Reason = fmt.Sprintf("unstable: %d samples, %d needed", len(c.Samples.Values), p.MinSamples)
		}
	}
}

func pctOrUnknown(v float64) string {
	if v < 0 {
		return "an unknown amount (too few windows)"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

func orAll(line string) string {
	if line == "" {
		return "this grid"
	}
	return line
}

func (s *sweeper) skip(cell map[string]string, reason string) *CellResult {
	label := s.o.Grid.Label(cell)
	rec := &Record{SchemaVersion: SchemaVersion, Kind: "run", Status: StatusSkipped, Reason: reason}
	s.fill(rec, cell, label, 1)
	c := &CellResult{Params: cell, Label: label, Status: StatusSkipped, Reason: reason, Records: []*Record{rec}}
	s.done[label] = c
	s.res.Cells = append(s.res.Cells, c)
	s.emit(rec)
	return c
}

func (s *sweeper) fill(rec *Record, cell map[string]string, label string, repeat int) {
	if rec.SchemaVersion == 0 {
		rec.SchemaVersion = SchemaVersion
	}
	if rec.Kind == "" {
		rec.Kind = "run"
	}
	if rec.Scenario == "" {
		rec.Scenario = s.o.Scenario
	}
	if rec.Label == "" {
		rec.Label = label
	}
	rec.Repeat = repeat
	rec.Params = cell
	rec.Objective = s.o.Objective.String()
	rec.Constraints = s.o.Constraints.String()
}

func (s *sweeper) emit(rec *Record) {
	s.res.Records = append(s.res.Records, rec)
	if s.o.OnRecord != nil {
		s.o.OnRecord(rec)
	}
}

// medianMetrics is the per-metric median over records.
func medianMetrics(recs []*Record) map[string]float64 {
	vals := map[string][]float64{}
	for _, r := range recs {
		for k, v := range r.Metrics() {
			vals[k] = append(vals[k], v)
		}
	}
	out := make(map[string]float64, len(vals))
	for k, xs := range vals {
		slices.Sort(xs)
		out[k] = median(xs)
	}
	return out
}

// full runs every cell, line by line with the batch dimension innermost.
func (s *sweeper) full(ctx context.Context) error {
	var batch *Dim
	var rest Grid
	for i, d := range s.o.Grid.Dims {
		if d.Name == s.o.BatchDim {
			batch = &s.o.Grid.Dims[i]
		} else {
			rest.Dims = append(rest.Dims, d)
		}
	}
	for _, line := range rest.Cells() {
		if batch == nil {
			if _, err := s.visit(ctx, line); err != nil {
				return err
			}
			continue
		}
		values := slices.Clone(batch.Values)
		sort.SliceStable(values, func(i, j int) bool { return s.batchLess(values[i], values[j]) })
		var history []float64
		stopped := ""
		for _, b := range values {
			cell := make(map[string]string, len(line)+1)
			for k, v := range line {
				cell[k] = v
			}
			cell[s.o.BatchDim] = b
			if stopped != "" {
				s.skip(cell, stopped)
				continue
			}
			c, err := s.visit(ctx, cell)
			if err != nil {
				return err
			}
			if c.Status == StatusSkipped {
				continue
			}
			history = append(history, c.Value(s.o.Objective))
			if e := s.o.EarlyExit; e != nil && e.ShouldStop(s.o.Objective, history) {
				g, _ := e.Gain(s.o.Objective, history)
				stopped = fmt.Sprintf("early exit: %s gained %.1f%% over the last %d batch sizes at %s (under %.0f%%)",
					s.o.Objective, 100*g, e.Points, orAll(s.lineKey(cell)), 100*e.MinGain)
			}
		}
	}
	return nil
}

// quick hill-climbs over the grid's index space. From the start cell it
// takes one dimension at a time and walks up it while the objective
// improves, then down it if the first step up did not; it cycles over the
// dimensions until a whole cycle finds no better cell. This coordinate
// search visits the path to the optimum plus one losing step per direction,
// which on the unimodal surfaces batch inference produces (throughput rises
// with batch and concurrency, then flattens or falls) is a small fraction
// of the grid.
func (s *sweeper) quick(ctx context.Context) error {
	dims := s.o.Grid.Dims
	if len(dims) == 0 {
		_, err := s.visit(ctx, map[string]string{})
		return err
	}
	pos := make([]int, len(dims))
	for i, d := range dims {
		if v, ok := s.o.Start[d.Name]; ok {
			if j := slices.Index(d.Values, v); j >= 0 {
				pos[i] = j
			}
		}
	}
	cellAt := func(p []int) map[string]string {
		c := make(map[string]string, len(dims))
		for i, d := range dims {
			c[d.Name] = d.Values[p[i]]
		}
		return c
	}
	cur, err := s.visit(ctx, cellAt(pos))
	if err != nil {
		return err
	}
	for {
		improved := false
		for i := range dims {
			for _, dir := range []int{+1, -1} {
				moved := false
				for {
					next := slices.Clone(pos)
					next[i] += dir
					if next[i] < 0 || next[i] >= len(dims[i].Values) {
						break
					}
					c, err := s.visit(ctx, cellAt(next))
					if err != nil {
						return err
					}
					if !s.better(c, cur) {
						break
					}
					pos, cur, moved, improved = next, c, true, true
				}
				if moved {
					break // went up this dimension; no need to try down
				}
			}
		}
		if improved {
			continue
		}
		// Stuck on every axis. Memory makes a ridge along which batch
		// size trades against concurrency (batch × actors is what must
		// fit), and a coordinate search cannot walk a ridge, so try the
		// counter-diagonal steps: one dimension up, another down.
		var bestPos []int
		for _, mv := range s.ridgeMoves(dims) {
			next := slices.Clone(pos)
			next[mv[0]]++
			next[mv[1]]--
			if next[mv[0]] >= len(dims[mv[0]].Values) || next[mv[1]] < 0 {
				continue
			}
			c, err := s.visit(ctx, cellAt(next))
			if err != nil {
				return err
			}
			if s.better(c, cur) {
				bestPos, cur = next, c
			}
		}
		if bestPos == nil {
			return nil
		}
		pos = bestPos
	}
}

// ridgeMoves lists the (up, down) dimension pairs quick search tries when
// stuck: the batch dimension against each other one, both ways, or every
// pair when the grid has no batch dimension.
func (s *sweeper) ridgeMoves(dims []Dim) [][2]int {
	bi := slices.IndexFunc(dims, func(d Dim) bool { return d.Name == s.o.BatchDim })
	var out [][2]int
	for i := range dims {
		for j := range dims {
			if i == j || (bi >= 0 && i != bi && j != bi) {
				continue
			}
			out = append(out, [2]int{i, j})
		}
	}
	return out
}

// better orders cells: completed before failed, constraint-satisfying
// before not, then by the objective.
func (s *sweeper) better(a, b *CellResult) bool {
	if a.OK() != b.OK() {
		return a.OK()
	}
	if !a.OK() {
		return false
	}
	if a.Stable != b.Stable {
		return a.Stable
	}
	sa := len(s.o.Constraints.Evaluate(a.Metrics)) == 0
	sb := len(s.o.Constraints.Evaluate(b.Metrics)) == 0
	if sa != sb {
		return sa
	}
	if p := s.o.Protocol; p != nil && tied(*p, s.o.Objective, a, b) {
		return false // a gain inside the noise is no step
	}
	return s.o.Objective.Better(a.Metrics, b.Metrics)
}

// tied reports whether two cells cannot be told apart on the objective:
// their intervals overlap, or their medians differ by less than the
// protocol's tie margin.
func tied(p Protocol, obj Objective, a, b *CellResult) bool {
	return p.Tied(obj, a.Samples.Summary, b.Samples.Summary)
}

// Tied reports whether two summaries of the objective cannot be told apart
// under p: their intervals overlap, or their medians differ by less than
// p.TieMargin. Empty summaries are never tied.
func (p Protocol) Tied(obj Objective, x, y Summary) bool {
	p = p.WithDefaults()
	if x.N == 0 || y.N == 0 {
		return false
	}
	if x.Lo <= y.Hi && y.Lo <= x.Hi {
		return true
	}
	g := obj.Gain(y.Center, x.Center)
	return math.Abs(g) < p.TieMargin
}

// rank fills SatisfiesConstraints, Violations and Rank on the cells and
// their records, and picks the top 3.
func (s *sweeper) rank() {
	var cells []Cell
	byLabel := map[string]*CellResult{}
	for _, c := range s.res.Cells {
		byLabel[c.Label] = c
		if c.OK() && c.Stable {
			cells = append(cells, Cell{Params: c.Params, Metrics: c.Metrics, Status: c.Status})
		}
	}
	ranked := TopN(cells, s.o.Objective, s.o.Constraints, 0)
	ranked = s.breakTies(ranked, byLabel)
	for _, c := range s.res.Cells {
		for _, r := range c.Records {
			st := c.Stable
			r.CellStable = &st
			if c.OK() {
				sum := c.Samples.Summary
				r.CellMedian, r.CellLo, r.CellHi = finite(sum.Center), finite(sum.Lo), finite(sum.Hi)
				r.CellConfidence, r.CellSamples, r.SamplesFromWindows = sum.Confidence, sum.N, c.Samples.FromWindows
			}
		}
	}
	for i, tc := range ranked {
		c := byLabel[s.o.Grid.Label(tc.Params)]
		c.Rank = i + 1
		c.SatisfiesConstraints = tc.SatisfiesConstraints
		c.Violations = tc.Violations
		if i < 3 {
			s.res.Top = append(s.res.Top, c)
		}
		var viol []string
		for _, v := range tc.Violations {
			viol = append(viol, v.String())
		}
		for _, r := range c.Records {
			sat := c.SatisfiesConstraints
			r.SatisfiesConstraints = &sat
			r.Violations = viol
			r.Rank = c.Rank
			r.Tied, r.TieBreak = c.Tied, c.TieBreak
		}
	}
}

// breakTies finds, under a protocol, the cells tied with the best of the
// ranked list (same constraint verdict, interval overlapping or median
// within the tie margin), puts them first ordered by the secondary
// objective, and marks them. Without a protocol, or without ties, the list
// is returned as it is.
func (s *sweeper) breakTies(ranked []Cell, byLabel map[string]*CellResult) []Cell {
	p := s.o.Protocol
	if p == nil || len(ranked) < 2 {
		return ranked
	}
	best := byLabel[s.o.Grid.Label(ranked[0].Params)]
	var group, rest []Cell
	for i, tc := range ranked {
		c := byLabel[s.o.Grid.Label(tc.Params)]
		if i == 0 || (tc.SatisfiesConstraints == ranked[0].SatisfiesConstraints && tied(*p, s.o.Objective, c, best)) {
			group = append(group, tc)
		} else {
			rest = append(rest, tc)
		}
	}
	if len(group) < 2 {
		return ranked
	}
	sec, ok := LookupMetric(p.Secondary)
	if !ok {
		sec, _ = LookupMetric(MetricLatencyP95)
	}
	secObj := Objective{Metric: sec}
	slices.SortStableFunc(group, func(a, b Cell) int { return secObj.Compare(b.Metrics, a.Metrics) })
	note := fmt.Sprintf("%d cells tied on %s (intervals overlap or medians within %.0f%%); broken by %s %s",
		len(group), s.o.Objective, 100*p.TieMargin, betterWord(sec), sec.Name)
	for _, tc := range group {
		c := byLabel[s.o.Grid.Label(tc.Params)]
		c.Tied, c.TieBreak = true, note
	}
	return append(group, rest...)
}

// betterWord is "higher" or "lower": the direction in which m improves.
func betterWord(m MetricInfo) string {
	if m.HigherIsBetter {
		return "higher"
	}
	return "lower"
}
