package ray

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"workbench/bench"
)

// Unknown marks a figure the cluster did not supply, so an empty metric
// never reads as a measured zero.
const Unknown = "–"

// NoPrometheusNote explains Unknown where a metric column is empty.
const NoPrometheusNote = Unknown + " = no data from Prometheus: rows/s, CPU, GPU, memory and spill are Prometheus queries " +
	"(the dashboard's RAY_PROMETHEUS_HOST); state and progress come from Ray itself"

// NotYetNote explains Unknown when Prometheus answered for other figures:
// the empty ones have no series (not yet, or never: a CPU operator has no
// GPU series), not a missing Prometheus.
const NotYetNote = Unknown + " = Prometheus has no series for that operator and figure: none recorded yet, " +
	"or none at all (an operator without a GPU has no GPU series)"

// DataLines renders a snapshot's datasets as plain text at most width
// columns wide, one table per dataset, the way local runs list their
// operators: state, progress/total blocks, output rows/s, CPU and GPU cores
// in use, object store bytes held and spilled, then the bottleneck. A
// snapshot without datasets renders its DataNote; notes wrap rather than
// lose their end. Styling is the caller's.
func DataLines(s Snapshot, width int) []string {
	if len(s.Datasets) == 0 {
		if s.DataNote == "" {
			return nil
		}
		return bench.WrapText(s.DataNote, width, "  ")
	}
	// The columns after the name take 55 cells with their gaps; the name
	// gets the rest, up to what the longest Ray operator names need.
	nameW := min(max(12, width-2-55), 44)
	row := func(name, state, prog, rate, cpu, gpu, cur, spill string) string {
		return fit(fmt.Sprintf("  %-*s %-8s %9s %6s %5s %4s %8s %8s", nameW, fit(name, nameW),
			fit(state, 8), prog, rate, cpu, gpu, cur, spill), width)
	}
	var lines []string
	// unknown: some cell is empty; gauged: Prometheus answered for some
	// gauge, so the empty ones are not yet measured rather than missing.
	unknown, gauged := false, false
	cell := func(g Gauge, useMax bool, f func(float64) string) string {
		v, ok := g.Value, g.HasValue
		if useMax {
			v, ok = g.Max, g.HasMax
		}
		if !ok {
			unknown = true
			return Unknown
		}
		gauged = true
		return f(v)
	}
	rateCell := func(r float64, ok bool) string {
		if !ok {
			unknown = true
			return Unknown
		}
		return humanCount(r)
	}
	for _, d := range s.Datasets {
		head := fmt.Sprintf("dataset %s  %s  %d/%d blocks", shortTag(d.Dataset), d.State, d.Progress, d.Total)
		if d.OutputRows.HasMax {
			head += fmt.Sprintf("  %s rows", humanCount(d.OutputRows.Max))
		}
		if w := d.Wall(s.At); w > 0 {
			head += "  " + w.Round(100*time.Millisecond).String()
		}
		lines = append(lines, fit(head, width))
		lines = append(lines, row("OPERATOR", "STATE", "PROGRESS", "ROWS/S", "CPU", "GPU", "MEM", "SPILLED"))
		for _, o := range d.Ops {
			lines = append(lines, row(o.Label(), o.State, fmt.Sprintf("%d/%d", o.Progress, o.Total),
				rateCell(o.RowsPerSec, o.HasRate),
				cell(o.CPUCores, false, cores), cell(o.GPUCores, false, cores),
				cell(o.CurrentBytes, false, humanBytes), cell(o.SpilledBytes, true, humanBytes)))
		}
		lines = append(lines, row("total", d.State, fmt.Sprintf("%d/%d", d.Progress, d.Total),
			rateCell(d.RowsPerSec, d.HasRate),
			cell(d.CPUCores, false, cores), cell(d.GPUCores, false, cores),
			cell(d.CurrentBytes, false, humanBytes), cell(d.SpilledBytes, true, humanBytes)))
		b := d.Bottleneck
		if d.State != DataRunning {
			b = d.Usual
		}
		lines = append(lines, fit("  bottleneck: "+b.String(), width))
	}
	switch {
	case unknown && gauged:
		lines = append(lines, bench.WrapText(NotYetNote, width, "  ")...)
	case unknown:
		lines = append(lines, bench.WrapText(NoPrometheusNote, width, "  ")...)
	}
	return trimRight(lines)
}

func cores(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// humanCount renders a count or rate with a k/M suffix.
func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// humanBytes renders bytes in binary units with three significant digits,
// at most eight cells ("1023 KiB" is the widest).
func humanBytes(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	prec := 0
	switch {
	case i == 0 || v >= 100:
	case v >= 10:
		prec = 1
	default:
		prec = 2
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + units[i]
}

// shortTag shortens a dataset tag "<name>_<uuid>_<run>" to its name, the
// uuid's first 8 hex digits and the run, which is enough to tell datasets
// apart and keeps the line short.
func shortTag(tag string) string {
	parts := strings.Split(tag, "_")
	if n := len(parts); n >= 3 && len(parts[n-2]) == 32 {
		parts[n-2] = parts[n-2][:8]
	}
	return strings.Join(parts, "_")
}

// fit cuts s to at most w runes, marking a cut with "…".
func fit(s string, w int) string {
	if w <= 0 || utf8.RuneCountInString(s) <= w {
		return s
	}
	r := []rune(s)
	return string(r[:w-1]) + "…"
}

// trimRight drops trailing spaces from every line, for stable goldens.
func trimRight(lines []string) []string {
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return lines
}
