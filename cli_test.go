package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"workbench/nvml"
	"workbench/promexport"
	"workbench/runner"
	"workbench/vision"
)

// complete runs cobra's hidden __complete command and returns the
// completions, without their descriptions, and the directive.
func complete(t *testing.T, args ...string) ([]string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), &out, &errb, append([]string{"__complete"}, args...)); err != nil {
		t.Fatalf("__complete %q: %v\n%s", args, err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	dir, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("__complete %q: no directive line in %q", args, out.String())
	}
	var got []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		got = append(got, v)
	}
	return got, dir
}

// TestCompletion covers each kind of value the shell completes, through
// cobra's __complete as bash, zsh and fish call it.
func TestCompletion(t *testing.T) {
	// The working folder's *.yaml and *.onnx files are completed too.
	t.Chdir(t.TempDir())
	for _, f := range []string{"my-variant.yaml", "mine.onnx", "notes.txt"} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const (
		noSpace    = 2  // cobra.ShellCompDirectiveNoSpace
		noFiles    = 4  // cobra.ShellCompDirectiveNoFileComp
		filterDirs = 16 // cobra.ShellCompDirectiveFilterDirs
	)
	mistakes := runner.Library().Mistakes()
	cases := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
		dir     int
	}{
		{"subcommands", []string{""}, []string{"run", "race", "ablate", "sweep", "tune", "completion", "man", "scenarios", "model", "data"}, nil, noFiles},
		{"sub-subcommands", []string{"scenarios", ""}, []string{"list", "show", "knobs"}, nil, noFiles},
		{"flags", []string{"run", "--"}, []string{"--batch", "--set", "--scenario", "--benchfmt", "--metrics-addr", "--preserve-order"}, nil, noFiles},
		{"zoo models and .onnx", []string{"run", "--model", ""}, []string{"tiny", "resnet50", "resnet18-fp16", "mine.onnx"}, []string{"notes.txt", "my-variant.yaml"}, noFiles},
		{"scenario flag", []string{"run", "--scenario", ""}, []string{"optimized", "slow", "tiny-batch", "my-variant.yaml"}, []string{"mine.onnx"}, noFiles},
		{"race first positional", []string{"race", ""}, []string{"optimized", "slow", "my-variant.yaml"}, nil, noFiles},
		{"race second positional", []string{"race", "slow", "--model", "tiny", ""}, []string{"optimized", "my-variant.yaml"}, nil, noFiles},
		{"race has two", []string{"race", "slow", "optimized", ""}, nil, []string{"optimized", "slow"}, noFiles},
		{"scenarios show", []string{"scenarios", "show", ""}, []string{"optimized", "my-variant.yaml"}, nil, noFiles},
		{"ablate --only", []string{"ablate", "--only", ""}, mistakes, []string{"optimized"}, noFiles | noSpace},
		{"ablate --only after a comma", []string{"ablate", "--only", mistakes[0] + ","}, []string{mistakes[0] + "," + mistakes[1]}, []string{mistakes[0] + "," + mistakes[0]}, noFiles | noSpace},
		{"knob names after --set", []string{"run", "--set", ""}, []string{"batch_size=", "tensor_pool=", "decoder=", "device="}, []string{"batch_size"}, noFiles | noSpace},
		{"a knob's values after --set knob=", []string{"race", "--set", "decoder="}, prefixed("decoder=", vision.DecoderNames), nil, noFiles},
		{"sweep --set", []string{"sweep", "--set", ""}, []string{"intra_op_threads=", "compute="}, nil, noFiles | noSpace},
		{"decoder", []string{"run", "--decoder", ""}, vision.DecoderNames, nil, noFiles},
		{"device", []string{"run", "--device", ""}, deviceValues(), nil, noFiles},
		{"enum knob", []string{"sweep", "--compute", ""}, []string{"actors", "tasks"}, nil, noFiles},
		{"enum knob, another command", []string{"tune", "--graph-opt", ""}, []string{"disabled", "basic", "extended", "all"}, nil, noFiles},
		{"bool knob", []string{"run", "--tensor-pool="}, []string{"true", "false"}, nil, noFiles},
		{"word of a numeric knob", []string{"run", "--concurrency", ""}, []string{"auto"}, nil, noFiles},
		{"data folders", []string{"run", "--data", ""}, nil, nil, filterDirs},
		{"model export", []string{"model", "export", ""}, []string{"tiny", "resnet50"}, nil, noFiles},
		{"tui --left", []string{"tui", "--left", ""}, []string{"slow", "optimized"}, nil, noFiles},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, dir := complete(t, c.args...)
			for _, w := range c.want {
				if !slices.Contains(got, w) {
					t.Errorf("lacks %q; got %q", w, got)
				}
			}
			for _, w := range c.notWant {
				if slices.Contains(got, w) {
					t.Errorf("offers %q; got %q", w, got)
				}
			}
			if dir != c.dir {
				t.Errorf("directive %d, want %d", dir, c.dir)
			}
		})
	}
}

func prefixed(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

// deviceValues is what --device completes to on this machine: cpu, cuda,
// auto and cuda:N for each GPU NVML sees.
func deviceValues() []string {
	out := []string{"cpu", "cuda", "auto"}
	for i := range nvml.Probe().GPUs {
		out = append(out, "cuda:"+strconv.Itoa(i))
	}
	return out
}

// TestCompletionScripts: `workbench completion SHELL` writes a script for
// each shell, and `workbench man` a man page naming every command.
func TestCompletionScripts(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"completion", "bash"}, []string{"__workbench_", "__complete"}},
		{[]string{"completion", "zsh"}, []string{"#compdef workbench", "__complete"}},
		{[]string{"completion", "fish"}, []string{"complete -c workbench", "__complete"}},
		{[]string{"man"}, []string{".TH WORKBENCH 1", "race", "scenarios", "--metrics-addr", "--benchfmt"}},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), &out, &errb, c.args); err != nil {
			t.Fatalf("%q: %v\n%s", c.args, err, errb.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%q: output lacks %q", c.args, w)
			}
		}
	}
}

// TestHelpPlainInAPipe: help written to something that is not a terminal
// carries no escape codes, with or without NO_COLOR, and keeps each
// command's usage text and examples.
func TestHelpPlainInAPipe(t *testing.T) {
	for _, noColor := range []string{"", "1"} {
		t.Setenv("NO_COLOR", noColor)
		for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"help", "race"}, {"data", "synth", "--help"}, {"data"}} {
			var out, errb bytes.Buffer
			if err := run(context.Background(), &out, &errb, args); err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			if s := out.String() + errb.String(); strings.Contains(s, "\x1b") {
				t.Errorf("%q NO_COLOR=%q: escape codes in %q", args, noColor, s)
			}
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, &out, []string{"race", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"workbench race A B", "interleaved A B A B", "workbench race slow optimized --concurrent --model tiny", "--repeat", "--decoder"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("race --help lacks %q:\n%s", w, out.String())
		}
	}
}

// TestExitCodes: every code in the README's exit-code table is what the
// CLI returns for a case of that kind. A code added to the table without
// a case here fails the test.
func TestExitCodes(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Exit codes")
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(section, -1) {
		n, _ := strconv.Atoi(m[1])
		documented = append(documented, n)
	}
	if len(documented) < 6 {
		t.Fatalf("found codes %v in the README's exit-code table", documented)
	}
	data := synthData(t, 4, map[string][]byte{"broken.jpg": []byte("not a jpeg")})
	tiny := []string{"--data", data, "--model", "tiny", "--sample-hz", "0", "--ceiling=false"}
	runArgs := func(extra ...string) []string {
		return append(append([]string{"run", "--out", filepath.Join(t.TempDir(), "r.parquet")}, tiny...), extra...)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		code int
		name string
		ctx  context.Context
		args []string
	}{
		{0, "version", nil, []string{"version"}},
		{0, "a run", nil, runArgs()},
		{0, "help", nil, []string{"sweep", "--help"}},
		{1, "--fail-on-error with a broken image", nil, runArgs("--fail-on-error")},
		{2, "unknown command", nil, []string{"no-such-command"}},
		{2, "unknown subcommand", nil, []string{"model", "nope"}},
		{2, "unknown flag", nil, []string{"race", "--frobnicate"}},
		{2, "flag without its value", nil, []string{"run", "--model"}},
		{2, "bad flag value", nil, []string{"data", "synth", "-n", "many"}},
		{2, "one scenario for race", nil, []string{"race", "slow"}},
		{2, "missing --data folder", nil, []string{"run", "--data", "/nonexistent/x"}},
		{99, "a threshold failed", nil, runArgs("--threshold", "throughput>1e12")},
		{104, "a threshold that does not parse", nil, runArgs("--threshold", "througput>1")},
		{104, "a bad grid", nil, []string{"sweep", "--batch", "256..16"}},
		{130, "interrupted", cancelled, runArgs()},
	}
	covered := map[int]bool{}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.code)+" "+c.name, func(t *testing.T) {
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			var out, errb bytes.Buffer
			if got := exitCode(&errb, run(ctx, &out, &errb, c.args)); got != c.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", got, c.code, out.String(), errb.String())
			}
		})
		covered[c.code] = true
	}
	for _, code := range documented {
		if !covered[code] {
			t.Errorf("the README documents exit code %d; add a case for it", code)
		}
	}
}

// TestBenchfmtComparedByBenchstat: two tiny-model races written with
// --benchfmt are read and compared by the real benchstat, the version the
// Makefile pins.
func TestBenchfmtComparedByBenchstat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds benchstat and runs four tiny-model runs")
	}
	bin := filepath.Join(t.TempDir(), "benchstat")
	if out, err := exec.Command("go", "build", "-o", bin, "golang.org/x/perf/cmd/benchstat").CombinedOutput(); err != nil {
		t.Skipf("cannot build golang.org/x/perf/cmd/benchstat: %v\n%s", err, out)
	}
	data := synthData(t, 8, nil)
	dir := t.TempDir()
	for _, name := range []string{"old.txt", "new.txt"} {
		var out, errb bytes.Buffer
		err := run(context.Background(), &out, &errb, []string{"race", "slow", "optimized", "--model", "tiny", "--images", "8",
			"--data", data, "--sample-hz", "0", "--warmup", "0", "--benchfmt", filepath.Join(dir, name)})
		if err != nil {
			t.Fatalf("race: %v\n%s", err, errb.String())
		}
		if !strings.Contains(out.String(), "benchfmt: "+filepath.Join(dir, name)) {
			t.Errorf("race does not name the benchfmt file:\n%s", out.String())
		}
	}
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
	for _, want := range []string{"old.txt", "new.txt", "img/s", "s/op", "peak-RSS-B", "Workbench/scenario=slow/", "Workbench/scenario=optimized/", "model: tiny"} {
		if !strings.Contains(text, want) {
			t.Errorf("benchstat output lacks %q", want)
		}
	}
	// Each scenario's row compares old with new: a delta or ~, with n=1.
	for _, sc := range []string{"slow", "optimized"} {
		if !regexp.MustCompile(`scenario=` + sc + `/\S*\s.*(~|[+-]\d+\.\d+%) \(p=\S+ n=1\)`).MatchString(text) {
			t.Errorf("benchstat compares no %s row", sc)
		}
	}
}

// TestMetricsEndpoint scrapes --metrics-addr during a tiny-model run with
// the Prometheus text parser and finds every metric the README's telemetry
// table documents (GPU rows only where a GPU is sampled), with the run's
// scenario and knobs as labels.
func TestMetricsEndpoint(t *testing.T) {
	documented := readmeMetrics(t)
	names := map[string]bool{}
	for _, m := range promexport.Metrics() {
		names[m.Name] = true
		if !slices.Contains(documented, m.Name) {
			t.Errorf("%s is served but not in the README's telemetry table", m.Name)
		}
	}
	for _, d := range documented {
		if !names[d] {
			t.Errorf("the README documents %s, which is not served", d)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	data := synthData(t, 48, nil)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		// Enough images, and telemetry often enough, that the run is
		// still going when the endpoint is scraped.
		done <- run(context.Background(), &bytes.Buffer{}, &stderr, []string{"run", "--model", "tiny", "--data", data,
			"--out", filepath.Join(t.TempDir(), "r.parquet"), "--batch", "2", "--sample-hz", "20", "--ceiling=false",
			"--metrics-addr", addr, "--set", "tensor_pool=false"})
	}()
	gpu := len(nvml.Probe().GPUs) > 0
	// Scrape while it runs until every metric is there; once the run has
	// ended, its last values stay for one more scrape.
	var fams map[string]*dto.MetricFamily
	var runErr error
	for ended := false; ; {
		select {
		case runErr = <-done:
			ended = true
		case <-time.After(20 * time.Millisecond):
		}
		fams = scrape(t, addr)
		if len(missingMetrics(fams, gpu)) == 0 || ended {
			if !ended {
				runErr = <-done
			}
			break
		}
	}
	if runErr != nil {
		t.Fatalf("run: %v\n%s", runErr, stderr.String())
	}
	if !strings.Contains(stderr.String(), "metrics: http://"+addr+"/metrics") {
		t.Errorf("stderr does not say where the metrics are:\n%s", stderr.String())
	}
	for _, m := range missingMetrics(fams, gpu) {
		t.Errorf("scrape lacks %s", m)
	}
	if !gpu {
		t.Log("no GPU sampled here: the GPU rows were not looked for")
	}
	// Labels: the run's scenario on every series; knobs on run_info;
	// operators by name.
	info := fams["workbench_run_info"]
	if info == nil || len(info.Metric) == 0 {
		t.Fatal("no workbench_run_info")
	}
	l := labelMap(info.Metric[0].Label)
	for k, want := range map[string]string{"scenario": "optimized", "dataset": "optimized", "batch_size": "2", "tensor_pool": "false", "decoder": "auto"} {
		if l[k] != want {
			t.Errorf("workbench_run_info %s=%q, want %q (labels %v)", k, l[k], want, l)
		}
	}
	var ops []string
	for _, m := range fams["workbench_output_rows"].Metric {
		ops = append(ops, labelMap(m.Label)["operator"])
	}
	for _, want := range []string{"ReadImages", "Inference"} {
		if !slices.ContainsFunc(ops, func(o string) bool { return strings.Contains(o, want) }) {
			t.Errorf("workbench_output_rows has no %s operator: %v", want, ops)
		}
	}
}

// TestMetricsAddrLoopback: a bare :PORT binds loopback; a non-loopback
// address binds but warns.
func TestMetricsAddrLoopback(t *testing.T) {
	var warned []string
	warnf := func(f string, a ...any) { warned = append(warned, f) }
	e, err := promexport.Serve(":0", nil, warnf)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(e.Addr()); host != "127.0.0.1" {
		t.Errorf(":0 bound %s, want loopback", e.Addr())
	}
	if len(warned) > 0 {
		t.Errorf("loopback warned: %q", warned)
	}
	if _, err := promexport.Serve("0.0.0.0:0", nil, warnf); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "not a loopback address") {
		t.Errorf("0.0.0.0 did not warn: %q", warned)
	}
	if _, err := promexport.Serve("9464", nil, warnf); err == nil {
		t.Error("an address without a port was accepted")
	}
}

// readmeMetrics lists the metric names in the README's telemetry table
// of Prometheus metrics.
func readmeMetrics(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### Prometheus")
	if !ok {
		t.Fatal("README has no ### Prometheus section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(workbench_[a-z0-9_]+)`").FindAllStringSubmatch(section, -1) {
		out = append(out, m[1])
	}
	return out
}

// missingMetrics are the documented metrics fams lacks; GPU metrics count
// only when a GPU is sampled.
func missingMetrics(fams map[string]*dto.MetricFamily, gpu bool) []string {
	var out []string
	for _, m := range promexport.Metrics() {
		if m.GPU && !gpu {
			continue
		}
		if f := fams[m.Name]; f == nil || len(f.Metric) == 0 {
			out = append(out, m.Name)
		}
	}
	return out
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil // not listening yet
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the text parser rejects /metrics: %v", err)
	}
	return fams
}

func labelMap(ls []*dto.LabelPair) map[string]string {
	out := map[string]string{}
	for _, l := range ls {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
