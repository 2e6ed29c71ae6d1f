package bench

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/perf/benchfmt"
)

// raceRecords fabricates a race of optimized against slow, repeats times
// each, the way `workbench race` records it; scale multiplies throughput.
func raceRecords(repeats int, scale float64) []*Record {
	var recs []*Record
	for i := range repeats {
		recs = append(recs,
			fixtureRun("optimized", 32, 1, i, 400*scale, nil),
			fixtureRun("slow", 1, 4, i, 40, nil))
	}
	return recs
}

func TestWriteBenchfmtGolden(t *testing.T) {
	t.Parallel()
	recs := raceRecords(3, 1)
	// What must not reach the file: a failed run, and a sweep cell whose
	// parameters and concurrency range need escaping.
	recs = append(recs,
		fixtureRun("optimized", 32, 1, 9, 1, func(r *Record) { r.Status = "failed" }),
		fixtureRun("optimized", 64, 2, 0, 500, func(r *Record) {
			r.Config.Concurrency = "(1, 4)"
			r.Params = map[string]string{"batch": "64", "decoder": "turbo full", "model": "zoo/resnet18"}
		}))
	var buf bytes.Buffer
	if err := WriteBenchfmt(&buf, recs); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "benchfmt.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteBenchfmt differs from %s:\n--- got\n%s--- want\n%s", golden, buf.Bytes(), want)
	}
}

// TestWriteBenchfmtReadsBack parses what WriteBenchfmt wrote with
// benchfmt's own reader: names, iterations, values and file configuration
// survive, one result per completed record.
func TestWriteBenchfmtReadsBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mutate    func(*Record)
		wantName  string
		wantIters int
		wantVals  map[string]float64
	}{
		{"plain", nil, "Workbench/scenario=optimized/batch=32/concurrency=1", 512,
			map[string]float64{"img/s": 400, "s/op": 1.0 / 400, "peak-RSS-B": float64(232 << 20)}},
		{"range not read as GOMAXPROCS", func(r *Record) { r.Config.Concurrency = "1-4" },
			"Workbench/scenario=optimized/batch=32/concurrency=1_4", 512, nil},
		{"no images", func(r *Record) { r.Images = 0 },
			"Workbench/scenario=optimized/batch=32/concurrency=1", 1, map[string]float64{"s/op": 0}},
		{"sweep parameters in key order", func(r *Record) { r.Params = map[string]string{"threads": "2", "blocks": "16"} },
			"Workbench/scenario=optimized/batch=32/concurrency=1/blocks=16/threads=2", 512, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Repeat 1 has no jitter, so throughput is exactly 400.
			r := fixtureRun("optimized", 32, 1, 1, 400, tt.mutate)
			var buf bytes.Buffer
			if err := WriteBenchfmt(&buf, []*Record{r}); err != nil {
				t.Fatal(err)
			}
			rd := benchfmt.NewReader(&buf, "x.txt")
			var results []*benchfmt.Result
			for rd.Scan() {
				switch rec := rd.Result().(type) {
				case *benchfmt.Result:
					results = append(results, rec.Clone())
				case *benchfmt.SyntaxError:
					t.Fatalf("benchfmt cannot read its own output: %v", rec)
				}
			}
			if err := rd.Err(); err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 {
				t.Fatalf("got %d results, want 1:\n%s", len(results), buf.String())
			}
			res := results[0]
			if got := string(res.Name.Full()); got != tt.wantName {
				t.Errorf("name %q, want %q", got, tt.wantName)
			}
			if res.Iters != tt.wantIters {
				t.Errorf("iters %d, want %d", res.Iters, tt.wantIters)
			}
			for unit, want := range tt.wantVals {
				if got, ok := res.Value(unit); !ok || got != want {
					t.Errorf("%s = %v (found %v), want %v", unit, got, ok, want)
				}
			}
			for k, want := range map[string]string{"cpu": "Fixture CPU @ 2.0GHz", "model": "tiny", "device": "cpu"} {
				if got := res.GetConfig(k); got != want {
					t.Errorf("config %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

var benchstatBin = sync.OnceValues(buildBenchstat)

// buildBenchstat builds the benchstat of the x/perf version go.mod
// requires into a temporary folder, once per test binary.
func buildBenchstat() (string, error) {
	dir, err := os.MkdirTemp("", "benchstat")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "benchstat")
	out, err := exec.Command("go", "build", "-o", bin, "golang.org/x/perf/cmd/benchstat").CombinedOutput()
	if err != nil {
		return "", errors.New(strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// TestBenchstatPinnedLikeMake keeps the module version the tests build
// benchstat from equal to the one `make bench` runs.
func TestBenchstatPinnedLikeMake(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Skip("no Makefile next to the module:", err)
	}
	m := regexp.MustCompile(`golang\.org/x/perf/cmd/benchstat@(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile does not pin golang.org/x/perf/cmd/benchstat@VERSION")
	}
	gomod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(gomod, []byte("golang.org/x/perf "+string(m[1]))) {
		t.Errorf("go.mod does not require golang.org/x/perf %s, the Makefile's benchstat", m[1])
	}
}

// TestBenchstatComparesBenchfmt runs the real benchstat over two files
// written by WriteBenchfmt: it must parse both, name them as columns, and
// compare every row (a delta where throughput moved, ~ where it did not).
func TestBenchstatComparesBenchfmt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds benchstat")
	}
	t.Parallel()
	bin, err := benchstatBin()
	if err != nil {
		t.Skipf("cannot build golang.org/x/perf/cmd/benchstat (the go toolchain could not fetch or compile the module): %v", err)
	}
	dir := t.TempDir()
	write := func(name string, recs []*Record) {
		p := filepath.Join(dir, name)
		var buf bytes.Buffer
		if err := WriteBenchfmt(&buf, recs); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// optimized gains 25% in new; slow is the same fixture in both.
	write("old.txt", raceRecords(6, 1))
	write("new.txt", raceRecords(6, 1.25))
	// Relative names, so the columns read old.txt and new.txt.
	cmd := exec.Command(bin, "old.txt", "new.txt")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("benchstat: %v\n%s", err, stderr.String())
	}
	text := string(out)
	t.Logf("benchstat old.txt new.txt:\n%s", text)
	if stderr.Len() > 0 {
		t.Errorf("benchstat complained:\n%s", stderr.String())
	}
	for _, want := range []string{
		"old.txt", "new.txt", // both files are columns
		"img/s", "s/op", "peak-RSS-B", // every unit has a table
		"Workbench/scenario=optimized/batch=32/concurrency=1",
		"Workbench/scenario=slow/batch=1/concurrency=4",
		"cpu: Fixture CPU @ 2.0GHz", // file configuration heads the table
	} {
		if !strings.Contains(text, want) {
			t.Errorf("benchstat output lacks %q", want)
		}
	}
	// The throughput row for optimized shows a significant +25% (6 runs
	// each, fully separated: p=0.002), and slow shows ~.
	if !regexp.MustCompile(`scenario=optimized/batch=32/concurrency=1\s.*\+25\.\d\d% \(p=0\.002 n=6\)`).MatchString(text) {
		t.Errorf("benchstat shows no +25%% delta for optimized")
	}
	if !regexp.MustCompile(`scenario=slow/batch=1/concurrency=4\s.*~ \(p=1\.000 n=6\)`).MatchString(text) {
		t.Errorf("benchstat shows no ~ for the unchanged slow scenario")
	}
	// benchstat's own summary agrees with Compare's.
	var oldT, newT []float64
	for _, r := range raceRecords(6, 1) {
		if r.Scenario == "optimized" {
			oldT = append(oldT, r.Throughput)
		}
	}
	for _, r := range raceRecords(6, 1.25) {
		if r.Scenario == "optimized" {
			newT = append(newT, r.Throughput)
		}
	}
	if c := Compare(oldT, newT, DefaultAlpha); c.FormatDelta() != "+25.0%" || c.String() != "+25.0% (p=0.002 n=6+6)" {
		t.Errorf("Compare = %s, want +25.0%% (p=0.002 n=6+6) as benchstat", c)
	}
}
