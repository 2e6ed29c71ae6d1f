package bench

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"text/tabwriter"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func ExampleSummarize() {
	s := Summarize([]float64{405, 412, 409, 415, 420, 411}, DefaultConfidence)
	fmt.Println(s.Format("img/s"))

	one := Summarize([]float64{412}, DefaultConfidence)
	var notes Footnotes
	fmt.Println(one.Format("img/s") + notes.Mark(one.Warnings...))
	fmt.Print(notes.String())
	// Output:
	// 412 img/s ± 2%
	// 412 img/s ± ∞ ¹
	// ¹ need >= 6 samples for confidence interval at level 0.95
}

func ExampleCompare() {
	old := []float64{100, 101, 99, 100, 102}
	fmt.Println(Compare(old, []float64{112, 113, 111, 112, 114}, DefaultAlpha))
	fmt.Println(Compare(old, []float64{101, 100, 102, 103, 99}, DefaultAlpha))
	// Output:
	// +12.0% (p=0.008 n=5+5)
	// ~ (p=0.651 n=5+5)
}

func ExampleNewRatio() {
	before := Summarize([]float64{120, 121, 119, 120, 122, 118}, DefaultConfidence)
	after := Summarize([]float64{409, 412, 405, 415, 420, 411}, DefaultConfidence)
	fmt.Println(NewRatio(after, before)) // throughput: higher is better
	// Output:
	// ×3.43 ± 4%
}

// TestRenderGolden renders a benchstat-style comparison table with
// footnotes, the way reports will, and checks it against a golden file.
// Refresh with: go test ./bench -run TestRenderGolden -update
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	rows := []struct {
		name     string
		unit     string
		old, new []float64
	}{
		{"throughput", "img/s", []float64{120, 121, 119, 120, 122, 118}, []float64{409, 412, 405, 415, 420, 411}},
		{"latency_p95", UnitSeconds, []float64{0.250, 0.260, 0.255, 0.249, 0.251, 0.262}, []float64{0.251, 0.258, 0.249, 0.263, 0.250, 0.254}},
		{"peak_rss", UnitBytes, []float64{3.1e9, 3.2e9, 3.15e9}, []float64{2.1e9, 2.0e9, 2.05e9}},
		{"ttfr", UnitSeconds, []float64{1.5}, []float64{0.4}},
	}
	var buf bytes.Buffer
	var notes Footnotes
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tbefore\tafter\tvs before")
	for _, r := range rows {
		c := Compare(r.old, r.new, DefaultAlpha)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.name,
			c.A.Format(r.unit)+notes.Mark(c.A.Warnings...),
			c.B.Format(r.unit)+notes.Mark(c.B.Warnings...),
			c.String()+notes.Mark(c.Warnings...))
	}
	tw.Flush()
	buf.WriteString(notes.String())
	checkGolden(t, "compare.golden", buf.Bytes())
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}
