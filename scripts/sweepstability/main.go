// Command sweepstability measures how reliably a sweep picks its best
// cell (issue 17): it runs the same `workbench sweep` several times, each
// in a fresh process, and counts the runs whose answer holds the reference
// cell. A run's answer is its pick (the cell ranked 1) together with the
// cells it found tied with it (intervals overlapping, as the protocol ties
// cells); the reference is the cell in the most answers. Within a tie the
// pick is made by the tie-break (lower p95 latency), which two runs may
// settle either way, so the pick alone undercounts agreement; the answer's
// size is printed too, since a wide tie would make agreement cheap. It also
// prints how often the most frequent pick was picked, and the median
// objective of the picks with its spread. `make sweep-stability` runs it;
// it needs a quiet machine, since load from elsewhere is noise the sweep is
// right to see. -reuse reads the results of an earlier call instead.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"workbench/bench"
)

func main() {
	bin := flag.String("bin", "./workbench", "the workbench binary")
	data := flag.String("data", "data/synth", "image folder (made with workbench data synth when missing)")
	images := flag.Int("images", 200, "images to read")
	model := flag.String("model", "tiny", "model: tiny or resnet18 keep it short")
	batch := flag.String("batch", "8..64", "--batch of the sweep")
	conc := flag.String("concurrency", "1,2", "--concurrency of the sweep")
	runs := flag.Int("runs", 10, "sweeps to run")
	out := flag.String("out", "sweep-stability", "folder for each sweep's results and log")
	extra := flag.String("extra", "", "more sweep flags, space-separated (e.g. '--objective wall')")
	reuse := flag.Bool("reuse", false, "run nothing: read the results an earlier call left in -out")
	flag.Parse()
	if err := run(*bin, *data, *images, *model, *batch, *conc, *runs, *out, strings.Fields(*extra), *reuse); err != nil {
		fmt.Fprintln(os.Stderr, "sweep-stability:", err)
		os.Exit(1)
	}
}

// pick is what one sweep chose: its best cell, the cells it tied with it,
// and the best's objective median.
type pick struct {
	best   string
	tied   []string
	median float64
	cells  int // distinct cells in the sweep's records
	line   string
}

func run(bin, data string, images int, model, batch, conc string, runs int, out string, extra []string, reuse bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(data); !reuse && errors.Is(err, os.ErrNotExist) {
		if b, err := exec.Command(bin, "data", "synth", "-n", fmt.Sprint(images), "-o", data, "--seed", "1").CombinedOutput(); err != nil {
			return fmt.Errorf("making %s: %v\n%s", data, err, b)
		}
	}
	args := append([]string{"sweep", "--model", model, "--data", data, "--images", fmt.Sprint(images),
		"--batch", batch, "--concurrency", conc}, extra...)
	fmt.Printf("%d × %s %s\n", runs, bin, strings.Join(args, " "))
	var picks []pick
	for i := 1; i <= runs; i++ {
		res := filepath.Join(out, fmt.Sprintf("sweep%d.json", i))
		logPath := filepath.Join(out, fmt.Sprintf("sweep%d.log", i))
		log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|map[bool]int{false: os.O_TRUNC, true: os.O_APPEND}[reuse], 0o666)
		if err != nil {
			return err
		}
		var runErr error
		if !reuse {
			cmd := exec.Command(bin, append(args, "--out", res)...)
			cmd.Stdout, cmd.Stderr = log, log
			runErr = cmd.Run()
		}
		log.Close()
		p, err := read(res)
		if err != nil {
			// No cell ranked (exit 1) is a pick of nothing, which agrees
			// with no reference; anything else is the harness's failure.
			if runErr == nil {
				return err
			}
			p = pick{line: fmt.Sprintf("no pick: %v (see %s)", runErr, log.Name())}
		}
		fmt.Printf("run %2d: %s\n", i, p.line)
		picks = append(picks, p)
	}
	ref, in := consensus(picks)
	if ref == "" {
		return errors.New("no sweep picked a cell")
	}
	modal, times := mostPicked(picks)
	var medians, sizes []float64
	for _, p := range picks {
		if p.best != "" {
			medians = append(medians, p.median)
			sizes = append(sizes, float64(1+len(p.tied)))
		}
	}
	fmt.Printf("reference: %s, in %d answers (the pick or tied with it); most picked: %s, %d of %d runs\n", ref, in, modal, times, runs)
	if len(medians) > 0 {
		// At the highest confidence the runs allow, as a sweep's cells.
		s := bench.SummarizeAtMost(medians, bench.DefaultConfidence)
		fmt.Printf("the picks' objective: %s [%s, %s] (%.0f%% interval) over %d runs; answers of %s cells (median, of %s in the grid)\n",
			bench.FormatValue(s.Center, ""), bench.FormatValue(s.Lo, ""), bench.FormatValue(s.Hi, ""), 100*s.Confidence, len(medians),
			bench.FormatValue(bench.Summarize(sizes, bench.DefaultConfidence).Center, ""), gridSize(picks))
	}
	fmt.Printf("same best cell or tied with it: %d/%d (the same pick: %d/%d)\n", in, runs, times, runs)
	return nil
}

// read takes one sweep's pick from its results: the cell ranked 1, as
// bench.BestCell picks it, and the cells marked tied with it.
func read(path string) (pick, error) {
	recs, err := bench.ReadRecordsFile(path)
	if err != nil {
		return pick{}, err
	}
	b, ok := bench.BestCell(recs)
	if !ok {
		return pick{}, fmt.Errorf("%s: no completed cell", path)
	}
	p := pick{best: b.Label}
	var lo, hi float64
	labels := map[string]bool{}
	for _, r := range recs {
		labels[r.Label] = true
		if r.Label == b.Label && r.Rank == 1 {
			p.median, lo, hi = r.CellMedian, r.CellLo, r.CellHi
		}
		if r.Tied && r.Label != b.Label && !slices.Contains(p.tied, r.Label) {
			p.tied = append(p.tied, r.Label)
		}
	}
	if p.median == 0 {
		return pick{}, fmt.Errorf("%s: no cell ranked (none stable)", path)
	}
	p.cells = len(labels)
	obj := recs[0].Objective
	p.line = fmt.Sprintf("%s  %s %s [%s, %s]", p.best, obj, bench.FormatValue(p.median, ""), bench.FormatValue(lo, ""), bench.FormatValue(hi, ""))
	if len(p.tied) > 0 {
		p.line += "; tied: " + strings.Join(p.tied, ", ")
	}
	return p, nil
}

// consensus is the cell in the most runs' answers (the pick or a cell tied
// with it), the first such in run order, and in how many.
func consensus(picks []pick) (string, int) {
	count := map[string]int{}
	var order []string
	for _, p := range picks {
		if p.best == "" {
			continue
		}
		for _, c := range append([]string{p.best}, p.tied...) {
			if count[c] == 0 {
				order = append(order, c)
			}
			count[c]++
		}
	}
	best, n := "", 0
	for _, c := range order {
		if count[c] > n {
			best, n = c, count[c]
		}
	}
	return best, n
}

// mostPicked is the cell picked most often, the first such in run order,
// and how often.
func mostPicked(picks []pick) (string, int) {
	count := map[string]int{}
	best, n := "", 0
	for _, p := range picks {
		if p.best == "" {
			continue
		}
		count[p.best]++
		if count[p.best] > n {
			best, n = p.best, count[p.best]
		}
	}
	return best, n
}

// gridSize is the number of cells the runs' records name, "?" if none.
func gridSize(picks []pick) string {
	n := 0
	for _, p := range picks {
		n = max(n, p.cells)
	}
	if n == 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
