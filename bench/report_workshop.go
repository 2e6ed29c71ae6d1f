package bench

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// WorkshopRun is one participant's measured run during a workshop, at the
// step the instructor was showing when it ran (Step -1: before any step).
type WorkshopRun struct {
	Step        int
	StepTitle   string
	Participant string
	Rec         *Record
}

// WorkshopReport is what a class measured: every participant's runs and
// the baseline their speedups are taken against.
type WorkshopReport struct {
	Title string
	// Baseline names the scenario speedups are relative to (the lesson's
	// first step); its runs by anyone in the class form the baseline sample.
	Baseline string
	Runs     []WorkshopRun
	Notice   string
}

// tputSample is a record's throughput sample: its steady-state windows,
// or the whole-run figure when the run was too short for windows.
func tputSample(r *Record) []float64 {
	if len(r.Windows) > 0 {
		return r.Windows
	}
	return []float64{r.Throughput}
}

// WriteWorkshopHTML writes the workshop report as one offline HTML file,
// like WriteHTML: per step, each participant's best configuration (by
// median window throughput) with its spread, its speedup over the class's
// baseline runs with the spread of that ratio, and across participants the
// median speedup with its range.
func WriteWorkshopHTML(w io.Writer, wr WorkshopReport) error {
	var base []float64
	for _, r := range wr.Runs {
		if r.Rec != nil && r.Rec.Status == StatusOK && r.Rec.Scenario == wr.Baseline {
			base = append(base, tputSample(r.Rec)...)
		}
	}
	bs := Summarize(base, DefaultConfidence)
	var body strings.Builder
	if wr.Notice != "" {
		fmt.Fprintf(&body, "<p class=\"notice\">%s</p>\n", htmlEsc(wr.Notice))
	}
	if len(base) > 0 {
		fmt.Fprintf(&body, "<p>Baseline: <b>%s</b>, %s img/s over %d windows of the class's runs. Speedups are medians over it; ± is the spread of the ratio's confidence interval.</p>\n",
			htmlEsc(wr.Baseline), htmlEsc(bs.Format("")), len(base))
	} else {
		fmt.Fprintf(&body, "<p class=\"muted\">No one ran the baseline %s, so no speedups: throughputs only.</p>\n", htmlEsc(wr.Baseline))
	}
	type key struct {
		step int
		who  string
	}
	best := map[key]WorkshopRun{}
	runs := map[key]int{}
	titles := map[int]string{}
	for _, r := range wr.Runs {
		if r.Rec == nil || r.Rec.Status != StatusOK {
			continue
		}
		k := key{r.Step, r.Participant}
		runs[k]++
		titles[r.Step] = r.StepTitle
		if b, ok := best[k]; !ok || center(r.Rec) > center(b.Rec) {
			best[k] = r
		}
	}
	steps := slices.Sorted(func(yield func(int) bool) {
		for s := range titles {
			if !yield(s) {
				return
			}
		}
	})
	if len(steps) == 0 {
		body.WriteString("<p class=\"muted\">No completed runs yet.</p>\n")
	}
	for _, s := range steps {
		title := titles[s]
		if s < 0 {
			title = "Free experiments (before any step)"
		} else {
			title = fmt.Sprintf("Step %d · %s", s+1, title)
		}
		fmt.Fprintf(&body, "<h2>%s</h2>\n", htmlEsc(title))
		var rows []WorkshopRun
		for k, r := range best {
			if k.step == s {
				rows = append(rows, r)
			}
		}
		slices.SortFunc(rows, func(a, b WorkshopRun) int {
			return cmp.Or(cmp.Compare(center(b.Rec), center(a.Rec)), cmp.Compare(a.Participant, b.Participant))
		})
		t := table{header: []string{"participant", "best configuration", "img/s", "speedup", "runs", "ran alone"}}
		var ups []float64
		for _, r := range rows {
			s := Summarize(tputSample(r.Rec), DefaultConfidence)
			up := "–"
			if len(base) > 0 && bs.Center > 0 {
				ratio := s.Center / bs.Center
				ups = append(ups, ratio)
				up = fmt.Sprintf("×%.2f", ratio)
				if lo, hi := s.Lo/bs.Hi, s.Hi/bs.Lo; bs.Lo > 0 && !math.IsInf(hi, 0) && !math.IsNaN(lo) {
					up += fmt.Sprintf(" ± %.0f%%", 100*max(hi-ratio, ratio-lo)/ratio)
				}
			}
			alone := "unknown"
			if r.Rec.RanAlone != nil {
				alone = map[bool]string{true: "yes", false: "no: shared the host"}[*r.Rec.RanAlone]
			}
			cfg := r.Rec.Scenario
			if r.Rec.Label != "" && r.Rec.Label != r.Rec.Scenario {
				cfg += " · " + r.Rec.Label
			}
			t.add(r.Participant, cfg, s.Format(""), up, fmt.Sprint(runs[key{r.Step, r.Participant}]), alone)
		}
		writeHTMLTable(&body, t, false)
		if len(ups) > 0 {
			fmt.Fprintf(&body, "<p class=\"speedup\">Across %d participants: median ×%.2f, range ×%.2f – ×%.2f</p>\n",
				len(ups), medianOf(ups), slices.Min(ups), slices.Max(ups))
		}
	}
	var b strings.Builder
	writeHTMLPage(&b, cmp.Or(wr.Title, "workbench workshop"), body.String())
	_, err := io.WriteString(w, b.String())
	return err
}

func center(r *Record) float64 { return Summarize(tputSample(r), DefaultConfidence).Center }

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return median(s)
}
