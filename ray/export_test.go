package ray

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// optimizedSpec is shaped like the optimized scenario: actors, a swept batch
// size, fractional GPUs, an autoscaling pool and provenance for each value.
func optimizedSpec() JobSpec {
	return JobSpec{
		Name:                     "optimized",
		Title:                    "Actors load the model once; batch size and pool from the sweep",
		Data:                     "s3://example-bucket/imagenet-val/",
		Model:                    "resnet18",
		ModelPath:                "/models/resnet18.onnx",
		InputH:                   224,
		InputW:                   224,
		BatchSize:                128,
		Concurrency:              Autoscale(2, 8),
		NumGPUs:                  0.5,
		NumCPUs:                  2,
		CUDAOptions:              map[string]string{"device_id": "0", "cudnn_conv_algo_search": "EXHAUSTIVE", "use_tf32": "0"},
		MaxTasksInFlightPerActor: 2,
		Output:                   "s3://example-bucket/out/optimized/",
		Format:                   FormatParquet,
		Provenance: map[string]string{
			"batch_size":  "batch_size=128 from sweep sweep-2026-11-25.json, best of 12 cells, 1840 img/s ± 2%",
			"concurrency": "2..8 actors: two per GPU on the 4-GPU cluster of sweep-2026-11-25.json",
			"num_gpus":    "num_gpus=0.5 from sweep sweep-2026-11-25.json, two actors per GPU",
			"host":        "sweep ran on workbench host h100-a",
		},
	}
}

// slowSpec is shaped like the slow scenario: every mistake that can coexist
// with the others (row-objects excludes preprocess-in-actor, tiny-blocks
// excludes one-block; rowsSpec covers those two).
func slowSpec() JobSpec {
	s := optimizedSpec()
	s.Name = "slow"
	s.Title = "Every mistake at once"
	s.Output = "s3://example-bucket/out/slow/"
	s.BatchSize = 2
	s.Concurrency = Autoscale(4, 64)
	s.NumGPUs = 0
	s.NumCPUs = 0
	s.OverrideNumBlocks = 1
	s.PreserveOrder = true
	s.Checkpoint = "s3://example-bucket/checkpoints/slow"
	s.Format = FormatJSON
	s.Provenance = map[string]string{"batch_size": "the slow scenario's tiny-batch mistake"}
	for _, id := range KnownMistakes() {
		if id == "tiny-blocks" || id == "row-objects" {
			continue
		}
		s.Mistakes = append(s.Mistakes, Mistake{ID: id})
	}
	return s
}

// rowsSpec covers what the other two do not: row-objects, tiny-blocks, a
// fixed pool, a model fetched from s3, a custom comment, and a Ray older than
// 2.51 (concurrency= rather than compute=).
func rowsSpec() JobSpec {
	s := optimizedSpec()
	s.Name = "rows"
	s.Title = ""
	s.ModelPath = "s3://example-bucket/models/resnet18.onnx"
	s.Concurrency = Fixed(4)
	s.NumGPUs = 1
	s.OverrideNumBlocks = 5000
	s.RayVersion = "2.46.0"
	s.Provenance = nil
	s.Mistakes = []Mistake{
		{ID: "row-objects", Comment: "each image is its own Python dict and Ray row"},
		{ID: "tiny-blocks"},
	}
	return s
}

var goldenSpecs = []struct {
	name string
	spec func() JobSpec
}{
	{"optimized", optimizedSpec},
	{"slow", slowSpec},
	{"rows", rowsSpec},
}

// TestRenderGolden pins every rendered file. Refresh with
// go test ./ray -run TestRenderGolden -update.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenSpecs {
		files, err := Render(tc.spec(), false)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for name, got := range files {
			golden := filepath.Join("testdata", tc.name+"."+name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from %s; rerun with -update if the change is intended\n--- got ---\n%s", tc.name, name, golden, got)
			}
		}
	}
}

// deprecatedForms are Ray Data spellings that current Ray deprecates or has
// removed, with where that is recorded. batch_format="pandas" is not here: it
// is still supported.
var deprecatedForms = []struct {
	re     *regexp.Regexp
	source string
}{
	{regexp.MustCompile(`compute\s*=\s*["'](actors|tasks)`), `string compute strategies; the API takes ray.data.ActorPoolStrategy/TaskPoolStrategy objects (docs.ray.io ray.data.ActorPoolStrategy; ray-project/ray#41948 removed "actors" from the docs)`},
	{regexp.MustCompile(`\bparallelism\s*=`), "read_*(parallelism=) deprecated for override_num_blocks= in Ray 2.10 (ray-project/ray#43113)"},
	{regexp.MustCompile(`\.fully_executed\(`), "Dataset.fully_executed() deprecated for materialize() in Ray 2.4 (ray-project/ray#33779, #34169)"},
	{regexp.MustCompile(`\bprefetch_blocks\s*=`), "prefetch_blocks= replaced by prefetch_batches= (ray-project/ray#40013)"},
	{regexp.MustCompile(`ActorPoolStrategy\(\s*\d`), "positional ActorPoolStrategy(min, max) sizes; the API is keyword-only (size=, min_size=, max_size=)"},
	{regexp.MustCompile(`\bDatasetPipeline\b|\.window\(|\.repeat\(`), "DatasetPipeline was removed in Ray 2.8 in favour of streaming execution"},
	{regexp.MustCompile(`Image\.(BILINEAR|NEAREST|BICUBIC|LANCZOS)\b`), "Pillow 9.1 moved resampling filters to Image.Resampling (the old names were restored in 9.4 but Image.Resampling is the documented spelling)"},
}

// versionForms are deprecated only from one side of Ray 2.51: before it,
// map_batches(compute=) warns "deprecated in Ray 2.9, specify concurrency"
// (ray-project/ray#41461); from it, map_batches(concurrency=) warns
// "deprecated in Ray 2.51, specify compute" (ray-project/ray#57035).
var (
	concurrencyArg = regexp.MustCompile(`\bconcurrency\s*=`)
	computeArg     = regexp.MustCompile(`\bcompute\s*=`)
)

func TestScriptsUseNoDeprecatedRayAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range goldenSpecs {
		spec := tc.spec()
		files, err := Render(spec, false)
		if err != nil {
			t.Fatal(err)
		}
		code := stripPythonComments(string(files["main.py"]))
		for _, d := range deprecatedForms {
			if loc := d.re.FindStringIndex(code); loc != nil {
				t.Errorf("%s: main.py uses %q: %s", tc.name, code[loc[0]:loc[1]], d.source)
			}
		}
		v, _ := parseRayVersion(spec.RayVersion)
		if v.less(computeSince) {
			if computeArg.MatchString(code) {
				t.Errorf("%s: Ray %s script passes compute=, deprecated there since 2.9 (ray-project/ray#41461)", tc.name, spec.RayVersion)
			}
			if !concurrencyArg.MatchString(code) {
				t.Errorf("%s: Ray %s script does not size its pool with concurrency=", tc.name, spec.RayVersion)
			}
		} else {
			if concurrencyArg.MatchString(code) {
				t.Errorf("%s: script passes concurrency=, deprecated in Ray 2.51 (ray-project/ray#57035)", tc.name)
			}
			if !computeArg.MatchString(code) {
				t.Errorf("%s: script does not size its pool with compute=", tc.name)
			}
		}
		if !strings.Contains(code, "ray.data.read_images(") || !strings.Contains(code, "include_paths=True") {
			t.Errorf("%s: main.py does not read with read_images(include_paths=True)", tc.name)
		}
	}
}

// stripPythonComments drops # comments, so the MISTAKE notes (which quote
// API names) do not count as code. Generated code has no # inside strings
// except in the f-strings it controls.
func stripPythonComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// TestScriptsCompile byte-compiles every generated main.py with python3.
func TestScriptsCompile(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found; skipping py_compile")
	}
	if exec.Command(py, "-c", "import sys; assert sys.version_info >= (3, 8)").Run() != nil {
		t.Skip("python3 is older than 3.8 or broken")
	}
	dir := t.TempDir()
	specs := append([]struct {
		name string
		spec func() JobSpec
	}(nil), goldenSpecs...)
	// Each mistake alone, and in the combinations the template treats
	// specially, must still compile.
	for _, id := range KnownMistakes() {
		specs = append(specs, struct {
			name string
			spec func() JobSpec
		}{id, func() JobSpec { return withMistakes(optimizedSpec(), id) }})
	}
	specs = append(specs, struct {
		name string
		spec func() JobSpec
	}{"actor-model-per-batch-preprocess", func() JobSpec {
		return withMistakes(optimizedSpec(), "model-per-batch", "preprocess-in-actor", "transform-per-batch")
	}})
	for _, r := range []struct{ reader, col string }{{"parquet", ""}, {"parquet", "jpg"}, {"webdataset", ""}} {
		specs = append(specs, struct {
			name string
			spec func() JobSpec
		}{"reader-" + r.reader + r.col, func() JobSpec {
			s := optimizedSpec()
			s.Reader, s.ImageColumn = r.reader, r.col
			return s
		}})
	}
	for _, tc := range specs {
		files, err := Render(tc.spec(), true)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r, ok := strings.CutPrefix(tc.name, "reader-"); ok {
			r = strings.TrimSuffix(r, "jpg")
			if !strings.Contains(string(files["main.py"]), "read_"+r+"(") {
				t.Errorf("%s: main.py does not call read_%s", tc.name, r)
			}
			// The job's README says which reader it uses, not read_images.
			if readme := string(files["README.md"]); !strings.Contains(readme, "ray.data.read_"+r) || strings.Contains(readme, "read_images") {
				t.Errorf("%s: README.md does not name read_%s alone", tc.name, r)
			}
		}
		p := filepath.Join(dir, tc.name+".py")
		if err := os.WriteFile(p, files["main.py"], 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(py, "-m", "py_compile", p)
		cmd.Env = append(os.Environ(), "PYTHONPYCACHEPREFIX="+filepath.Join(dir, "pycache"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: py_compile: %v\n%s", tc.name, err, out)
		}
	}
}

// withMistakes adds mistakes to s and adjusts the values that a value
// mistake needs.
func withMistakes(s JobSpec, ids ...string) JobSpec {
	for _, id := range ids {
		s.Mistakes = append(s.Mistakes, Mistake{ID: id})
		switch id {
		case "one-block":
			s.OverrideNumBlocks = 1
		case "tiny-blocks":
			s.OverrideNumBlocks = 10000
		case "cpu-only":
			s.NumGPUs = 0
		case "json-output":
			s.Format = FormatJSON
		}
	}
	return s
}

// TestMistakesAreReproduced checks that each mistake changes the code, not
// only the comments, and is marked where it happens.
func TestMistakesAreReproduced(t *testing.T) {
	t.Parallel()
	base, err := Render(optimizedSpec(), false)
	if err != nil {
		t.Fatal(err)
	}
	baseCode := stripPythonComments(string(base["main.py"]))
	// What each mistake must put into the code.
	evidence := map[string]string{
		"model-per-batch":     "\n        session = open_session()",
		"per-image-forward":   "images[i : i + 1]",
		"tiny-batch":          "",
		"tasks-not-actors":    "compute=ray.data.TaskPoolStrategy(size=POOL_SIZE)",
		"transform-per-batch": "transform = Transform()",
		"hot-path-logging":    `print(f"classified`,
		"row-objects":         "ds = ds.map(preprocess_row)",
		"json-output":         "ds.write_json(OUTPUT)",
		"take-all":            "rows = ds.take_all()",
		"tiny-blocks":         "override_num_blocks=OVERRIDE_NUM_BLOCKS",
		"one-block":           "OVERRIDE_NUM_BLOCKS = 1",
		"preprocess-in-actor": "prepared = [prepare(transform, image) for image in batch[\"image\"]]\n    images = stack",
		"no-backpressure":     "ds = ds.materialize()",
		"oversubscribed":      "",
		"cpu-only":            "NUM_GPUS = 0\n",
	}
	for _, id := range KnownMistakes() {
		want, ok := evidence[id]
		if !ok {
			t.Errorf("mistake %s has no evidence check in this test", id)
			continue
		}
		files, err := Render(withMistakes(optimizedSpec(), id), false)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		src := string(files["main.py"])
		if !strings.Contains(src, "# MISTAKE ("+id+"):") {
			t.Errorf("%s: no MISTAKE marker in main.py", id)
		}
		if !strings.Contains(string(files["README.md"]), "**"+id+"**") {
			t.Errorf("%s: README does not list the mistake", id)
		}
		code := stripPythonComments(src)
		if want != "" && (!strings.Contains(code, want) || strings.Contains(baseCode, want)) {
			t.Errorf("%s: code should contain %q, and the optimized code should not", id, want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*JobSpec)
		want   []string // substrings, one per expected error
	}{
		{"valid", func(*JobSpec) {}, nil},
		{"empty", func(s *JobSpec) { *s = JobSpec{} }, []string{"Name", "Data", "ModelPath", "Output", "InputH", "BatchSize", "Concurrency"}},
		{"unknown mistake", func(s *JobSpec) { s.Mistakes = []Mistake{{ID: "gpu-melting"}} }, []string{`"gpu-melting" is not one Export can reproduce`}},
		{"one-block needs 1", func(s *JobSpec) { s.Mistakes = []Mistake{{ID: "one-block"}} }, []string{"OverrideNumBlocks = 1"}},
		{"cpu-only needs 0 GPUs", func(s *JobSpec) { s.Mistakes = []Mistake{{ID: "cpu-only"}} }, []string{"NumGPUs = 0"}},
		{"exclusive mistakes", func(s *JobSpec) {
			s.Mistakes = []Mistake{{ID: "row-objects"}, {ID: "preprocess-in-actor"}}
		}, []string{"exclude each other"}},
		{"multi-line comment", func(s *JobSpec) { s.Mistakes = []Mistake{{ID: "take-all", Comment: "a\nimport os"}} }, []string{"one line"}},
		{"old ray", func(s *JobSpec) { s.RayVersion = "2.9" }, []string{"2.10 or later"}},
		{"bad version", func(s *JobSpec) { s.RayVersion = "latest" }, []string{"MAJOR.MINOR"}},
		{"fractional multi-GPU", func(s *JobSpec) { s.NumGPUs = 1.5 }, []string{"fractions only below 1"}},
		{"inverted pool", func(s *JobSpec) { s.Concurrency = Autoscale(8, 2) }, []string{"Min <= Max"}},
		{"not onnx", func(s *JobSpec) { s.ModelPath = "/models/resnet18.pt" }, []string{"not an .onnx"}},
		{"checkpoint on old ray", func(s *JobSpec) { s.Checkpoint, s.RayVersion = "s3://b/ck", "2.46" }, []string{"CheckpointConfig needs Ray 2.51"}},
		{"relative checkpoint", func(s *JobSpec) { s.Checkpoint = "ck" }, []string{"absolute path every node sees"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := optimizedSpec()
			tc.mutate(&s)
			errs := s.Validate()
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to mention %q", i, errs[i], w)
				}
			}
		})
	}
}

// TestSpecTextCannotEscapeComments feeds hostile text through every field that
// reaches main.py and checks the script still compiles and has no injected
// statement.
func TestSpecTextCannotEscapeComments(t *testing.T) {
	t.Parallel()
	s := optimizedSpec()
	evil := "x\"\"\"\nimport os; os.system('rm -rf /')\n#"
	s.Title = evil
	s.Data = evil
	s.Output = evil
	s.Provenance = map[string]string{"batch_size": evil, "other": evil}
	files, err := Render(s, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(files["main.py"]), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "import os") {
			t.Fatalf("spec text became code: %q", line)
		}
	}
	if py, err := exec.LookPath("python3"); err == nil {
		p := filepath.Join(t.TempDir(), "main.py")
		if err := os.WriteFile(p, files["main.py"], 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(py, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", p).CombinedOutput(); err != nil {
			t.Fatalf("script does not parse: %v\n%s", err, out)
		}
	}
}

func TestExportWritesFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	model := filepath.Join(root, "resnet18.onnx")
	if err := os.WriteFile(model, []byte("not really onnx, only copied"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := optimizedSpec()
	spec.ModelPath = model
	dir := filepath.Join(root, "jobs", "optimized")
	if err := Export(spec, dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"main.py", "requirements.txt", "README.md", "resnet18.onnx"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	main, _ := os.ReadFile(filepath.Join(dir, "main.py"))
	if !strings.Contains(string(main), `MODEL = "resnet18.onnx"`) {
		t.Errorf("main.py does not load the copied model from the job folder")
	}
	req, _ := os.ReadFile(filepath.Join(dir, "requirements.txt"))
	for _, want := range []string{"ray[data]>=2.51", "onnxruntime-gpu", "pillow", "numpy", "pyarrow"} {
		if !strings.Contains(string(req), want) {
			t.Errorf("requirements.txt lacks %s:\n%s", want, req)
		}
	}

	// Re-exporting replaces the earlier export whole; no temp folders stay.
	spec.BatchSize = 64
	if err := Export(spec, dir); err != nil {
		t.Fatalf("re-export: %v", err)
	}
	main, _ = os.ReadFile(filepath.Join(dir, "main.py"))
	if !strings.Contains(string(main), "BATCH_SIZE = 64") {
		t.Errorf("re-export did not replace main.py")
	}
	left, _ := os.ReadDir(filepath.Join(root, "jobs"))
	if len(left) != 1 {
		t.Errorf("jobs/ holds %d entries after re-export, want only the job folder", len(left))
	}

	// A folder that is not an export is never replaced.
	mine := filepath.Join(root, "mine")
	if err := os.MkdirAll(mine, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mine, "main.py"), []byte("print('mine')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Export(spec, mine); err == nil || !strings.Contains(err.Error(), "not a workbench job folder") {
		t.Errorf("export over a user's folder: err = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(mine, "main.py")); string(b) != "print('mine')\n" {
		t.Errorf("user's main.py was changed")
	}

	// A CPU job asks for the CPU build of ONNX Runtime.
	cpu := optimizedSpec()
	cpu.NumGPUs = 0
	files, err := Render(cpu, false)
	if err != nil {
		t.Fatal(err)
	}
	if r := string(files["requirements.txt"]); strings.Contains(r, "onnxruntime-gpu") || !strings.Contains(r, "onnxruntime>=") {
		t.Errorf("CPU job requirements:\n%s", r)
	}
}

func TestExportRejectsMissingRelativeModel(t *testing.T) {
	t.Parallel()
	spec := optimizedSpec()
	spec.ModelPath = "no-such-model.onnx"
	err := Export(spec, filepath.Join(t.TempDir(), "job"))
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v", err)
	}
	spec.Name = ""
	if err := Export(spec, t.TempDir()); err == nil || errors.Unwrap(err) == nil {
		t.Fatalf("invalid spec: err = %v, want a wrapped validation error", err)
	}
}

func TestRuntimePipSkipsClusterPackages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, err := Render(optimizedSpec(), false)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	req, err := NewSubmitRequest(dir, map[string]string{"scenario": "optimized"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Entrypoint != "python main.py" || req.RuntimeEnv == nil || !filepath.IsAbs(req.RuntimeEnv.WorkingDir) {
		t.Fatalf("request = %+v", req)
	}
	got := strings.Join(req.RuntimeEnv.Pip, " ")
	if got != "pillow>=9.1 onnxruntime-gpu>=1.17" {
		t.Errorf("pip = %q, want only what the cluster lacks", got)
	}
	if _, err := NewSubmitRequest(t.TempDir(), nil); err == nil {
		t.Errorf("a folder without main.py was accepted")
	}
}

// pythonWithNumpy returns a python3 that can import numpy and PIL, or "".
func pythonWithNumpy() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import numpy, PIL.Image").Run() == nil {
			return p
		}
	}
	return ""
}

// TestScriptUDFsRun executes the generated preprocessing and inference code
// (with ray, onnxruntime and pyarrow stubbed; numpy and Pillow real) and
// checks the recipe's numbers, the output columns, and that the model-load
// and per-image mistakes really load and run the model more often.
func TestScriptUDFsRun(t *testing.T) {
	t.Parallel()
	py := pythonWithNumpy()
	if py == "" {
		t.Skip("no python3 with numpy and Pillow (Debian: python3-numpy python3-pil)")
	}
	harness, err := filepath.Abs(filepath.Join("testdata", "run_udfs.py"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]JobSpec{}
	for _, tc := range goldenSpecs {
		cases[tc.name] = tc.spec()
	}
	for _, id := range KnownMistakes() {
		cases[id] = withMistakes(optimizedSpec(), id)
	}
	dir := t.TempDir()
	for name, spec := range cases {
		files, err := Render(spec, true)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p := filepath.Join(dir, name+".py")
		if err := os.WriteFile(p, files["main.py"], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(py, harness, p).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				out = ee.Stderr
			}
			t.Errorf("%s: %v\n%s", name, err, out)
			continue
		}
		var got struct {
			Shape          []int
			Dtype          string
			MaxAbsDiff     float64 `json:"max_abs_diff"`
			Loads          int     `json:"loads_for_two_batches"`
			Runs           int     `json:"runs_for_two_batches"`
			PredictedClass []*int  `json:"predicted_class"`
			Top5           [][]int `json:"top5"`
			Confidence     []*float64
			Error          []*string
			Path           []string
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if fmt.Sprint(got.Shape) != "[3 224 224]" || got.Dtype != "float32" || got.MaxAbsDiff > 1e-5 {
			t.Errorf("%s: transform gives %v %s, %g from the direct recipe", name, got.Shape, got.Dtype, got.MaxAbsDiff)
		}
		wantLoads, wantRuns := 1, 2
		if spec.has("model-per-batch") || spec.has("tasks-not-actors") {
			wantLoads = 2
		}
		if spec.has("per-image-forward") {
			wantRuns = 4
		}
		if got.Loads != wantLoads || got.Runs != wantRuns {
			t.Errorf("%s: two batches of two images loaded the model %d times and ran it %d times, want %d and %d", name, got.Loads, got.Runs, wantLoads, wantRuns)
		}
		// Row a.jpg classifies; b.jpg failed preprocessing and carries
		// only its error.
		ok := len(got.PredictedClass) == 2 && got.PredictedClass[0] != nil && *got.PredictedClass[0] == 3 &&
			got.PredictedClass[1] == nil && got.Confidence[0] != nil && *got.Confidence[0] > 0.5 &&
			len(got.Top5) == 2 && fmt.Sprint(got.Top5[0]) == "[3 7 0 1 2]" && got.Top5[1] == nil &&
			got.Error[0] == nil && got.Error[1] != nil && strings.HasPrefix(*got.Error[1], "preprocess:") &&
			fmt.Sprint(got.Path) == "[a.jpg b.jpg]"
		if !ok {
			t.Errorf("%s: output rows wrong:\n%s", name, lines[len(lines)-1])
		}
	}
}

// TestInFlightOnlyForActorPools: max_tasks_in_flight_per_actor is an
// ActorPoolStrategy option, so a task pool and the pre-2.51 concurrency=
// idiom leave it out, and an actor pool under compute= carries it.
func TestInFlightOnlyForActorPools(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*JobSpec)
		want bool
	}{
		{"actor pool", func(*JobSpec) {}, true},
		{"task pool", func(s *JobSpec) { s.Mistakes = []Mistake{{ID: "tasks-not-actors"}} }, false},
		{"Ray 2.46", func(s *JobSpec) { s.RayVersion = "2.46" }, false},
		{"unset", func(s *JobSpec) { s.MaxTasksInFlightPerActor = 0 }, false},
	} {
		s := optimizedSpec()
		c.edit(&s)
		files, err := Render(s, false)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		main := string(files["main.py"])
		if got := strings.Contains(main, "max_tasks_in_flight_per_actor=MAX_TASKS_IN_FLIGHT"); got != c.want {
			t.Errorf("%s: passes max_tasks_in_flight_per_actor: %v, want %v", c.name, got, c.want)
		}
		if strings.Contains(main, "MAX_TASKS_IN_FLIGHT =") != c.want {
			t.Errorf("%s: defines MAX_TASKS_IN_FLIGHT without using it, or uses it undefined", c.name)
		}
	}
}

// TestLargeModelIsReferencedNotBundled: a model past Ray's working_dir
// limit is refused with the limit and --model-uri named; with a ModelURI
// the same model is referenced and nothing is copied.
func TestLargeModelIsReferencedNotBundled(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	model := filepath.Join(root, "big.onnx")
	f, err := os.Create(model)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: the size is what matters, not the bytes.
	if err := f.Truncate(MaxPackageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	spec := optimizedSpec()
	spec.ModelPath = model
	err = Export(spec, filepath.Join(root, "job"))
	for _, want := range []string{"500 MiB", "too big to bundle", "--model-uri"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
	spec.ModelURI = "s3://example-bucket/models/big.onnx"
	dir := filepath.Join(root, "job")
	if err := Export(spec, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "big.onnx")); !os.IsNotExist(err) {
		t.Errorf("the model was bundled although ModelURI is set (stat: %v)", err)
	}
	main, _ := os.ReadFile(filepath.Join(dir, "main.py"))
	if !strings.Contains(string(main), `"s3://example-bucket/models/big.onnx"`) {
		t.Errorf("main.py does not load the model from ModelURI")
	}
	spec.ModelURI = "relative/model.onnx"
	if err := Export(spec, filepath.Join(root, "job2")); err == nil || !strings.Contains(err.Error(), "ModelURI") {
		t.Errorf("relative ModelURI: err = %v", err)
	}
}

// TestTunedFromFile: a watch finds the local results an export was tuned
// from in the job's metadata, from the keys Meta writes or, for a job
// exported before them, from the start of workbench_tuned_from.
func TestTunedFromFile(t *testing.T) {
	t.Parallel()
	spec := JobSpec{Name: "optimized", TunedFrom: "sweep.json (batch=64 from sweep sweep.json: 301 img/s ± 1%)",
		TunedFromFile: "/home/me/sweep.json", TunedFromLabel: "batch=64"}
	tests := []struct {
		name              string
		meta              map[string]string
		wantPath, wantCel string
	}{
		{"written by Meta", spec.Meta(), "/home/me/sweep.json", "batch=64"},
		{"an older export: the file named in tuned_from", map[string]string{MetaTunedFrom: spec.TunedFrom}, "sweep.json", ""},
		{"exported without --from", JobSpec{Name: "optimized"}.Meta(), "", ""},
	}
	for _, tt := range tests {
		if p, c := TunedFromFile(tt.meta); p != tt.wantPath || c != tt.wantCel {
			t.Errorf("%s: %q %q, want %q %q", tt.name, p, c, tt.wantPath, tt.wantCel)
		}
	}
}
