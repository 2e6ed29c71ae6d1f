package bench

import (
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// Units of the values WriteBenchfmt writes, as benchstat prints them in its
// table headers. The "op" of s/op is one image, as the iteration count of
// each line is the run's image count.
const (
	// BenchfmtThroughput is images per second over the whole run
	// (Record.Throughput); higher is better.
	BenchfmtThroughput = "img/s"
	// BenchfmtSecondsPerImage is wall time per image (Record.WallSeconds
	// over Record.Images); lower is better.
	BenchfmtSecondsPerImage = "s/op"
	// BenchfmtPeakRSS is the process's peak resident set in bytes
	// (Record.PeakRSS). benchstat reads any unit whose last word is B as
	// bytes and scales it (MiB, GiB); the prefix says which bytes.
	BenchfmtPeakRSS = "peak-RSS-B"
)

// benchfmtBase is the benchmark name every line shares: benchstat shows it
// as the row's name, followed by the configuration parts.
const benchfmtBase = "Workbench"

// WriteBenchfmt writes recs in the Go benchmark format
// (golang.org/x/perf/benchfmt), so that `benchstat old.txt new.txt`
// compares two workbench runs with the statistics this package prints.
//
// Each completed record (Status ok) becomes one line, so the repeats of a
// configuration are the samples benchstat summarises. The line's name is
// Workbench followed by the configuration as name parts, such as
// BenchmarkWorkbench/scenario=optimized/batch=32/concurrency=1, with a
// sweep's parameters after them in key order. Its iteration count is the
// number of images and its values are img/s, s/op and peak-RSS-B (see the
// Benchfmt constants). The machine and model are file configuration (cpu,
// model, device, notice): benchstat puts results with different file
// configuration in separate tables, as it does for go test's goos and cpu.
//
// Failed, skipped and out-of-memory records measured nothing and are left
// out. A record whose Images is 0 is written with one iteration.
func WriteBenchfmt(w io.Writer, recs []*Record) error {
	bw := benchfmt.NewWriter(w)
	// Throughput is the one unit where higher is better; benchstat's
	// default for the others (lower is better) is right.
	if err := bw.Write(&benchfmt.UnitMetadata{
		UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: BenchfmtThroughput, Key: "better"},
		OrigUnit:        BenchfmtThroughput, Value: "higher",
	}); err != nil {
		return err
	}
	for _, r := range recs {
		if r.Status != StatusOK && r.Status != "" {
			continue
		}
		if err := bw.Write(benchfmtResult(r)); err != nil {
			return err
		}
	}
	return nil
}

// benchfmtResult converts one record into one benchmark line.
func benchfmtResult(r *Record) *benchfmt.Result {
	res := &benchfmt.Result{Name: benchfmt.Name(benchfmtName(r)), Iters: max(r.Images, 1)}
	for _, kv := range [][2]string{
		{"cpu", r.Fingerprint.CPUModel},
		{"model", r.Config.Model},
		{"device", r.Config.Device},
		{"notice", r.Notice},
	} {
		if kv[1] != "" {
			// A newline would end the configuration line early.
			res.SetConfig(kv[0], strings.Join(strings.Fields(kv[1]), " "))
		}
	}
	// SetConfig marks keys as internal; these are the file's own lines.
	for i := range res.Config {
		res.Config[i].File = true
	}
	secPerImage := 0.0
	if r.Images > 0 {
		secPerImage = r.WallSeconds / float64(r.Images)
	}
	res.Values = []benchfmt.Value{
		{Value: r.Throughput, Unit: BenchfmtThroughput},
		{Value: secPerImage, Unit: BenchfmtSecondsPerImage},
		{Value: float64(r.PeakRSS), Unit: BenchfmtPeakRSS},
	}
	return res
}

// benchfmtName renders the record's configuration as a benchmark name
// without the Benchmark prefix: Workbench/scenario=.../batch=.../....
func benchfmtName(r *Record) string {
	parts := []string{benchfmtBase}
	seen := map[string]bool{}
	add := func(k, v string) {
		if v == "" || seen[k] {
			return
		}
		seen[k] = true
		parts = append(parts, k+"="+nameValue(v))
	}
	add("scenario", r.Scenario)
	if r.Config.BatchSize > 0 {
		add("batch", strconv.Itoa(r.Config.BatchSize))
	}
	add("concurrency", r.Config.Concurrency)
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		add(k, r.Params[k])
	}
	name := strings.Join(parts, "/")
	// benchfmt reads a trailing -N as GOMAXPROCS, as go test appends it;
	// a value ending so (a range such as 1-4) must not be mistaken for it.
	if i := strings.LastIndexByte(name, '-'); i >= 0 && i < len(name)-1 && isDigits(name[i+1:]) {
		name = name[:i] + "_" + name[i+1:]
	}
	return name
}

// nameValue makes v safe inside a benchmark name: a space would end the
// name and a slash would start a new part. "(1, 4)" becomes "(1,4)".
func nameValue(v string) string {
	v = strings.ReplaceAll(v, ", ", ",")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '/':
			return '_'
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			return '_'
		}
		return r
	}, v)
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
