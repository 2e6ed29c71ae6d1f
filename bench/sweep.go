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
	s := &sweeper{o: o, run: run, done: map[string]*CellResult{},
		res: &SweepResult{GridSize: o.Grid.Len(), Search: o.Search, Objective: o.Objective, Constraints: o.Constraints}}
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
	o    SweepOptions
	run  CellFunc
	res  *SweepResult
	done map[string]*CellResult // by label
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
	c := &CellResult{Params: cell, Label: label, Status: StatusOK}
	s.done[label] = c
	s.res.Cells = append(s.res.Cells, c)
	s.res.Visited++
	for r := 1; r <= s.o.Repeat; r++ {
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
	}
	return c, nil
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
	sa := len(s.o.Constraints.Evaluate(a.Metrics)) == 0
	sb := len(s.o.Constraints.Evaluate(b.Metrics)) == 0
	if sa != sb {
		return sa
	}
	return s.o.Objective.Better(a.Metrics, b.Metrics)
}

// rank fills SatisfiesConstraints, Violations and Rank on the cells and
// their records, and picks the top 3.
func (s *sweeper) rank() {
	var cells []Cell
	byLabel := map[string]*CellResult{}
	for _, c := range s.res.Cells {
		byLabel[c.Label] = c
		if c.OK() {
			cells = append(cells, Cell{Params: c.Params, Metrics: c.Metrics, Status: c.Status})
		}
	}
	for i, tc := range TopN(cells, s.o.Objective, s.o.Constraints, 0) {
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
		}
	}
}
