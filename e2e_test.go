package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"workbench/vision"
)

// synthData writes n synthetic JPEGs plus the broken files into a temp dir.
func synthData(t *testing.T, n int, broken map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := vision.Synthesize(dir, n, 7); err != nil {
		t.Fatal(err)
	}
	for name, b := range broken {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func brokenFiles(t *testing.T) map[string][]byte {
	good, err := vision.SynthJPEG(1, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"broken/empty.jpg":     {},
		"broken/truncated.jpg": good[:len(good)/3],
		"broken/random.JPG":    bytes.Repeat([]byte{0x13, 0x37, 0xfe, 0x01}, 300),
		"broken/notes.png":     []byte("this is a text file, not a PNG\n"),
	}
}

type resultRow struct {
	path  string
	class int32
	valid bool
	err   string
}

func readResults(t *testing.T, path string) []resultRow {
	t.Helper()
	f, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v := f.MetaData().KeyValueMetadata().FindValue("workbench.notice"); v == nil || !strings.Contains(*v, "untrained") {
		t.Errorf("parquet metadata lacks the untrained-weights notice")
	}
	r, err := pqarrow.NewFileReader(f, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := r.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	var rows []resultRow
	for tr.Next() {
		rec := tr.RecordBatch()
		s := rec.Schema()
		paths := rec.Column(s.FieldIndices("path")[0]).(*array.String)
		cls := rec.Column(s.FieldIndices("predicted_class")[0]).(*array.Int32)
		errs := rec.Column(s.FieldIndices("error")[0]).(*array.String)
		for i := range int(rec.NumRows()) {
			row := resultRow{path: paths.Value(i), valid: cls.IsValid(i)}
			if row.valid {
				row.class = cls.Value(i)
			}
			if errs.IsValid(i) {
				row.err = errs.Value(i)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// TestRunEndToEnd is issue #2's acceptance test: 40 synthetic images and 4
// broken files through the tiny model, read back from Parquet.
func TestRunEndToEnd(t *testing.T) {
	dir := synthData(t, 40, brokenFiles(t))
	out := filepath.Join(t.TempDir(), "results.parquet")
	rec := filepath.Join(t.TempDir(), "run.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), &stdout, &stderr, []string{"run", "--data", dir, "--model", "tiny",
		"--batch", "8", "--blocks", "5", "--out", out, "--json", rec, "--sample-hz", "0"})
	if err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, stderr.String())
	}
	rows := readResults(t, out)
	if len(rows) != 44 {
		t.Fatalf("rows = %d, want 44 (every input file accounted for)", len(rows))
	}
	seen := map[string]bool{}
	var failed int
	for _, r := range rows {
		if seen[r.path] {
			t.Errorf("%s appears twice", r.path)
		}
		seen[r.path] = true
		broken := strings.Contains(r.path, "/broken/")
		switch {
		case broken && r.err == "":
			t.Errorf("%s: broken file has no error", r.path)
		case broken && r.valid:
			t.Errorf("%s: broken file has a prediction", r.path)
		case !broken && r.err != "":
			t.Errorf("%s: unexpected error %q", r.path, r.err)
		case !broken && (!r.valid || r.class < 0 || r.class >= 10):
			t.Errorf("%s: predicted_class %d (valid %v) outside [0,10)", r.path, r.class, r.valid)
		}
		if r.err != "" {
			failed++
		}
	}
	if failed != 4 {
		t.Errorf("error rows = %d, want 4", failed)
	}
	if !strings.Contains(stderr.String(), "4 of 44 images failed") {
		t.Errorf("stderr lacks the warning count: %q", stderr.String())
	}
	for _, want := range []string{"untrained weights", "images     44 (4 errors)", "intra-op", "bottleneck"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Records       []struct {
			Images int    `json:"images"`
			Errors int    `json:"errors"`
			Notice string `json:"notice"`
		} `json:"records"`
	}
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || len(doc.Records) != 1 || doc.Records[0].Images != 44 || doc.Records[0].Errors != 4 || doc.Records[0].Notice == "" {
		t.Errorf("run record = %+v", doc)
	}
}

func TestRunFailOnError(t *testing.T) {
	dir := synthData(t, 3, map[string][]byte{"empty.jpg": {}})
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), &stdout, &stderr, []string{"run", "--data", dir, "--model", "tiny",
		"--out", filepath.Join(t.TempDir(), "r.parquet"), "--fail-on-error", "--sample-hz", "0"})
	if code := exitCode(&stderr, err); code != 1 {
		t.Fatalf("exit code = %d, want 1 with --fail-on-error", code)
	}
}

// TestRunBadInput checks one-line errors with exit code 2.
func TestRunBadInput(t *testing.T) {
	dir := synthData(t, 2, nil)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing folder", []string{"--data", "/nonexistent/x"}, "no such folder"},
		{"missing model", []string{"--data", dir, "--model", "nosuchmodel"}, "--model"},
		{"batch zero", []string{"--data", dir, "--batch", "0"}, "--batch 0"},
		{"bad concurrency", []string{"--data", dir, "--concurrency", "-3"}, "--concurrency"},
		{"bad device", []string{"--data", dir, "--device", "tpu"}, "--device"},
		{"unknown flag", []string{"--frobnicate"}, "frobnicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			out := filepath.Join(t.TempDir(), "r.parquet")
			err := run(context.Background(), &stdout, &stderr, append([]string{"run", "--out", out, "--sample-hz", "0"}, c.args...))
			code := exitCode(&stderr, err)
			if code != 2 {
				t.Fatalf("exit code = %d, want 2 (err %v)", code, err)
			}
			if msg := stderr.String(); !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not mention %q", msg, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("output written despite the error")
			}
		})
	}
}

// TestRunCancelLeavesNoOutput: an interrupted run leaves no file behind.
func TestRunCancelLeavesNoOutput(t *testing.T) {
	dir := synthData(t, 30, nil)
	outDir := t.TempDir()
	out := filepath.Join(outDir, "r.parquet")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, &stdout, &stderr, []string{"run", "--data", dir, "--model", "tiny", "--out", out, "--sample-hz", "0"})
	if err == nil {
		t.Fatal("cancelled run returned no error")
	}
	ents, _ := os.ReadDir(outDir)
	if len(ents) != 0 {
		t.Errorf("cancelled run left files: %v", ents)
	}
}

// TestHelpShowsFlagsAndExamples: every command's --help lists its flags and
// shows examples, once.
func TestHelpShowsFlagsAndExamples(t *testing.T) {
	cases := [][]string{
		{"run"}, {"race"}, {"ablate"}, {"sweep"}, {"tune"}, {"report"}, {"doctor"},
		{"bench", "ceiling"}, {"data", "synth"}, {"tui"}, {"submit"}, {"jobs"}, {"export", "ray"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), &stdout, &stderr, append(c, "--help"))
			if err != nil {
				t.Fatalf("--help: %v", err)
			}
			out := stdout.String() + stderr.String()
			if n := strings.Count(out, "EXAMPLES"); n != 1 {
				t.Errorf("EXAMPLES appears %d times:\n%s", n, out)
			}
			if !strings.Contains(out, "\n    --") {
				t.Errorf("no flags listed:\n%s", out)
			}
		})
	}
}

// TestOutFormats: --out's extension decides the format (a .csv is CSV that
// a plain CSV reader reads, top5 as one space-separated field); one that is
// no format, and a --json that is not .json, exit 104 (issue 21 item 2).
func TestOutFormats(t *testing.T) {
	t.Parallel()
	data := synthData(t, 6, nil)
	dir := t.TempDir()
	base := []string{"run", "--data", data, "--model", "tiny", "--sample-hz", "0", "--ceiling=false"}
	out := filepath.Join(dir, "results.csv")
	if err := run(context.Background(), io.Discard, io.Discard, append(base, "--out", out)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	if len(rows) != 7 || !slices.Equal(rows[0], []string{"path", "predicted_class", "confidence", "top5", "error"}) {
		t.Fatalf("%d records, header %q", len(rows), rows[0])
	}
	if top := strings.Fields(rows[1][3]); len(top) != 5 {
		t.Errorf("top5 %q, want five space-separated classes", rows[1][3])
	}
	for _, bad := range [][]string{{"--out", filepath.Join(dir, "r.txt")}, {"--json", filepath.Join(dir, "r.csv")}} {
		err := run(context.Background(), io.Discard, io.Discard, append(base, bad...))
		if code := exitCode(io.Discard, err); code != 104 {
			t.Errorf("%v: exit %d (%v), want 104", bad, code, err)
		}
	}
}

// TestBenchCeilingGrammar: bench ceiling takes the sweep grammar for
// --batch and prints a line per size and the best (issue 21 item 3: "16,64"
// was a parse error).
func TestBenchCeilingGrammar(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	if err := run(context.Background(), &out, io.Discard, []string{"bench", "ceiling", "--model", "tiny", "--batch", "4,8", "--iters", "3"}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"batch 4", "batch 8", "best"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}
