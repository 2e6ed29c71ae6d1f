package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"workbench/nvml"
)

func htmlEsc(s string) string { return html.EscapeString(s) }

// reportCSS is inlined into every report: the file must open offline, so
// nothing is fetched, not even a font.
const reportCSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;max-width:1200px;margin:24px auto;padding:0 24px}
h1{font-size:24px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0 12px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right;vertical-align:top;white-space:nowrap}
td:last-child{white-space:normal}
.scroll{overflow-x:auto}
.text td{text-align:left;white-space:normal}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}
table.kv td{text-align:left}table.kv td:first-child{font-weight:600;background:#f6f8fa}
.notice{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px}
.speedup{font-size:18px;font-weight:600}
.diag li{margin:4px 0}.sev{display:inline-block;font-size:11px;padding:1px 6px;border-radius:10px;color:#fff;margin-right:6px}
.sev-bottleneck{background:#cf222e}.sev-waste{background:#bc4c00}.sev-note{background:#6e7781}
svg{max-width:100%;height:auto;font:12px system-ui,sans-serif}
.muted{color:#656d76}pre{background:#f6f8fa;padding:8px;white-space:pre-wrap}`

func writeHTMLPage(b *strings.Builder, title, body string) {
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	fmt.Fprintf(b, "<title>%s</title>\n<style>\n%s\n</style>\n</head>\n<body>\n", htmlEsc(title), reportCSS)
	fmt.Fprintf(b, "<h1>%s</h1>\n", htmlEsc(title))
	b.WriteString(body)
	b.WriteString("</body>\n</html>\n")
}

func writeHTMLTable(b *strings.Builder, t table, kv bool) {
	if len(t.rows) == 0 {
		return
	}
	if kv {
		b.WriteString("<table class=\"kv\">\n")
	} else {
		b.WriteString("<div class=\"scroll\"><table>\n<thead><tr>")
		for _, h := range t.header {
			b.WriteString("<th>" + htmlEsc(h) + "</th>")
		}
		b.WriteString("</tr></thead>\n")
	}
	b.WriteString("<tbody>\n")
	for _, r := range t.rows {
		b.WriteString("<tr>")
		for _, c := range r {
			b.WriteString("<td>" + htmlEsc(c) + "</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	if !kv {
		b.WriteString("</div>\n")
	}
}

// WriteHTML writes the report as one self-contained HTML file: inline CSS
// and inline SVG charts drawn here, no scripts and no external references,
// so it opens offline and can be mailed or attached as it is.
func WriteHTML(w io.Writer, recs []*Record, o ReportOptions) error {
	rp := buildReport(recs, o)
	var b strings.Builder
	section := func(id, title string) { fmt.Fprintf(&b, "<section id=\"%s\">\n<h2>%s</h2>\n", id, htmlEsc(title)) }
	end := func() { b.WriteString("</section>\n") }
	for _, n := range rp.notices {
		fmt.Fprintf(&b, "<p class=\"notice\"><strong>Note.</strong> %s</p>\n", htmlEsc(n))
	}
	section("machine", "Configuration and machine")
	writeHTMLTable(&b, rp.machine, true)
	end()

	results := func() {
		section("results", "Results")
		b.WriteString("<p class=\"muted\">Medians with a 95% confidence range (benchstat style); <code>~</code> marks a difference that is not significant at α=0.05.</p>\n")
		writeHTMLTable(&b, rp.results, false)
		end()
	}
	if rp.sweep == nil {
		results()
	}

	if rp.race != nil {
		section("race", rp.raceA+" vs "+rp.raceB)
		fmt.Fprintf(&b, "<p class=\"speedup\">%s</p>\n", htmlEsc(rp.speedup))
		writeHTMLTable(&b, *rp.race, false)
		end()
	}
	if rp.ablation != nil {
		section("ablation", "Ablation: the cost of each mistake")
		b.WriteString("<p class=\"muted\">Each scenario is optimized with one mistake put back; costliest first.</p>\n")
		writeHTMLTable(&b, *rp.ablation, false)
		end()
	}
	if sv := rp.sweep; sv != nil {
		section("top", "Top configurations")
		fmt.Fprintf(&b, "<p class=\"muted\">Ranked by %s; cells that satisfy the constraints come first.</p>\n", htmlEsc(sv.objective))
		writeHTMLTable(&b, sv.top, false)
		end()
		section("throughput-vs-batch", "Throughput vs batch size")
		if len(sv.otherDims) > 0 {
			fmt.Fprintf(&b, "<p class=\"muted\">Each point is the best median over %s.</p>\n", htmlEsc(strings.Join(sv.otherDims, ", ")))
		}
		b.WriteString(sv.lineSVG())
		end()
		section("heatmap", "Sweep grid heatmap")
		b.WriteString(sv.heatmapSVG())
		end()
		results() // a sweep's table is long: charts first
	}
	if len(rp.latRows) > 0 {
		section("latency", "Latency percentiles")
		b.WriteString("<p class=\"muted\">Per-batch latency, from a batch entering inference to its results.</p>\n")
		b.WriteString(latencySVG(rp.latRows))
		writeHTMLTable(&b, rp.latency, false)
		end()
	}
	if len(rp.probe.rows) > 0 {
		section("batch-probe", "batch_size: auto")
		fmt.Fprintf(&b, "<p class=\"muted\">%s</p>\n", html.EscapeString(probeIntro))
		writeHTMLTable(&b, rp.probe, false)
		end()
	}
	if rp.rep != nil {
		section("operators", "Where the time went: "+rp.repName)
		b.WriteString(opsSVG(rp.rep.Ops))
		writeHTMLTable(&b, rp.ops, false)
		end()
	}
	if rp.util != nil {
		section("utilisation", rp.util.name+" over time")
		b.WriteString(utilSVG(rp.util))
		fmt.Fprintf(&b, "<p class=\"muted\">%s.</p>\n", htmlEsc(rp.utilNote))
		end()
	}
	if rp.gpu != nil {
		section("gpu-activity", "GPU activity beside util")
		rp.gpu.writeHTML(&b)
		end()
	}
	if rp.rep != nil {
		section("diagnosis", "Diagnosis: "+rp.repName)
		if len(rp.diag) == 0 {
			b.WriteString("<p>No rule fired: no stage is starved or saturated out of balance, and nothing is wasted.</p>\n")
		} else {
			b.WriteString("<ul class=\"diag\">\n")
			for _, d := range rp.diag {
				fmt.Fprintf(&b, "<li><span class=\"sev sev-%s\">%s</span><strong>%s</strong>: %s → <em>%s</em>.</li>\n",
					htmlEsc(d.Severity), htmlEsc(d.Severity), htmlEsc(d.Rule), htmlEsc(d.Finding), htmlEsc(d.Knob))
			}
			b.WriteString("</ul>\n")
		}
		end()
	}
	if rp.notes.Len() > 0 {
		section("notes", "Notes")
		b.WriteString("<pre>" + htmlEsc(rp.notes.String()) + "</pre>\n")
		end()
	}
	section("definitions", "Metric definitions")
	b.WriteString("<ul>\n")
	for _, l := range strings.Split(strings.TrimSpace(opDefinitions), "\n") {
		l = strings.TrimPrefix(l, "- ")
		name, rest, _ := strings.Cut(strings.TrimPrefix(l, "**"), "**")
		fmt.Fprintf(&b, "<li><strong>%s</strong>%s</li>\n", htmlEsc(name), htmlEsc(rest))
	}
	b.WriteString("</ul>\n")
	defs := table{header: []string{"Metric", "Scope", "Unit", "Source", "Meaning"}}
	for _, d := range nvml.Table() {
		defs.add(d.Name, d.Scope, d.Unit, d.Source, d.Meaning)
	}
	b.WriteString("<div class=\"text\">\n")
	writeHTMLTable(&b, defs, false)
	b.WriteString("</div>\n")
	end()

	var page strings.Builder
	writeHTMLPage(&page, rp.opts.Title, b.String())
	_, err := io.WriteString(w, page.String())
	return err
}

// ---- SVG charts ----

// palette is colour-blind-safe (Okabe-Ito).
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}

// niceMax rounds a positive maximum up to 1, 2 or 5 times a power of ten,
// so axes end on a round number.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

type plot struct {
	w, h, left, right, top, bottom float64
}

func (p plot) innerW() float64 { return p.w - p.left - p.right }
func (p plot) innerH() float64 { return p.h - p.top - p.bottom }

func (p plot) open(b *strings.Builder, class, title string) {
	fmt.Fprintf(b, "<svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %g %g\" width=\"%g\" height=\"%g\" role=\"img\" aria-label=\"%s\">\n",
		class, p.w, p.h, p.w, p.h, htmlEsc(title))
	fmt.Fprintf(b, "<title>%s</title>\n", htmlEsc(title))
}

// yAxis draws horizontal grid lines and labels from 0 to ymax.
func (p plot) yAxis(b *strings.Builder, ymax float64, unit, label string) {
	for i := 0; i <= 5; i++ {
		v := ymax * float64(i) / 5
		y := p.top + p.innerH()*(1-float64(i)/5)
		fmt.Fprintf(b, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#d0d7de\"/>\n", p.left, y, p.w-p.right, y)
		fmt.Fprintf(b, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", p.left-6, y, htmlEsc(FormatValue(v, unit)))
	}
	fmt.Fprintf(b, "<text x=\"14\" y=\"%g\" transform=\"rotate(-90 14 %g)\" text-anchor=\"middle\">%s</text>\n",
		p.top+p.innerH()/2, p.top+p.innerH()/2, htmlEsc(label))
}

func legend(b *strings.Builder, x, y float64, names []string) {
	for i, n := range names {
		fmt.Fprintf(b, "<rect x=\"%g\" y=\"%g\" width=\"12\" height=\"12\" fill=\"%s\"/>", x, y+float64(i)*18, palette[i%len(palette)])
		fmt.Fprintf(b, "<text x=\"%g\" y=\"%g\" dominant-baseline=\"middle\">%s</text>\n", x+18, y+float64(i)*18+6, htmlEsc(n))
	}
}

// lineSVG plots throughput against batch size, one line per concurrency,
// on a log2 x axis because sweeps double the batch.
func (sv *sweepView) lineSVG() string {
	p := plot{w: 760, h: 340, left: 80, right: 170, top: 16, bottom: 48}
	var b strings.Builder
	p.open(&b, "chart line-chart", "throughput vs batch size, one line per concurrency")
	ymax := 0.0
	for _, v := range sv.value {
		ymax = max(ymax, v)
	}
	ymax = niceMax(ymax)
	p.yAxis(&b, ymax, "", "throughput (img/s)")
	n := len(sv.batches)
	xAt := func(i int) float64 {
		if n == 1 {
			return p.left + p.innerW()/2
		}
		return p.left + p.innerW()*float64(i)/float64(n-1)
	}
	for i, bs := range sv.batches {
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", xAt(i), p.h-p.bottom+16, htmlEsc(bs))
	}
	fmt.Fprintf(&b, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">batch size</text>\n", p.left+p.innerW()/2, p.h-8)
	var names []string
	for ci, c := range sv.concs {
		col := palette[ci%len(palette)]
		names = append(names, "concurrency "+c)
		var pts []string
		for i, bs := range sv.batches {
			v, ok := sv.value[[2]string{bs, c}]
			if !ok {
				if st := sv.status[[2]string{bs, c}]; st != "" {
					fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\" fill=\"%s\">✕ %s</text>\n", xAt(i), p.top+12+float64(ci)*14, col, htmlEsc(st))
				}
				continue
			}
			y := p.top + p.innerH()*(1-v/ymax)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(i), y))
			fmt.Fprintf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>batch %s, concurrency %s: %s</title></circle>\n",
				xAt(i), y, col, htmlEsc(bs), htmlEsc(c), htmlEsc(FormatValue(v, "img/s")))
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", col, strings.Join(pts, " "))
		}
	}
	legend(&b, p.w-p.right+16, p.top+4, names)
	b.WriteString("</svg>\n")
	return b.String()
}

// heatmapSVG colours each grid cell by its throughput relative to the best.
func (sv *sweepView) heatmapSVG() string {
	cw, ch := 84.0, 34.0
	left, top := 110.0, 46.0
	p := plot{w: left + cw*float64(len(sv.batches)) + 20, h: top + ch*float64(len(sv.concs)) + 44}
	var b strings.Builder
	p.open(&b, "chart heatmap", "sweep grid heatmap: throughput by batch size and concurrency")
	best := 0.0
	for _, v := range sv.value {
		best = max(best, v)
	}
	for i, bs := range sv.batches {
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", left+cw*(float64(i)+0.5), top-8, htmlEsc(bs))
	}
	fmt.Fprintf(&b, "<text x=\"%g\" y=\"14\" text-anchor=\"middle\">batch size →</text>\n", left+cw*float64(len(sv.batches))/2)
	for j, c := range sv.concs {
		y := top + ch*float64(j)
		fmt.Fprintf(&b, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">concurrency %s</text>\n", left-8, y+ch/2, htmlEsc(c))
		for i, bs := range sv.batches {
			x := left + cw*float64(i)
			k := [2]string{bs, c}
			fill, text, tc := "#f6f8fa", "·", "#656d76"
			if v, ok := sv.value[k]; ok {
				f := 0.0
				if best > 0 {
					f = v / best
				}
				fill, text = heatColor(f), FormatValue(v, "")
				if f > 0.6 {
					tc = "#ffffff"
				} else {
					tc = "#1f2328"
				}
			} else if st := sv.status[k]; st != "" {
				fill, text, tc = "#ffebe9", st, "#cf222e"
			}
			fmt.Fprintf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%g\" height=\"%g\" fill=\"%s\" stroke=\"#ffffff\"/>", x, y, cw, ch, fill)
			fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"%s\">%s</text>\n", x+cw/2, y+ch/2, tc, htmlEsc(text))
		}
	}
	fmt.Fprintf(&b, "<text x=\"%g\" y=\"%g\">img/s; darker is faster; · not run</text>\n", left, p.h-10)
	b.WriteString("</svg>\n")
	return b.String()
}

// heatColor interpolates from a pale to a deep blue.
func heatColor(f float64) string {
	f = math.Max(0, math.Min(1, f))
	lo, hi := [3]float64{222, 235, 247}, [3]float64{8, 48, 107}
	var c [3]int
	for i := range c {
		c[i] = int(lo[i] + (hi[i]-lo[i])*f + 0.5)
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// latencySVG draws grouped bars of p50, p95 and p99 per configuration.
func latencySVG(rows []latencyRow) string {
	if len(rows) > 16 {
		rows = rows[:16]
	}
	bar := 14.0
	gap := 14.0
	left := 300.0
	p := plot{w: 860, h: 40 + float64(len(rows))*(3*bar+gap) + 20, left: left, right: 110, top: 10, bottom: 30}
	var b strings.Builder
	p.open(&b, "chart latency-chart", "batch latency percentiles per configuration")
	xmax := 0.0
	for _, r := range rows {
		xmax = max(xmax, r.p50, r.p95, r.p99)
	}
	xmax = niceMax(xmax)
	for i := 0; i <= 4; i++ {
		x := left + p.innerW()*float64(i)/4
		fmt.Fprintf(&b, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#d0d7de\"/>", x, p.top, x, p.h-p.bottom)
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", x, p.h-p.bottom+16, htmlEsc(FormatValue(xmax*float64(i)/4, UnitSeconds)))
	}
	for i, r := range rows {
		y0 := p.top + float64(i)*(3*bar+gap)
		fmt.Fprintf(&b, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", left-8, y0+1.5*bar, htmlEsc(truncate(r.name, 36)))
		for k, v := range []float64{r.p50, r.p95, r.p99} {
			if math.IsNaN(v) {
				continue
			}
			fmt.Fprintf(&b, "<rect x=\"%g\" y=\"%.1f\" width=\"%.1f\" height=\"%g\" fill=\"%s\"><title>%s %s</title></rect>\n",
				left, y0+float64(k)*bar, p.innerW()*v/xmax, bar-2, palette[k], []string{"p50", "p95", "p99"}[k], htmlEsc(FormatValue(v, UnitSeconds)))
		}
	}
	legend(&b, p.w-p.right+16, p.top+4, []string{"p50", "p95", "p99"})
	b.WriteString("</svg>\n")
	return b.String()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// opsSVG draws each operator's wall time split into busy, starved,
// backpressured and pending, as stacked horizontal bars.
func opsSVG(ops []OpRecord) string {
	bar, gap, left := 22.0, 12.0, 130.0
	p := plot{w: 820, h: 30 + float64(len(ops))*(bar+gap) + 30, left: left, right: 140, top: 10, bottom: 30}
	var b strings.Builder
	p.open(&b, "chart ops-chart", "per-operator time breakdown: busy, starved, backpressured, pending")
	xmax := 0.0
	for _, o := range ops {
		xmax = max(xmax, o.BusySeconds+o.StarvedSeconds+o.BackpressSeconds+o.PendingSeconds)
	}
	xmax = niceMax(xmax)
	for i := 0; i <= 4; i++ {
		x := left + p.innerW()*float64(i)/4
		fmt.Fprintf(&b, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#d0d7de\"/>", x, p.top, x, p.h-p.bottom)
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", x, p.h-p.bottom+16, htmlEsc(FormatValue(xmax*float64(i)/4, UnitSeconds)))
	}
	kinds := []string{"busy", "starved", "backpressured", "pending"}
	for i, o := range ops {
		y := p.top + float64(i)*(bar+gap)
		fmt.Fprintf(&b, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", left-8, y+bar/2, htmlEsc(o.Name))
		x := left
		for k, v := range []float64{o.BusySeconds, o.StarvedSeconds, o.BackpressSeconds, o.PendingSeconds} {
			if v <= 0 {
				continue
			}
			wdt := p.innerW() * v / xmax
			fmt.Fprintf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%g\" fill=\"%s\"><title>%s %s %s</title></rect>\n",
				x, y, wdt, bar, palette[k], htmlEsc(o.Name), kinds[k], htmlEsc(FormatValue(v, UnitSeconds)))
			x += wdt
		}
	}
	legend(&b, p.w-p.right+16, p.top+4, kinds)
	b.WriteString("</svg>\n")
	return b.String()
}

// utilSVG draws the utilisation time series.
func utilSVG(s *series) string {
	p := plot{w: 860, h: 300, left: 70, right: 190, top: 16, bottom: 44}
	var b strings.Builder
	p.open(&b, "chart util-chart", s.name+" over time")
	xmax, ymax := 0.0, 0.0
	for _, l := range s.lines {
		if len(l.x) > 0 {
			xmax = max(xmax, slices.Max(l.x))
			ymax = max(ymax, slices.Max(l.y))
		}
	}
	if s.unit == "%" {
		ymax = 100
	} else {
		ymax = niceMax(ymax)
	}
	xmax = niceMax(xmax)
	unit := ""
	if s.unit == "%" {
		unit = UnitPercent
	}
	p.yAxis(&b, ymax, unit, s.name+" ("+s.unit+")")
	for i := 0; i <= 5; i++ {
		x := p.left + p.innerW()*float64(i)/5
		fmt.Fprintf(&b, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n", x, p.h-p.bottom+16, htmlEsc(FormatValue(xmax*float64(i)/5, UnitSeconds)))
	}
	fmt.Fprintf(&b, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">time since start</text>\n", p.left+p.innerW()/2, p.h-8)
	var names []string
	for li, l := range s.lines {
		names = append(names, l.name)
		pts := make([]string, len(l.x))
		for i := range l.x {
			pts[i] = strconv.FormatFloat(p.left+p.innerW()*l.x[i]/xmax, 'f', 1, 64) + "," +
				strconv.FormatFloat(p.top+p.innerH()*(1-l.y[i]/ymax), 'f', 1, 64)
		}
		fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"%s\"/>\n", palette[li%len(palette)], strings.Join(pts, " "))
	}
	legend(&b, p.w-p.right+16, p.top+4, names)
	b.WriteString("</svg>\n")
	return b.String()
}
