package bench

// A cluster run is the exported job as it ran on Ray, watched through the
// dashboard's Ray Data view (ray.Watch). It is written as a Record like a
// local run, with Kind "cluster", so `workbench report local.json
// cluster.json` can put the prediction (the local run the export was tuned
// from) beside the reality.

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Record kinds.
const (
	KindRun     = "run"
	KindCluster = "cluster"
)

// ClusterInfo is what only a cluster record has. Cores are Ray Data's
// ray_data_cpu_usage_cores and ray_data_gpu_usage_cores: peaks are the most
// seen, means average the polls while the dataset ran; all four are 0 and
// named in Missing when Prometheus supplied none.
type ClusterInfo struct {
	Address      string `json:"address,omitempty"` // credentials redacted
	SubmissionID string `json:"submission_id"`
	JobID        string `json:"job_id"`
	JobStatus    string `json:"job_status"`
	Dataset      string `json:"dataset"`
	TunedFrom    string `json:"tuned_from,omitempty"` // the local results the export was tuned from, as export ray --from says it
	// TunedFromFile is that results file's absolute path on the machine
	// that exported the job, and TunedFromLabel the cell export took from
	// it, so the local run can be found again (LocalPrediction).
	TunedFromFile  string  `json:"tuned_from_file,omitempty"`
	TunedFromLabel string  `json:"tuned_from_label,omitempty"`
	PeakCPUCores   float64 `json:"peak_cpu_cores"`
	PeakGPUCores   float64 `json:"peak_gpu_cores"`
	MeanCPUCores   float64 `json:"mean_cpu_cores"`
	MeanGPUCores   float64 `json:"mean_gpu_cores"`
	// Missing names the figures the cluster left empty (no Prometheus), so
	// a reader never takes their zeros for measurements.
	Missing []string    `json:"missing,omitempty"`
	Ops     []ClusterOp `json:"ops"`
}

// ClusterOp is one Ray Data operator's figures at the end of the job.
type ClusterOp struct {
	Name         string  `json:"name"`
	State        string  `json:"state"`
	Progress     int64   `json:"progress"`
	Total        int64   `json:"total"`
	Rows         float64 `json:"rows"`
	PeakCPUCores float64 `json:"peak_cpu_cores"`
	PeakGPUCores float64 `json:"peak_gpu_cores"`
	PeakBytes    float64 `json:"peak_bytes"`
	SpilledBytes float64 `json:"spilled_bytes"`
}

// stageRoles names the stages of the classification pipeline by the words
// their operators carry, locally ("ReadImages", "Preprocess", "Inference",
// "Write") and on Ray ("ReadImage->MapBatches(preprocess)",
// "MapBatches(Predictor)", "Write"), so a fused Ray operator maps onto the
// local operators it stands for.
var stageRoles = []struct{ role, words string }{
	{"read", "read"}, {"preprocess", "preprocess"}, {"infer", "infer predictor"}, {"write", "write"},
}

func rolesOf(name string) []string {
	n := strings.ToLower(name)
	var roles []string
	for _, sr := range stageRoles {
		for _, w := range strings.Fields(sr.words) {
			if strings.Contains(n, w) {
				roles = append(roles, sr.role)
				break
			}
		}
	}
	return roles
}

// localCores is the local run's mean CPU cores: the sampler's mean when it
// ran, else the process CPU over wall time.
func localCores(r *Record) float64 {
	if r.Telemetry != nil && r.Telemetry.Summary.Host.CPUCoresMean > 0 {
		return r.Telemetry.Summary.Host.CPUCoresMean
	}
	return r.CPUPercent / 100
}

// localGPUs is how many GPUs the local run used.
func localGPUs(r *Record) float64 {
	if !strings.HasPrefix(r.Config.Device, "cuda") {
		return 0
	}
	if r.Telemetry != nil && len(r.Telemetry.Summary.GPUs) > 0 {
		return float64(len(r.Telemetry.Summary.GPUs))
	}
	return 1
}

// per divides, or says why it cannot.
func per(x, d float64, unit string) string {
	if d <= 0 || math.IsNaN(d) {
		return Unknown
	}
	return FormatValue(x/d, unit)
}

// Unknown marks a figure a record does not hold.
const Unknown = "–"

// ratioCell renders b/a as "0.42×", or Unknown.
func ratioCell(a, b float64) string {
	if a <= 0 || b <= 0 {
		return Unknown
	}
	return fmt.Sprintf("%.2f×", b/a)
}

// differs is how far apart two per-core figures must be to count as a
// difference worth naming: 25% either way.
const differs = 1.25

// pickPair finds one local and one cluster record among the two sets: the
// first cluster record, and the local run LocalPrediction picks for it; ok
// is false unless both are there to compare.
func pickPair(a, b []*Record) (local, cluster *Record, ok bool) {
	var locals []*Record
	for _, r := range append(append([]*Record(nil), a...), b...) {
		switch {
		case r.Kind == KindCluster && cluster == nil:
			cluster = r
		case r.Kind != KindCluster:
			locals = append(locals, r)
		}
	}
	if cluster == nil {
		return nil, nil, false
	}
	label := ""
	if cluster.Cluster != nil {
		label = cluster.Cluster.TunedFromLabel
	}
	local, ok = LocalPrediction(locals, label)
	return local, cluster, ok
}

// LocalPrediction picks, among a local results file's records, the run a
// cluster job is compared with: the cell labelled label (the best cell
// export ray --from took, carried in the job's metadata) when the file
// holds it, else the file's best cell (BestCell); of that cell's completed
// repeats, the one with the median throughput (the lower of the two middle
// ones), so one lucky or unlucky repeat does not stand for the prediction.
// Cluster records are left out; ok is false when no completed local run
// remains.
func LocalPrediction(recs []*Record, label string) (*Record, bool) {
	var local []*Record
	for _, r := range recs {
		if r.Kind != KindCluster && (r.Status == "" || r.Status == StatusOK) {
			local = append(local, r)
		}
	}
	cell := func(l string) []*Record {
		var rs []*Record
		for _, r := range local {
			if r.Label == l {
				rs = append(rs, r)
			}
		}
		return rs
	}
	rs := cell(label)
	if label == "" || len(rs) == 0 {
		best, ok := BestCell(local)
		if !ok {
			return nil, false
		}
		rs = cell(best.Label)
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Throughput < rs[j].Throughput })
	return rs[(len(rs)-1)/2], true
}

// localVsCluster builds the prediction-vs-reality tables when one set holds
// a local run and the other a cluster run: overall, per operator, and where
// they differ. It returns no tables otherwise.
func localVsCluster(a, b []*Record) ([]table, []string) {
	local, cluster, ok := pickPair(a, b)
	if !ok {
		return nil, nil
	}
	ci := cluster.Cluster
	if ci == nil {
		ci = &ClusterInfo{}
	}
	lc, lg := localCores(local), localGPUs(local)
	cc, cg := ci.MeanCPUCores, ci.MeanGPUCores
	if cc <= 0 {
		cc = ci.PeakCPUCores
	}
	if cg <= 0 {
		cg = ci.PeakGPUCores
	}
	overall := table{header: []string{"local vs cluster", "local", "cluster", "cluster / local"}}
	overall.add("throughput", FormatValue(local.Throughput, "img/s"), FormatValue(cluster.Throughput, "img/s"), ratioCell(local.Throughput, cluster.Throughput))
	overall.add("CPU cores (mean)", fmt.Sprintf("%.1f", lc), coresCell(cc), ratioCell(lc, cc))
	overall.add("GPUs", fmt.Sprintf("%.0f", lg), coresCell(cg), ratioCell(lg, cg))
	overall.add("throughput per CPU core", per(local.Throughput, lc, "img/s"), per(cluster.Throughput, cc, "img/s"), ratioCell(safeDiv(local.Throughput, lc), safeDiv(cluster.Throughput, cc)))
	overall.add("throughput per GPU", per(local.Throughput, lg, "img/s"), per(cluster.Throughput, cg, "img/s"), ratioCell(safeDiv(local.Throughput, lg), safeDiv(cluster.Throughput, cg)))
	overall.add("bottleneck", shortBottleneck(local.Bottleneck), shortBottleneck(cluster.Bottleneck), sameStage(local.Bottleneck, cluster.Bottleneck))

	ops := table{header: []string{"operator (cluster ← local)", "local rows/s", "cluster rows/s", "local rows/s per core", "cluster rows/s per peak core", "cluster peak GPUs"}}
	var findings []string
	for _, co := range ci.Ops {
		roles := rolesOf(co.Name)
		var names []string
		var rows, cpuS float64
		for _, lo := range local.Ops {
			if overlaps(rolesOf(lo.Name), roles) {
				names = append(names, lo.Name)
				rows = float64(lo.RowsOut) // the last of a fused chain emits the rows
				cpuS += lo.CPUSeconds
			}
		}
		label := co.Name
		if len(names) > 0 {
			label += " ← " + strings.Join(names, "+")
		}
		lRate, cRate := safeDiv(rows, local.WallSeconds), safeDiv(co.Rows, cluster.WallSeconds)
		lPer, cPer := safeDiv(rows, cpuS), safeDiv(co.Rows, co.PeakCPUCores*cluster.WallSeconds)
		gpu := Unknown
		if co.PeakGPUCores > 0 {
			gpu = fmt.Sprintf("%.1f", co.PeakGPUCores)
		}
		ops.add(label, rateCell(lRate), rateCell(cRate), rateCell(lPer), rateCell(cPer), gpu)
		if lPer > 0 && cPer > 0 && (cPer/lPer > differs || lPer/cPer > differs) {
			findings = append(findings, fmt.Sprintf("%s does %.2f× the local rows per CPU core-second", co.Name, cPer/lPer))
		}
	}
	if s := sameStage(local.Bottleneck, cluster.Bottleneck); s == "different stages" {
		findings = append([]string{fmt.Sprintf("the bottleneck moved: %s locally, %s on the cluster",
			shortBottleneck(local.Bottleneck), shortBottleneck(cluster.Bottleneck))}, findings...)
	}
	for _, m := range []struct {
		name string
		l, c float64
	}{{"throughput per CPU core", safeDiv(local.Throughput, lc), safeDiv(cluster.Throughput, cc)},
		{"throughput per GPU", safeDiv(local.Throughput, lg), safeDiv(cluster.Throughput, cg)}} {
		if m.l > 0 && m.c > 0 && (m.c/m.l > differs || m.l/m.c > differs) {
			findings = append(findings, fmt.Sprintf("%s is %.2f× the local figure", m.name, m.c/m.l))
		}
	}
	if len(ci.Missing) > 0 {
		findings = append(findings, "not compared, the cluster left them empty: "+strings.Join(ci.Missing, ", "))
	}
	if len(findings) == 0 {
		findings = append(findings, fmt.Sprintf("none: the cluster did what the local run predicted, within %.0f%% per core", (differs-1)*100))
	}
	diff := table{header: []string{"where they differ"}}
	for _, f := range findings {
		diff.add(f)
	}
	return []table{overall, ops, diff}, []string{"Local vs cluster", "Local vs cluster: per operator", "Local vs cluster: where they differ"}
}

func coresCell(v float64) string {
	if v <= 0 {
		return Unknown
	}
	return fmt.Sprintf("%.1f", v)
}

func rateCell(v float64) string {
	if v <= 0 {
		return Unknown
	}
	return FormatValue(v, "")
}

func safeDiv(x, d float64) float64 {
	if d <= 0 {
		return 0
	}
	return x / d
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// shortBottleneck is a bottleneck string without its evidence.
func shortBottleneck(s string) string {
	if i := strings.Index(s, " ("); i > 0 {
		return s[:i]
	}
	if strings.HasPrefix(s, "no single bottleneck") || strings.HasPrefix(s, "unknown") {
		before, _, _ := strings.Cut(s, ":")
		return before
	}
	return s
}

// sameStage says whether two bottlenecks name the same pipeline stage.
func sameStage(local, cluster string) string {
	l, c := rolesOf(shortBottleneck(local)), rolesOf(shortBottleneck(cluster))
	switch {
	case len(l) == 0 || len(c) == 0:
		return Unknown
	case overlaps(l, c):
		return "same stage"
	}
	return "different stages"
}

// WriteClusterComparison writes the local-vs-cluster tables as aligned text,
// for the TUI and for `submit --follow` when it knows the local record. It
// fails unless one record is local and the other a cluster run.
func WriteClusterComparison(w io.Writer, local, cluster *Record) error {
	tables, _ := localVsCluster([]*Record{local}, []*Record{cluster})
	if tables == nil {
		return fmt.Errorf("need one local run and one cluster run to compare")
	}
	return writeTextTables(w, tables)
}

// ClusterComparisonLines renders the local-vs-cluster tables of
// WriteClusterComparison as lines at most width cells wide, for a screen;
// width 0 means no limit. A table wider than width is stacked: each row's
// first cell on a line of its own, the other cells below it as
// "header: value" pairs, wrapped; a one-column table is wrapped. It fails
// unless one record is local and the other a cluster run.
func ClusterComparisonLines(local, cluster *Record, width int) ([]string, error) {
	tables, _ := localVsCluster([]*Record{local}, []*Record{cluster})
	if tables == nil {
		return nil, fmt.Errorf("need one local run and one cluster run to compare")
	}
	var lines []string
	for i, t := range tables {
		if i > 0 {
			lines = append(lines, "")
		}
		var b strings.Builder
		if err := writeTextTables(&b, []table{t}); err != nil {
			return nil, err
		}
		text := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
		if width <= 0 || widest(text) <= width {
			for _, l := range text {
				lines = append(lines, strings.TrimRight(l, " "))
			}
			continue
		}
		lines = append(lines, WrapText(t.header[0], width, "")...)
		for _, r := range t.rows {
			lines = append(lines, WrapText(r[0], width, "  ")...)
			var pairs []string
			for j := 1; j < len(r) && j < len(t.header); j++ {
				pairs = append(pairs, t.header[j]+": "+r[j])
			}
			if len(pairs) > 0 {
				lines = append(lines, WrapText("  "+strings.Join(pairs, " · "), width, "  ")...)
			}
		}
	}
	return lines, nil
}

func widest(lines []string) int {
	w := 0
	for _, l := range lines {
		w = max(w, utf8.RuneCountInString(strings.TrimRight(l, " ")))
	}
	return w
}

// writeTextTables writes tables as aligned text, a blank line between.
func writeTextTables(w io.Writer, tables []table) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
		for _, r := range t.rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
	}
	return tw.Flush()
}
