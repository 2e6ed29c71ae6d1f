package bench

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"workbench/nvml"
)

// ReportOptions configure the report writers.
type ReportOptions struct {
	// Title heads the report; default "workbench report".
	Title string
	// Sources names the files the records came from, for the header.
	Sources []string
	// MaxPoints caps the points of a time series in charts; longer series
	// are averaged into buckets. Default 240.
	MaxPoints int
}

func (o ReportOptions) withDefaults() ReportOptions {
	if o.Title == "" {
		o.Title = "workbench report"
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 240
	}
	return o
}

// table is the one shape every report section renders: text, Markdown and
// HTML writers all take it, so the three formats cannot drift apart.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// group is the records of one configuration: same scenario and label.
type group struct {
	// key groups records (scenario, label and knobs); match pairs groups
	// across two record sets (scenario and label: the same configuration
	// asked for, though auto knobs may resolve differently elsewhere).
	key, match, scenario, label string
	differs                     string    // knobs telling it from a same-named group
	recs                        []*Record // every record, any status
	ok                          []*Record // completed ones
}

func (g *group) values(metric string) []float64 {
	var xs []float64
	for _, r := range g.ok {
		if v, ok := r.Metrics()[metric]; ok {
			xs = append(xs, v)
		}
	}
	return xs
}

func (g *group) steady() []float64 {
	xs := make([]float64, len(g.ok))
	for i, r := range g.ok {
		xs[i] = r.SteadyTput
	}
	return xs
}

// status is the group's outcome: ok when any repeat completed, else the
// first record's status and reason.
func (g *group) status() (string, string) {
	if len(g.ok) > 0 {
		return StatusOK, ""
	}
	return g.recs[0].Status, g.recs[0].Reason
}

// representative is the completed record whose throughput is the median of
// its group, so charts show a typical run rather than a lucky one.
func (g *group) representative() *Record {
	if len(g.ok) == 0 {
		return nil
	}
	s := slices.Clone(g.ok)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Throughput < s[j].Throughput })
	return s[(len(s)-1)/2]
}

// configLabel describes a record's configuration when it has no Label.
func configLabel(r *Record) string {
	if r.Label != "" {
		return r.Label
	}
	return fmt.Sprintf("batch=%d concurrency=%s blocks=%d", r.Config.BatchSize, r.Config.Concurrency, r.Config.Blocks)
}

func groupRecords(recs []*Record) []*group {
	var out []*group
	byKey := map[string]*group{}
	for _, r := range recs {
		// The knobs are part of the key: two files that share a name but
		// not their settings are two configurations.
		key := r.Scenario + "\x00" + configLabel(r) + "\x00" + knobKey(r.Config.Knobs)
		g := byKey[key]
		if g == nil {
			g = &group{key: key, match: r.Scenario + "\x00" + configLabel(r), scenario: r.Scenario, label: configLabel(r)}
			byKey[key] = g
			out = append(out, g)
		}
		g.recs = append(g.recs, r)
		if r.Status == "" || r.Status == StatusOK {
			g.ok = append(g.ok, r)
		}
	}
	markDiffering(out)
	return out
}

// name says the configuration once: the scenario, then the label where
// the label says more than the scenario's name (a sweep cell's knobs),
// then any knobs that tell it apart from a group of the same name.
func (g *group) name() string {
	n := g.label
	switch {
	case g.scenario == "":
	case g.label == "" || g.label == g.scenario || strings.HasPrefix(g.label, g.scenario+"#"):
		n = g.scenario
	default:
		n = g.scenario + " " + g.label
	}
	if g.differs != "" {
		n += " (" + g.differs + ")"
	}
	return n
}

// knobKey renders knobs in name order.
func knobKey(k map[string]string) string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(k)) {
		b.WriteString(n + "=" + k[n] + "\x00")
	}
	return b.String()
}

// markDiffering adds, to groups whose names collide, the knobs in which
// they differ from each other, and only those.
func markDiffering(groups []*group) {
	byName := map[string][]*group{}
	for _, g := range groups {
		byName[g.name()] = append(byName[g.name()], g)
	}
	for _, gs := range byName {
		if len(gs) < 2 {
			continue
		}
		knobs := func(g *group) map[string]string { return g.recs[0].Config.Knobs }
		var keys []string
		for k := range knobs(gs[0]) {
			for _, g := range gs[1:] {
				if knobs(g)[k] != knobs(gs[0])[k] {
					keys = append(keys, k)
					break
				}
			}
		}
		slices.Sort(keys)
		for _, g := range gs {
			var parts []string
			for _, k := range keys {
				parts = append(parts, k+"="+knobs(g)[k])
			}
			g.differs = strings.Join(parts, " ")
		}
	}
}

// report is everything a rendered report shows, computed once.
type report struct {
	opts    ReportOptions
	recs    []*Record
	groups  []*group
	notes   Footnotes
	notices []string

	machine  table
	results  table
	race     *table // raceB vs raceA: slow vs optimized, or any two
	raceA    string
	raceB    string
	speedup  string
	ablation *table
	sweep    *sweepView
	latency  table
	probe    table // batch_size: auto decisions
	latRows  []latencyRow

	rep      *Record // the record the breakdown, utilisation and diagnosis describe
	repName  string
	ops      table
	util     *series
	utilNote string
	gpu      *gpuView // nil without a sampled GPU
	diag     []Diagnosis
}

type latencyRow struct {
	name          string
	p50, p95, p99 float64
}

// sweepView is the sweep's grid: throughput by batch and concurrency.
type sweepView struct {
	objective string
	top       table
	batches   []string // columns, ascending
	concs     []string // rows, ascending
	value     map[[2]string]float64
	status    map[[2]string]string
	otherDims []string // dimensions folded into each cell (best over them)
}

// series is a time series for the utilisation chart.
type series struct {
	name, unit string
	lines      []line
}

type line struct {
	name string
	x, y []float64
}

func metricUnit(name string) string {
	if m, ok := LookupMetric(name); ok {
		return m.Unit
	}
	return ""
}

// summaryCell renders a sample benchstat-style with its warnings as
// footnote markers.
func (rp *report) summaryCell(xs []float64, unit string) string {
	if len(xs) == 0 {
		return "—"
	}
	s := Summarize(xs, DefaultConfidence)
	return s.Format(unit) + rp.notes.Mark(s.Warnings...)
}

func buildReport(recs []*Record, o ReportOptions) *report {
	rp := &report{opts: o.withDefaults(), recs: recs, groups: groupRecords(recs)}
	rp.buildMachine()
	rp.buildResults()
	rp.buildRace()
	rp.buildAblation()
	rp.buildSweep()
	rp.buildLatency()
	rp.buildProbe()
	rp.pickRepresentative()
	rp.buildOps()
	rp.buildUtil()
	rp.buildGPU()
	if rp.rep != nil {
		rp.diag = Diagnose(rp.rep)
	}
	return rp
}

func (rp *report) buildMachine() {
	if len(rp.recs) == 0 {
		return
	}
	seen := map[string]bool{}
	for _, r := range rp.recs {
		if r.Notice != "" && !seen[r.Config.Model] {
			seen[r.Config.Model] = true
			rp.notices = append(rp.notices, fmt.Sprintf("Model %s: %s.", r.Config.Model, r.Notice))
		}
	}
	r := rp.recs[0]
	for _, x := range rp.recs {
		if x.Status == StatusOK || x.Status == "" {
			r = x
			break
		}
	}
	c, f := r.Config, r.Fingerprint
	t := table{header: []string{"", ""}}
	add := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			t.add(k, v)
		}
	}
	add("model", fmt.Sprintf("%s, %.3g GFLOPs/image, %s params", c.Model, c.GFLOPs, GroupThousands(c.Params)))
	add("model file", c.ModelFile)
	add("device", c.Device+" ("+f.Provider+")")
	add("ONNX Runtime", f.ORTVersion+" "+f.ORTLibrary)
	add("session", c.Session)
	add("CPU", fmt.Sprintf("%s, %d cores, %s RAM", f.CPUModel, f.Cores, FormatValue(float64(f.MemoryBytes), UnitBytes)))
	if f.GPU != "" {
		add("GPU", f.GPU+", driver "+f.Driver)
	} else {
		add("GPU", "none visible")
	}
	add("decoder", f.Decoder)
	add("dataset", fmt.Sprintf("%s: %d files, mean %s", f.Dataset, f.DatasetN, FormatValue(f.MeanBytes, UnitBytes)))
	add("workbench", strings.TrimSpace(f.Version+" "+f.Commit))
	lo, hi := timeRange(rp.recs)
	if !lo.IsZero() {
		span := lo.Format(time.RFC3339)
		if hi.After(lo) {
			span += " to " + hi.Format(time.RFC3339)
		}
		add("measured", span)
	}
	add("records", fmt.Sprintf("%d records, %d configurations", len(rp.recs), len(rp.groups)))
	if len(rp.opts.Sources) > 0 {
		add("source", strings.Join(rp.opts.Sources, ", "))
	}
	rp.machine = t
}

func timeRange(recs []*Record) (lo, hi time.Time) {
	for _, r := range recs {
		t := r.Fingerprint.Time
		if t.IsZero() {
			continue
		}
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	return lo, hi
}

func (rp *report) buildResults() {
	t := table{header: []string{"configuration", "n", "throughput", "steady", "first result", "p95 latency", "CPU", "peak RSS", "model loads", "errors", "status"}}
	for _, g := range rp.groups {
		st, reason := g.status()
		if st != StatusOK {
			t.add(g.name(), "0", "—", "—", "—", "—", "—", "—", "—", "—", st+rp.notes.Mark(reason))
			continue
		}
		var loads, errs int64
		stable := true
		for _, r := range g.ok {
			loads = max(loads, r.ModelLoads)
			errs += int64(r.Errors)
			stable = stable && (r.Stable || len(r.Windows) == 0)
		}
		status := StatusOK
		if !stable {
			status += rp.notes.Mark("unstable: the last 3 throughput windows differ by more than 10% in at least one run")
		}
		var restarts, retries, failed int64
		for _, r := range g.ok {
			restarts, retries, failed = restarts+r.ActorRestarts, retries+r.TaskRetries, failed+r.FailedBatches
		}
		if restarts+retries+failed > 0 {
			status += rp.notes.Mark(fmt.Sprintf("recovered from failing actors: %d actor restarts, %d batches retried, %d batches failed every retry (over %d runs)",
				restarts, retries, failed, len(g.ok)))
		}
		t.add(g.name(), strconv.Itoa(len(g.ok)),
			rp.summaryCell(g.values(MetricThroughput), "img/s"),
			rp.summaryCell(g.steady(), "img/s"),
			rp.summaryCell(g.values(MetricTTFR), UnitSeconds),
			rp.summaryCell(g.values(MetricLatencyP95), UnitSeconds),
			rp.summaryCell(g.values(MetricCPUPct), UnitPercent),
			rp.summaryCell(g.values(MetricPeakRSS), UnitBytes),
			strconv.FormatInt(loads, 10), strconv.FormatInt(errs, 10), status)
	}
	rp.results = t
}

// scenarioGroup returns the one group of a scenario, or nil when the
// scenario is absent or ran in several configurations.
func (rp *report) scenarioGroup(name string) *group {
	var found *group
	for _, g := range rp.groups {
		if g.scenario == name {
			if found != nil {
				return nil
			}
			found = g
		}
	}
	if found == nil || len(found.ok) == 0 {
		return nil
	}
	return found
}

// RaceMetrics are the metrics a comparison of two configurations shows,
// by registry name, in order: the CLI's race table, the report's race
// section and the TUI race read this one list.
var RaceMetrics = []string{MetricThroughput, MetricSteadyTput, MetricTTFR, MetricLatencyP95, MetricPeakRSS, MetricCPUPct,
	MetricModelLoads, MetricForwardPasses, MetricErrors}

func (rp *report) compareTable(a, b *group, aName, bName string) table {
	t := table{header: []string{"metric", aName, bName, "vs " + aName}}
	for _, name := range RaceMetrics {
		m, _ := LookupMetric(name)
		if m.Kind == KindCount {
			continue // counts are shown below, as integers
		}
		xa, xb := a.values(name), b.values(name)
		if len(xa) == 0 || len(xb) == 0 {
			continue
		}
		c := Compare(xa, xb, DefaultAlpha)
		t.add(m.Label, c.A.Format(m.Unit)+rp.notes.Mark(c.A.Warnings...), c.B.Format(m.Unit)+rp.notes.Mark(c.B.Warnings...),
			c.String()+rp.notes.Mark(c.Warnings...))
	}
	var la, lb int64
	for _, r := range a.ok {
		la = max(la, r.ModelLoads)
	}
	for _, r := range b.ok {
		lb = max(lb, r.ModelLoads)
	}
	t.add("model loads", strconv.FormatInt(la, 10), strconv.FormatInt(lb, 10), "")
	return t
}

// buildRace compares slow with optimized when both ran, or else the two
// configurations of a two-configuration file (a race of any two
// scenarios), the second against the first.
func (rp *report) buildRace() {
	a, b := rp.scenarioGroup("slow"), rp.scenarioGroup("optimized")
	rp.raceA, rp.raceB = "slow", "optimized"
	if a == nil || b == nil {
		a, b = nil, nil
		if len(rp.groups) == 2 && len(rp.groups[0].ok) > 0 && len(rp.groups[1].ok) > 0 &&
			rp.groups[0].ok[0].Params == nil && rp.groups[1].ok[0].Params == nil {
			a, b = rp.groups[0], rp.groups[1]
			rp.raceA, rp.raceB = a.name(), b.name()
		}
	}
	if a == nil {
		return
	}
	t := rp.compareTable(a, b, rp.raceA, rp.raceB)
	rp.race = &t
	sa := Summarize(a.values(MetricThroughput), DefaultConfidence)
	sb := Summarize(b.values(MetricThroughput), DefaultConfidence)
	rp.speedup = fmt.Sprintf("%s runs at %s the throughput of %s (ratio of medians, n=%d+%d)", rp.raceB, NewRatio(sb, sa), rp.raceA, sb.N, sa.N)
}

func (rp *report) buildAblation() {
	opt := rp.scenarioGroup("optimized")
	if opt == nil {
		return
	}
	base := Summarize(opt.values(MetricThroughput), DefaultConfidence)
	type row struct {
		ratio Ratio
		cells []string
	}
	var rows []row
	for _, g := range rp.groups {
		if g == opt || g.scenario == "" || g.scenario == "slow" {
			continue
		}
		st, reason := g.status()
		if st != StatusOK {
			rows = append(rows, row{Ratio{Center: math.Inf(1)}, []string{g.scenario, "—", "—", st + rp.notes.Mark(reason)}})
			continue
		}
		xs := g.values(MetricThroughput)
		s := Summarize(xs, DefaultConfidence)
		ratio := NewRatio(s, base) // below 1: the mistake costs throughput
		c := Compare(opt.values(MetricThroughput), xs, DefaultAlpha)
		rows = append(rows, row{ratio, []string{g.scenario, s.Format("img/s") + rp.notes.Mark(s.Warnings...),
			ratio.String(), c.String() + rp.notes.Mark(c.Warnings...)}})
	}
	if len(rows) == 0 {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].ratio.Center < rows[j].ratio.Center })
	t := table{header: []string{"scenario", "throughput", "× optimized", "vs optimized"}}
	t.add("optimized", base.Format("img/s")+rp.notes.Mark(base.Warnings...), "×1.00", "")
	for _, r := range rows {
		t.add(r.cells...)
	}
	rp.ablation = &t
}

// paramOf reads a sweep parameter, falling back on the record's config.
func paramOf(r *Record, name string) string {
	if v, ok := r.Params[name]; ok {
		return v
	}
	switch name {
	case "batch":
		return strconv.Itoa(r.Config.BatchSize)
	case "concurrency":
		return r.Config.Concurrency
	case "blocks":
		return strconv.Itoa(r.Config.Blocks)
	}
	return ""
}

func numericLess(a, b string) bool {
	x, e1 := strconv.ParseFloat(a, 64)
	y, e2 := strconv.ParseFloat(b, 64)
	if e1 == nil && e2 == nil {
		return x < y
	}
	return a < b
}

func (rp *report) buildSweep() {
	var cells []*group
	dims := map[string]bool{}
	objective := ""
	for _, g := range rp.groups {
		if len(g.recs[0].Params) > 0 {
			cells = append(cells, g)
			for k := range g.recs[0].Params {
				dims[k] = true
			}
			if objective == "" {
				objective = g.recs[0].Objective
			}
		}
	}
	if len(cells) == 0 {
		return
	}
	if objective == "" {
		objective = MetricThroughput
	}
	obj, err := ParseObjective(objective)
	if err != nil {
		obj, _ = ParseObjective(MetricThroughput)
	}
	sv := &sweepView{objective: obj.String(), value: map[[2]string]float64{}, status: map[[2]string]string{}}
	for d := range dims {
		if d != "batch" && d != "concurrency" {
			sv.otherDims = append(sv.otherDims, d)
		}
	}
	sort.Strings(sv.otherDims)
	bs, cs := map[string]bool{}, map[string]bool{}
	for _, g := range cells {
		r := g.recs[0]
		k := [2]string{paramOf(r, "batch"), paramOf(r, "concurrency")}
		bs[k[0]], cs[k[1]] = true, true
		st, _ := g.status()
		if st != StatusOK {
			if _, have := sv.value[k]; !have && sv.status[k] == "" {
				sv.status[k] = st
			}
			continue
		}
		xs := g.values(MetricThroughput)
		slices.Sort(xs)
		v := median(xs)
		if old, have := sv.value[k]; !have || v > old {
			sv.value[k] = v
			delete(sv.status, k)
		}
	}
	for b := range bs {
		sv.batches = append(sv.batches, b)
	}
	for c := range cs {
		sv.concs = append(sv.concs, c)
	}
	sort.Slice(sv.batches, func(i, j int) bool { return numericLess(sv.batches[i], sv.batches[j]) })
	sort.Slice(sv.concs, func(i, j int) bool { return numericLess(sv.concs[i], sv.concs[j]) })

	// Top 3: by the sweep's rank when it recorded one, else by the objective.
	ranked := slices.Clone(cells)
	ranked = slices.DeleteFunc(ranked, func(g *group) bool { return len(g.ok) == 0 })
	medianOf := func(g *group) float64 {
		xs := g.values(obj.Metric.Name)
		if len(xs) == 0 {
			return math.NaN()
		}
		slices.Sort(xs)
		return median(xs)
	}
	sort.SliceStable(ranked, func(i, j int) bool {
		ri, rj := ranked[i].ok[0].Rank, ranked[j].ok[0].Rank
		if ri > 0 && rj > 0 {
			return ri < rj
		}
		return obj.Better(map[string]float64{obj.Metric.Name: medianOf(ranked[i])}, map[string]float64{obj.Metric.Name: medianOf(ranked[j])})
	})
	t := table{header: []string{"rank", "configuration", "throughput", "p95 latency", "peak RSS", "satisfies constraints"}}
	extra := obj.Metric.Name != MetricThroughput && obj.Metric.Name != MetricLatencyP95 && obj.Metric.Name != MetricPeakRSS
	if extra {
		t.header = slices.Insert(t.header, 2, obj.String())
	}
	for i, g := range ranked {
		if i == 3 {
			break
		}
		r := g.ok[0]
		sat := "yes"
		if r.SatisfiesConstraints != nil && !*r.SatisfiesConstraints {
			sat = "no: " + strings.Join(r.Violations, "; ")
		} else if r.Constraints == "" {
			sat = "yes (no constraints)"
		}
		row := []string{strconv.Itoa(i + 1), g.label,
			rp.summaryCell(g.values(MetricThroughput), "img/s"), rp.summaryCell(g.values(MetricLatencyP95), UnitSeconds),
			rp.summaryCell(g.values(MetricPeakRSS), UnitBytes), sat}
		if extra {
			row = slices.Insert(row, 2, rp.summaryCell(g.values(obj.Metric.Name), obj.Metric.Unit))
		}
		t.add(row...)
	}
	sv.top = t
	rp.sweep = sv
}

func (rp *report) buildLatency() {
	t := table{header: []string{"configuration", "p50", "p95", "p99"}}
	oneScenario := true
	for _, g := range rp.groups {
		oneScenario = oneScenario && g.scenario == rp.groups[0].scenario
	}
	for _, g := range rp.groups {
		if len(g.ok) == 0 {
			continue
		}
		med := func(m string) float64 {
			xs := g.values(m)
			slices.Sort(xs)
			return median(xs)
		}
		name := g.name()
		if oneScenario {
			name = g.label // the scenario is in the results table; keep chart labels short
		}
		row := latencyRow{name, med(MetricLatencyP50), med(MetricLatencyP95), med(MetricLatencyP99)}
		rp.latRows = append(rp.latRows, row)
		t.add(row.name, rp.summaryCell(g.values(MetricLatencyP50), UnitSeconds),
			rp.summaryCell(g.values(MetricLatencyP95), UnitSeconds), rp.summaryCell(g.values(MetricLatencyP99), UnitSeconds))
	}
	rp.latency = t
}

// buildProbe shows batch_size: auto's decision for each configuration that
// used it: the inference ceiling it measured at each batch size and the
// knee it picked, so a reader sees why the run used the batch it did. A
// configuration repeated shows its first run's probe: a process probes a
// model and shape once and reuses the answer.
func (rp *report) buildProbe() {
	t := table{header: []string{"configuration", "batch", "ceiling", "spread", "batch latency", "rounds", "stable", "picked"}}
	for _, g := range rp.groups {
		var p *BatchProbe
		for _, r := range g.recs {
			if r.BatchProbe != nil {
				p = r.BatchProbe
				break
			}
		}
		if p == nil {
			continue
		}
		for i, pt := range p.Points {
			name := ""
			if i == 0 {
				name = g.name()
			}
			picked := ""
			if pt.Batch == p.Picked {
				picked = "← the knee"
			}
			if pt.Failed != "" {
				t.add(name, strconv.Itoa(pt.Batch), "failed: "+pt.Failed, "", "", "", "", picked)
				continue
			}
			spread := "—"
			if pt.Spread > 0 {
				spread = fmt.Sprintf("±%.1f%%", pt.Spread)
			}
			t.add(name, strconv.Itoa(pt.Batch), FormatValue(pt.Throughput, "img/s"), spread,
				FormatValue(pt.Latency, UnitSeconds), strconv.Itoa(pt.Rounds), map[bool]string{true: "yes", false: "no"}[pt.Stable], picked)
		}
	}
	rp.probe = t
}

// probeIntro explains the probe table in both report formats.
const probeIntro = "batch_size: auto measured the inference-only ceiling at each batch size (perf_analyzer's rule: the last 3 rounds within 10%) and took the knee: the smallest batch within 5% of the best throughput that meets any latency constraint."

// pickRepresentative chooses the run the breakdown, utilisation chart and
// diagnosis describe: the sweep's best cell, else optimized, else the
// fastest configuration.
func (rp *report) pickRepresentative() {
	var best *group
	bestTput := math.Inf(-1)
	for _, g := range rp.groups {
		if len(g.ok) == 0 {
			continue
		}
		if g.ok[0].Rank == 1 {
			best = g
			break
		}
		xs := g.values(MetricThroughput)
		slices.Sort(xs)
		if m := median(xs); m > bestTput {
			best, bestTput = g, m
		}
	}
	if og := rp.scenarioGroup("optimized"); og != nil && (best == nil || best.ok[0].Rank != 1) {
		best = og
	}
	if best == nil {
		return
	}
	rp.rep = best.representative()
	rp.repName = best.name()
	if len(best.ok) > 1 {
		rp.repName += fmt.Sprintf(" (repeat %d, the median of %d)", rp.rep.Repeat, len(best.ok))
	}
}

func (rp *report) buildOps() {
	t := table{header: []string{"operator", "tasks", "busy", "starved", "backpressured", "pending", "utilisation", "task p50", "task p95"}}
	if rp.rep == nil {
		return
	}
	for _, o := range rp.rep.Ops {
		t.add(o.Name, strconv.FormatInt(o.Tasks, 10), FormatValue(o.BusySeconds, UnitSeconds), FormatValue(o.StarvedSeconds, UnitSeconds),
			FormatValue(o.BackpressSeconds, UnitSeconds), FormatValue(o.PendingSeconds, UnitSeconds),
			FormatValue(100*o.Utilization, UnitPercent), FormatValue(o.TaskP50, UnitSeconds), FormatValue(o.TaskP95, UnitSeconds))
	}
	rp.ops = t
}

func (rp *report) buildUtil() {
	if rp.rep == nil || rp.rep.Telemetry == nil || len(rp.rep.Telemetry.Samples) == 0 {
		return
	}
	tel := rp.rep.Telemetry
	smp := tel.Samples
	s := &series{}
	if tel.Summary.GPUAvailable && len(smp[0].GPUs) > 0 {
		s.name, s.unit = "GPU utilisation", "%"
		for gi := range smp[0].GPUs {
			var l line
			l.name = fmt.Sprintf("GPU %d", smp[0].GPUs[gi].Index)
			for _, x := range smp {
				if gi < len(x.GPUs) {
					l.x = append(l.x, x.ElapsedS)
					l.y = append(l.y, x.GPUs[gi].GPUUtilPct)
				}
			}
			s.lines = append(s.lines, downsample(l, rp.opts.MaxPoints))
		}
		rp.utilNote = fmt.Sprintf("%d samples at %.3g Hz", tel.Summary.Samples, tel.Summary.Hz)
	} else {
		s.name, s.unit = "CPU utilisation of this process", "cores"
		l := line{name: "process CPU"}
		for _, x := range smp {
			l.x = append(l.x, x.ElapsedS)
			l.y = append(l.y, x.Host.ProcCPUCores)
		}
		s.lines = append(s.lines, downsample(l, rp.opts.MaxPoints))
		reason := tel.Summary.GPUReason
		if reason == "" {
			reason = "no GPU was sampled"
		}
		rp.utilNote = fmt.Sprintf("%s; %d samples at %.3g Hz, mean %.2f cores, peak %.2f of %d", reason,
			tel.Summary.Samples, tel.Summary.Hz, tel.Summary.Host.CPUCoresMean, tel.Summary.Host.CPUCoresPeak, rp.rep.Fingerprint.Cores)
	}
	if len(smp) > rp.opts.MaxPoints {
		rp.utilNote += fmt.Sprintf("; averaged into %d points", rp.opts.MaxPoints)
	}
	rp.util = s
}

// downsample averages a series into at most n buckets of equal sample
// count, as vegeta's plot thins long attacks, so a long run stays a small
// chart.
func downsample(l line, n int) line {
	if len(l.x) <= n || n <= 0 {
		return l
	}
	out := line{name: l.name}
	for b := range n {
		lo, hi := b*len(l.x)/n, (b+1)*len(l.x)/n
		var sx, sy float64
		for i := lo; i < hi; i++ {
			sx += l.x[i]
			sy += l.y[i]
		}
		k := float64(hi - lo)
		out.x = append(out.x, sx/k)
		out.y = append(out.y, sy/k)
	}
	return out
}

// ---- Markdown ----

func writeMDTable(b *strings.Builder, t table) {
	if len(t.rows) == 0 {
		return
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	b.WriteString("|")
	for _, h := range t.header {
		b.WriteString(" " + esc(h) + " |")
	}
	b.WriteString("\n|")
	for range t.header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// sparkline renders a series with block characters, for Markdown.
func sparkline(y []float64, width int) string {
	if len(y) == 0 {
		return ""
	}
	l := downsample(line{x: make([]float64, len(y)), y: y}, width)
	lo, hi := slices.Min(l.y), slices.Max(l.y)
	bars := []rune("▁▂▃▄▅▆▇█")
	var b strings.Builder
	for _, v := range l.y {
		i := 0
		if hi > lo {
			i = int((v - lo) / (hi - lo) * float64(len(bars)-1))
		}
		b.WriteRune(bars[i])
	}
	return b.String()
}

// WriteMarkdown writes the report as Markdown that pastes into a pull
// request or workshop notes: the same sections as the HTML report, with
// tables in place of charts.
func WriteMarkdown(w io.Writer, recs []*Record, o ReportOptions) error {
	rp := buildReport(recs, o)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rp.opts.Title)
	for _, n := range rp.notices {
		fmt.Fprintf(&b, "> **Note.** %s\n\n", n)
	}
	b.WriteString("## Configuration and machine\n\n")
	writeMDTable(&b, rp.machine)
	results := func() {
		b.WriteString("## Results\n\n")
		b.WriteString("Medians with a 95% confidence range (benchstat style); `~` marks a difference that is not significant at α=0.05.\n\n")
		writeMDTable(&b, rp.results)
	}
	if rp.sweep == nil {
		results()
	}
	if rp.race != nil {
		fmt.Fprintf(&b, "## %s vs %s\n\n", rp.raceA, rp.raceB)
		fmt.Fprintf(&b, "**%s**\n\n", rp.speedup)
		writeMDTable(&b, *rp.race)
	}
	if rp.ablation != nil {
		b.WriteString("## Ablation: the cost of each mistake\n\n")
		b.WriteString("Each scenario is optimized with one mistake put back; costliest first.\n\n")
		writeMDTable(&b, *rp.ablation)
	}
	if sv := rp.sweep; sv != nil {
		b.WriteString("## Top configurations\n\n")
		fmt.Fprintf(&b, "Ranked by %s; cells that satisfy the constraints come first.\n\n", sv.objective)
		writeMDTable(&b, sv.top)
		b.WriteString("## Sweep grid: throughput by batch size and concurrency\n\n")
		if len(sv.otherDims) > 0 {
			fmt.Fprintf(&b, "Each cell is the best median over %s.\n\n", strings.Join(sv.otherDims, ", "))
		}
		writeMDTable(&b, sv.gridTable())
		results()
	}
	if len(rp.latency.rows) > 0 {
		b.WriteString("## Latency percentiles\n\nPer-batch latency, from a batch entering inference to its results.\n\n")
		writeMDTable(&b, rp.latency)
	}
	if len(rp.probe.rows) > 0 {
		fmt.Fprintf(&b, "## batch_size: auto\n\n%s\n\n", probeIntro)
		writeMDTable(&b, rp.probe)
	}
	if rp.rep != nil {
		fmt.Fprintf(&b, "## Where the time went: %s\n\n", rp.repName)
		writeMDTable(&b, rp.ops)
	}
	if rp.util != nil {
		fmt.Fprintf(&b, "## %s over time\n\n", rp.util.name)
		for _, l := range rp.util.lines {
			fmt.Fprintf(&b, "`%s` %s (%s, peak %.2f)\n\n", sparkline(l.y, 60), l.name, rp.util.unit, slices.Max(l.y))
		}
		fmt.Fprintf(&b, "%s.\n\n", rp.utilNote)
	}
	if rp.gpu != nil {
		rp.gpu.writeMarkdown(&b)
	}
	if rp.rep != nil {
		fmt.Fprintf(&b, "## Diagnosis: %s\n\n", rp.repName)
		if len(rp.diag) == 0 {
			b.WriteString("No rule fired: no stage is starved or saturated out of balance, and nothing is wasted.\n\n")
		}
		for _, d := range rp.diag {
			fmt.Fprintf(&b, "- **%s** (%s): %s → %s.\n", d.Rule, d.Severity, d.Finding, d.Knob)
		}
		b.WriteString("\n")
	}
	if rp.notes.Len() > 0 {
		b.WriteString("## Notes\n\n")
		for _, l := range strings.Split(strings.TrimSuffix(rp.notes.String(), "\n"), "\n") {
			b.WriteString(l + "  \n")
		}
		b.WriteString("\n")
	}
	b.WriteString("## Metric definitions\n\n")
	b.WriteString(opDefinitions)
	b.WriteString("\n")
	if err := nvml.WriteDefinitions(&b); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// opDefinitions explains the per-operator times in Markdown.
const opDefinitions = `- **busy**: time the operator's tasks were executing.
- **starved**: time it had free capacity but no input (the stage before it is slower).
- **backpressured**: time its output was held back because the stage after it is full.
- **pending**: time input waited for resources (CPU, GPU or memory budget).
- **utilisation**: busy time over available task-slot time; 100% means saturated.
`

// gridTable renders the sweep grid as rows of concurrency and columns of
// batch size.
func (sv *sweepView) gridTable() table {
	t := table{header: []string{"concurrency \\ batch"}}
	t.header = append(t.header, sv.batches...)
	for _, c := range sv.concs {
		row := []string{c}
		for _, b := range sv.batches {
			k := [2]string{b, c}
			switch {
			case sv.status[k] != "":
				row = append(row, sv.status[k])
			case !hasKey(sv.value, k):
				row = append(row, "·")
			default:
				row = append(row, FormatValue(sv.value[k], ""))
			}
		}
		t.add(row...)
	}
	return t
}

func hasKey[K comparable, V any](m map[K]V, k K) bool { _, ok := m[k]; return ok }

// ---- comparison of two result sets ----

// WriteComparison compares two result sets benchstat-style: one table per
// metric, a row per configuration present in both, the baseline a and the
// new b as medians ± spread, and the change with its p-value, or "~" when
// the Mann-Whitney U test finds no significant difference. format is
// "text", "md" or "html".
func WriteComparison(w io.Writer, a, b []*Record, aName, bName, format string) error {
	ga, gb := groupRecords(a), groupRecords(b)
	byKey := map[string]*group{}
	for _, g := range gb {
		byKey[g.match] = g
	}
	var notes Footnotes
	var tables []table
	var titles []string
	for _, name := range RaceMetrics {
		m, _ := LookupMetric(name)
		if m.Kind == KindCount {
			continue
		}
		t := table{header: []string{m.Label, aName, bName, "vs base"}}
		unit := m.Unit
		for _, g := range ga {
			h := byKey[g.match]
			if h == nil {
				continue
			}
			xa, xb := g.values(m.Name), h.values(m.Name)
			if len(xa) == 0 || len(xb) == 0 {
				continue
			}
			c := Compare(xa, xb, DefaultAlpha)
			t.add(g.name(), c.A.Format(unit)+notes.Mark(c.A.Warnings...), c.B.Format(unit)+notes.Mark(c.B.Warnings...),
				c.String()+notes.Mark(c.Warnings...))
		}
		if len(t.rows) > 0 {
			tables = append(tables, t)
			titles = append(titles, m.Label)
		}
	}
	ct, cts := localVsCluster(a, b)
	tables, titles = append(tables, ct...), append(titles, cts...)
	if len(tables) == 0 {
		return fmt.Errorf("%s and %s share no configuration (same scenario and label) with completed runs", aName, bName)
	}
	var sb strings.Builder
	switch format {
	case "md":
		fmt.Fprintf(&sb, "# %s vs %s\n\n", aName, bName)
		for _, t := range tables {
			writeMDTable(&sb, t)
		}
		for _, l := range strings.Split(strings.TrimSuffix(notes.String(), "\n"), "\n") {
			if l != "" {
				sb.WriteString(l + "  \n")
			}
		}
	case "html":
		var body strings.Builder
		for i, t := range tables {
			fmt.Fprintf(&body, "<section><h2>%s</h2>\n", htmlEsc(titles[i]))
			writeHTMLTable(&body, t, false)
			body.WriteString("</section>\n")
		}
		if notes.Len() > 0 {
			body.WriteString("<section><h2>Notes</h2>\n<pre>" + htmlEsc(notes.String()) + "</pre></section>\n")
		}
		writeHTMLPage(&sb, aName+" vs "+bName, body.String())
	default:
		writeTextTables(&sb, tables)
		sb.WriteString(notes.String())
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
