package bench

import (
	"fmt"
	"slices"
	"strings"

	"workbench/nvml"
)

// gpuView is what a report shows of the representative run's GPUs beyond
// util: per GPU, a chart of util beside the GPM activity figures and NVJPG
// where the GPU gave them, the summary table, and plain sentences for what
// it could not give, with why.
type gpuView struct {
	charts []*series
	// unavailable holds, per chart, one sentence per reason.
	unavailable [][]string
	summary     table
}

// gpuActivity are the metrics charted beside util, with their labels.
var gpuActivity = []struct {
	m     nvml.Metric
	label string
}{
	{nvml.GPUUtil, "util"},
	{nvml.SMActivity, "SM activity"},
	{nvml.SMOccupancy, "SM occupancy"},
	{nvml.TensorActivity, "tensor activity"},
	{nvml.DRAMBandwidth, "DRAM bandwidth"},
	{nvml.NVJPGUtil, "NVJPG"},
}

// maxGPUCharts bounds the charts: an 8-GPU machine gets one each, a larger
// one its first eight, and the table still lists every GPU.
const maxGPUCharts = 8

func (rp *report) buildGPU() {
	if rp.rep == nil || rp.rep.Telemetry == nil || !rp.rep.Telemetry.Summary.GPUAvailable || len(rp.rep.Telemetry.Summary.GPUs) == 0 {
		return
	}
	tel := rp.rep.Telemetry
	v := &gpuView{summary: table{header: []string{"GPU", "util", "SM activity", "SM occupancy", "tensor", "DRAM bw", "NVJPG",
		"memory peak", "this process", "power", "SM clock", "mem clock", "PCIe rx", "PCIe tx"}}}
	for gi, g := range tel.Summary.GPUs {
		v.summary.add(gpuSummaryRow(g)...)
		if gi >= maxGPUCharts {
			continue
		}
		s := &series{name: fmt.Sprintf("GPU %d (%s): util and what the SMs did", g.Index, g.Name), unit: "%"}
		for _, a := range gpuActivity {
			l := line{name: a.label}
			for _, smp := range tel.Samples {
				if gi >= len(smp.GPUs) {
					continue
				}
				if y, ok := smp.GPUs[gi].Value(a.m); ok {
					l.x = append(l.x, smp.ElapsedS)
					l.y = append(l.y, y)
				}
			}
			if len(l.x) > 0 {
				s.lines = append(s.lines, downsample(l, rp.opts.MaxPoints))
			}
		}
		v.charts = append(v.charts, s)
		v.unavailable = append(v.unavailable, unavailableSentences(g))
	}
	rp.gpu = v
}

// gpuSummaryRow is one GPU's row of the summary table; a figure the GPU
// did not give reads "unavailable", never 0.
func gpuSummaryRow(g nvml.GPUSummary) []string {
	opt := func(p *float64, unit string) string {
		if p == nil {
			return "unavailable"
		}
		return FormatValue(*p, unit)
	}
	rate := func(p *float64) string {
		if p == nil {
			return "unavailable"
		}
		return FormatValue(*p, UnitBytes) + "/s"
	}
	has := func(m nvml.Metric) bool { _, gone := g.Unavailable[m.String()]; return !gone }
	val := func(m nvml.Metric, v float64, unit string) string {
		if !has(m) {
			return "unavailable"
		}
		return FormatValue(v, unit)
	}
	// Clocks print whole, as nvidia-smi does: "1980 MHz", not "1.98k MHz".
	mhz := func(v float64, ok bool) string {
		if !ok {
			return "unavailable"
		}
		return fmt.Sprintf("%.0f MHz", v)
	}
	deref := func(p *float64) float64 {
		if p == nil {
			return 0
		}
		return *p
	}
	name := fmt.Sprintf("%d %s", g.Index, g.Name)
	if g.Architecture != "" {
		name += " (" + g.Architecture + ")"
	}
	return []string{name, val(nvml.GPUUtil, g.UtilMeanPct, UnitPercent),
		opt(g.SMActivityMeanPct, UnitPercent), opt(g.SMOccupancyMeanPct, UnitPercent), opt(g.TensorActivityMeanPct, UnitPercent),
		opt(g.DRAMBWUtilMeanPct, UnitPercent), opt(g.NVJPGUtilMeanPct, UnitPercent),
		val(nvml.MemUsed, float64(g.MemPeakBytes), UnitBytes), val(nvml.ProcGPUMem, float64(g.ProcMemPeak), UnitBytes),
		val(nvml.Power, g.PowerMeanW, "W"), mhz(g.SMClockMeanMHz, has(nvml.SMClock)), mhz(deref(g.MemClockMeanMHz), g.MemClockMeanMHz != nil),
		rate(g.PCIeRxMeanBytesPerS), rate(g.PCIeTxMeanBytesPerS)}
}

// unavailableSentences says, one sentence per reason, which charted
// metrics the GPU could not give: "SM activity, SM occupancy, tensor
// activity and DRAM bandwidth are unavailable: GPM needs Hopper or newer
// (this GPU is Ampere)."
func unavailableSentences(g nvml.GPUSummary) []string {
	order := make([]nvml.Metric, len(gpuActivity))
	label := map[nvml.Metric]string{}
	for i, a := range gpuActivity {
		order[i], label[a.m] = a.m, a.label
	}
	var out []string
	for _, u := range nvml.ByReason(g.Unavailable, order) {
		names := make([]string, len(u.Metrics))
		for i, m := range u.Metrics {
			names[i] = label[m]
		}
		verb, list := "is", names[0]
		if len(names) > 1 {
			verb, list = "are", strings.Join(names[:len(names)-1], ", ")+" and "+names[len(names)-1]
		}
		out = append(out, fmt.Sprintf("GPU %d: %s %s unavailable: %s.", g.Index, list, verb, u.Reason))
	}
	return out
}

// writeHTML writes the GPU section: a chart per GPU beside util, what
// is unavailable and why, and the summary table.
func (v *gpuView) writeHTML(b *strings.Builder) {
	b.WriteString("<p class=\"muted\">util is the share of time any kernel ran; SM activity, SM occupancy, tensor activity and DRAM bandwidth (GPM, Hopper or newer) say how much of the GPU those kernels used. See the metric definitions below.</p>\n")
	for i, s := range v.charts {
		if len(s.lines) > 0 {
			b.WriteString(utilSVG(s))
		}
		for _, u := range v.unavailable[i] {
			fmt.Fprintf(b, "<p class=\"notice\">%s</p>\n", htmlEsc(u))
		}
	}
	writeHTMLTable(b, v.summary, false)
}

// writeMarkdown writes the same as sparklines and the table.
func (v *gpuView) writeMarkdown(b *strings.Builder) {
	b.WriteString("## GPU activity beside util\n\n")
	for i, s := range v.charts {
		fmt.Fprintf(b, "%s\n\n", s.name)
		for _, l := range s.lines {
			fmt.Fprintf(b, "`%s` %s (%%, peak %.2f)\n\n", sparkline(l.y, 60), l.name, slices.Max(l.y))
		}
		for _, u := range v.unavailable[i] {
			fmt.Fprintf(b, "%s\n\n", u)
		}
	}
	writeMDTable(b, v.summary)
}
