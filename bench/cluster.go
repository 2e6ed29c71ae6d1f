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
	"strings"
	"text/tabwriter"
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
	Address      string  `json:"address,omitempty"` // credentials redacted
	SubmissionID string  `json:"submission_id"`
	JobID        string  `json:"job_id"`
	JobStatus    string  `json:"job_status"`
	Dataset      string  `json:"dataset"`
	TunedFrom    string  `json:"tuned_from,omitempty"` // the local results file the export was tuned from
	PeakCPUCores float64 `json:"peak_cpu_cores"`
	PeakGPUCores float64 `json:"peak_gpu_cores"`
	MeanCPUCores float64 `json:"mean_cpu_cores"`
	MeanGPUCores float64 `json:"mean_gpu_cores"`
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

// pickPair finds one local and one cluster record among the two sets; ok is
// false unless exactly that pair is there to compare.
func pickPair(a, b []*Record) (local, cluster *Record, ok bool) {
	for _, r := range append(append([]*Record(nil), a...), b...) {
		switch {
		case r.Kind == KindCluster && cluster == nil:
			cluster = r
		case r.Kind != KindCluster && local == nil && r.Status == StatusOK:
			local = r
		}
	}
	return local, cluster, local != nil && cluster != nil
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
