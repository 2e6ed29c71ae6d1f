package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"workbench/datasource"
	"workbench/runner"

	"workbench/bench"
	"workbench/model"
	"workbench/pipeline"
	"workbench/ray"
	"workbench/scenarios"
)

// The three commands here carry a tuned pipeline to a Ray cluster: export
// writes it as a Ray Data job folder, submit runs that folder through the
// Ray Jobs REST API, and jobs lists what the cluster runs. The work itself
// lives in package ray; this file maps scenarios and sweep results onto a
// ray.JobSpec and turns ray's typed errors into clear exits.

const exportUsage = `export ray writes a scenario as a Ray Data job folder (main.py,
requirements.txt, README.md and the model) that runs the same pipeline on a
Ray cluster: read_images → map_batches(preprocess) → map_batches(Predictor)
→ write_parquet, with the scenario's batch size, pool size and GPUs. Each
value carries a comment saying where it came from; with --from, the best cell
of a sweep or tune result overrides the scenario's knobs. A slow scenario
exports faithfully, each mistake marked "# MISTAKE (id)".`

const exportExamples = `  workbench export ray --scenario optimized --data s3://bucket/images/ --output s3://bucket/predictions/
  workbench export ray --scenario optimized --from sweep.json --model resnet50 --out job/
  workbench export ray --scenario slow --model tiny --out slow-job/ --ray-version 2.46
  workbench submit --address http://head-node:8265 job/ --follow`

// currentRay is export's default --ray-version: the current Ray release,
// 2.60.0 on PyPI as of November 2026. Only the major.minor picks idioms.
const currentRay = "2.60"

// Placeholders for the storage the cluster reads and writes. They are
// obviously not real, so a job exported without --data fails loudly on the
// cluster instead of reading the wrong thing.
const (
	placeholderData   = "s3://YOUR-BUCKET/images/"
	placeholderOutput = "s3://YOUR-BUCKET/predictions/"
)

func exportCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("export ray", exportUsage, exportExamples, stdout)
	scen := fs.String("scenario", "", "scenario to export: a built-in NAME or FILE.yaml (default: the --from result's scenario, else optimized)")
	modelName := fs.String("model", "resnet50", "zoo model name or a local .onnx file (copied into the job), or an s3:// URI or absolute cluster path")
	data := fs.String("data", placeholderData, "images the cluster reads: s3://…, gs://… or a path on every node; Parquet tables export read_parquet, .tar shards read_webdataset")
	imageColumn := fs.String("image-column", "", "a Parquet table's binary column of image bytes (default: the Hugging Face layout image: struct<bytes, path>)")
	output := fs.String("output", placeholderOutput, "where the cluster writes predictions: s3://… or a path on every node")
	checkpoint := fs.String("checkpoint", "", "make the job resumable with Ray Data's CheckpointConfig, checkpointing to this folder (s3://… or a path every node sees); default none")
	out := fs.String("out", "job", "job folder to write (replaced only if it is an earlier export)")
	from := fs.String("from", "", "sweep or tune results file (.json, .csv, .parquet); its best cell's settings override the scenario")
	rayVersion := fs.String("ray-version", currentRay, "the cluster's Ray version, e.g. 2.46 (2.51 and later share the current API)")
	modelURI := fs.String("model-uri", "", "load the model on the cluster from here (s3://…, gs://… or an absolute path on every node) instead of bundling --model; needed past Ray's 500 MiB working_dir limit")
	conc := fs.String("concurrency", "", "inference workers on the cluster: N or MIN-MAX (default: the scenario's; auto = 1)")
	gpus := fs.Float64("num-gpus", -1, "GPUs per inference worker on the cluster (default: the scenario's; auto = 1)")
	blocks := fs.Int("blocks", 0, "override_num_blocks on the cluster (default: the scenario's)")
	pos, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("export ray: unexpected argument %q; the folder is --out", pos[0])
	}
	if *blocks < 0 {
		return usageErr("--blocks %d: must be positive", *blocks)
	}
	if *gpus < -1 || (*gpus >= 0 && math.IsNaN(*gpus)) {
		return usageErr("--num-gpus %g: must be 0 or more", *gpus)
	}

	j := rayJob{scenario: *scen, model: *modelName, modelURI: *modelURI, data: *data, imageColumn: *imageColumn,
		output: *output, checkpoint: *checkpoint, rayVersion: *rayVersion, conc: *conc, gpus: *gpus, blocks: *blocks}
	fs.Visit(func(f *flag.Flag) { j.dataTyped = j.dataTyped || f.Name == "data" })
	if *from != "" {
		if j.best, err = bestOf(*from); err != nil {
			return err
		}
		j.tunedFrom, j.tunedFromFile = *from, *from
	}
	s, spec, notes, err := j.write(*out)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	if strings.Contains(spec.Data, "://YOUR-BUCKET/") || *output == placeholderOutput {
		fmt.Fprintln(stderr, "note: --data or --output was not given; edit the YOUR-BUCKET placeholders in main.py or export again with them")
	}
	fmt.Fprintf(stdout, "wrote %s: the %s scenario as a Ray Data job (%d mistake(s) marked)\n", *out, s.Name, len(spec.Mistakes))
	if j.best != nil {
		fmt.Fprintf(stdout, "tuned values: %s\n", j.best.summary)
	}
	fmt.Fprintf(stdout, "submit it:\n  workbench submit --address http://HEAD-NODE:8265 %s --follow\n", *out)
	return nil
}

// rayJob is what export ray writes, whichever front end asks (the command,
// the TUI's sweep screen): a scenario, tuned by a sweep's best cell when
// best is set, sized for the cluster by the flags' values, with its model
// and storage.
type rayJob struct {
	scenario                              string // "" = best's scenario, else optimized
	model, modelURI                       string
	data, imageColumn, output, checkpoint string
	// dataTyped says data was typed (--data): it then wins over the
	// scenario's data:, as a flag over a knob; otherwise data gives way.
	dataTyped     bool
	rayVersion    string
	conc          string  // "" = the scenario's
	gpus          float64 // < 0 = the scenario's
	blocks        int     // 0 = the scenario's
	best          *bestCell
	tunedFrom     string // where best came from, e.g. the --from file
	tunedFromFile string // the results file best came from, "" when none
}

// write exports the job into the folder out (replaced only if it is an
// earlier export) and returns the scenario exported, the job's spec and
// the notes for the reader.
func (j rayJob) write(out string) (*scenarios.Scenario, ray.JobSpec, []string, error) {
	if j.scenario == "" && j.best != nil {
		j.scenario = j.best.scenario
	}
	if j.scenario == "" {
		j.scenario = "optimized"
	}
	// The run path's loader: the same scenario resolution and knob
	// validation as every local run.
	lib := runner.Library()
	cfg := runner.Config{Scenario: j.scenario, Data: j.data}
	if j.dataTyped {
		cfg.Flags = []runner.Setting{{Knob: scenarios.DataKey, Value: j.data, Flag: "--data"}}
	}
	s, _, err := runner.LoadScenario(cfg)
	if err != nil {
		return nil, ray.JobSpec{}, nil, err
	}
	// The scenario's data: when --data was not typed; the shards beside
	// it under data_layout: shards (small-files).
	given, data, err := runner.Data(cfg, s)
	if err != nil {
		return nil, ray.JobSpec{}, nil, err
	}
	prov := map[string]string{}
	origin := "from scenario " + s.Name
	if s.Source != "" {
		origin += " (" + s.Source + ")"
	}
	for _, k := range []string{"batch_size", "concurrency", "num_gpus", "override_num_blocks", "preserve_order"} {
		prov[k] = origin
	}
	if j.best != nil {
		if err := j.best.apply(s, prov); err != nil {
			return nil, ray.JobSpec{}, nil, err
		}
	}
	if errs := s.Validate(); len(errs) > 0 {
		return nil, ray.JobSpec{}, nil, usageErr("scenario %s: %v", s.Name, scenarios.Errors(errs))
	}

	spec, notes, err := ray.SpecFromScenario(lib, s, prov)
	if err != nil {
		return nil, ray.JobSpec{}, nil, err
	}
	if err := overrideSpec(&spec, j.conc, j.gpus, j.blocks, data, prov); err != nil {
		return nil, ray.JobSpec{}, nil, err
	}
	spec.Data, spec.Output, spec.RayVersion, spec.Checkpoint = data, j.output, j.rayVersion, j.checkpoint
	spec.ImageColumn = j.imageColumn
	spec.Reader = rayReader(data, j.imageColumn)
	switch {
	case given == placeholderData:
		prov["data"] = "placeholder: pass --data with the images' location"
	case !j.dataTyped && s.Data != "":
		prov["data"] = origin + " (data:)"
	default:
		prov["data"] = "--data"
	}
	if data != given {
		// A prefix names no format; the shards beside the data are tar.
		spec.Reader = "webdataset"
		prov["data"] += ", data_layout: shards (the shards beside it)"
	}

	m, err := resolveExportModel(j.model)
	if err != nil {
		return nil, ray.JobSpec{}, nil, err
	}
	spec.Model, spec.ModelPath, spec.InputH, spec.InputW = m.Name, m.Path, m.InputH, m.InputW
	spec.ModelURI = j.modelURI
	switch {
	case j.modelURI != "":
		prov["model"] = "--model-uri " + j.modelURI + " (input size read from --model " + j.model + ")"
	case m.Zoo:
		prov["model"] = "zoo model " + m.Name + ", exported by workbench (untrained weights: for measuring speed, not for predictions)"
	default:
		prov["model"] = "--model " + j.model
	}
	spec.Provenance = prov
	if j.best != nil {
		spec.TunedFrom, spec.TunedFromLabel = j.tunedFrom+" ("+j.best.summary+")", j.best.label
		if j.tunedFromFile != "" {
			// Absolute, so a watch started elsewhere on this machine (the
			// TUI, jobs --watch) finds the local run to compare with.
			if spec.TunedFromFile, err = filepath.Abs(j.tunedFromFile); err != nil {
				return nil, ray.JobSpec{}, nil, err
			}
		}
	}
	if err := ray.Export(spec, out); err != nil {
		return nil, ray.JobSpec{}, nil, err
	}
	return s, spec, notes, nil
}

// resolveExportModel resolves a zoo name or local file; anything else that
// names remote storage or a cluster path is passed through for Export to
// reference as is.
func resolveExportModel(name string) (*model.Model, error) {
	if strings.Contains(name, "://") || (filepath.IsAbs(name) && !fileExists(name)) {
		return nil, usageErr("--model %s: export needs the model here to read its input size; download it, or pass a zoo name", name)
	}
	m, err := model.Resolve(name)
	if err != nil {
		return nil, usageErr("--model: %v", err)
	}
	return m, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// overrideSpec applies the cluster-sizing flags, which win over the
// scenario and the sweep because they describe the cluster, not the tuning.
func overrideSpec(spec *ray.JobSpec, conc string, gpus float64, blocks int, data string, prov map[string]string) error {
	if conc != "" {
		c, err := parseConcurrency(conc)
		if err != nil {
			return usageErr("%v", err)
		}
		spec.Concurrency = ray.Autoscale(c.Min, c.Max)
		prov["concurrency"] = "--concurrency " + conc
	}
	if gpus >= 0 {
		spec.NumGPUs = gpus
		prov["num_gpus"] = fmt.Sprintf("--num-gpus %g", gpus)
		if gpus > 0 {
			spec.Mistakes = ray.DeleteMistake(spec.Mistakes, "cpu-only")
		}
	}
	if blocks > 0 {
		spec.OverrideNumBlocks = blocks
		prov["override_num_blocks"] = fmt.Sprintf("--blocks %d", blocks)
		if blocks != 1 {
			spec.Mistakes = ray.DeleteMistake(spec.Mistakes, "one-block")
		}
	} else if n := countImages(data); n > 0 && ray.HasMistake(spec.Mistakes, "tiny-blocks") {
		// A local --data folder can be counted, so per-image is exact.
		spec.OverrideNumBlocks = n
		prov["override_num_blocks"] = fmt.Sprintf("one block per image: %d images in %s", n, data)
		for i := range spec.Mistakes {
			if spec.Mistakes[i].ID == "tiny-blocks" {
				spec.Mistakes[i].Comment = ray.MistakeComment(scenarios.Builtin(), "tiny-blocks", "one block per image")
			}
		}
	}
	return nil
}

func countImages(data string) int {
	if strings.Contains(data, "://") {
		return 0
	}
	n := 0
	_ = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png":
			if !d.IsDir() {
				n++
			}
		}
		return nil
	})
	return n
}

// bestCell is the winning configuration of a sweep or tune results file.
type bestCell struct {
	scenario string
	label    string
	params   map[string]string
	summary  string // "batch=128 from sweep results.json: 1.84k img/s ± 2%"
}

// bestOf picks the best cell of a results file: the cell ranked 1 by the
// sweep, or, in a file without ranks, the label with the highest median
// throughput. Its throughput is summarised over all its repeats.
func bestOf(path string) (*bestCell, error) {
	recs, err := bench.ReadRecordsFile(path)
	if err != nil {
		return nil, usageErr("--from: %v", err)
	}
	b, ok := bestFromRecords(recs, "sweep "+filepath.Base(path))
	if !ok {
		return nil, usageErr("--from %s: no completed run in it", path)
	}
	return b, nil
}

// bestFromRecords picks the best cell of a sweep's records by
// bench.BestCell; source names where they came from in the summary ("sweep
// results.json", "the TUI's sweep"). ok is false when no run completed.
func bestFromRecords(recs []*bench.Record, source string) (*bestCell, bool) {
	best, ok := bench.BestCell(recs)
	if !ok {
		return nil, false
	}
	label := best.Label
	if label == "" {
		label = "the run"
	}
	return &bestCell{
		scenario: best.Scenario,
		label:    best.Label,
		params:   best.Params,
		summary:  fmt.Sprintf("%s from %s: %s", label, source, best.Throughput.Format("img/s")),
	}, true
}

// apply sets the cell's parameters on s and records their provenance under
// each knob's Ray name.
func (b *bestCell) apply(s *scenarios.Scenario, prov map[string]string) error {
	rayKey := map[string]string{"batch_size": "batch_size", "concurrency": "concurrency", "blocks": "override_num_blocks", "num_gpus": "num_gpus", "preserve_order": "preserve_order"}
	dims := make([]string, 0, len(b.params))
	for d := range b.params {
		dims = append(dims, d)
	}
	sort.Strings(dims)
	for _, d := range dims {
		knob := knobOf(d)
		if err := s.Set(knob, b.params[d]); err != nil {
			return usageErr("--from: best cell %s: %v", b.label, err)
		}
		key, ok := rayKey[knob]
		if !ok {
			key = knob // listed in the script's header
		}
		prov[key] = fmt.Sprintf("%s=%s, best cell (%s)", knob, b.params[d], b.summary)
	}
	if len(dims) == 0 {
		prov["sweep"] = b.summary
	}
	return nil
}

const submitUsage = `submit runs an exported job folder on a Ray cluster through the Ray Jobs
REST API (the dashboard port, 8265): it uploads the folder as the job's
working_dir, installs requirements.txt's extra packages with runtime_env pip,
and runs python main.py. --follow streams status and logs until the job ends
and exits non-zero if it FAILED or was STOPPED. --stop ID stops a job.
The Ray auth token is found as Ray finds it: RAY_AUTH_TOKEN, then the file
RAY_AUTH_TOKEN_PATH names, then ~/.ray/auth_token; an explicit
--header Authorization wins. Header values (tokens) are read from the
environment with $NAME and never printed.`

const submitExamples = `  workbench submit --address http://head-node:8265 job/ --follow
  workbench submit --address http://head-node:8265 job/ --follow --json cluster.json --compare results.json
  workbench submit --address https://ray.example.com job/ --header 'Authorization: Bearer $RAY_TOKEN'
  workbench submit --address http://head-node:8265 --stop raysubmit_AbC123`

// clusterFlags are the flags submit and jobs share.
type clusterFlags struct {
	address string
	headers multiFlag
	poll    time.Duration
	timeout time.Duration
}

func (c *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.address, "address", os.Getenv("RAY_ADDRESS"), "Ray dashboard address, e.g. http://head-node:8265 (default $RAY_ADDRESS)")
	fs.Var(&c.headers, "header", "extra HTTP header 'Name: value' (repeatable); $NAME in the value reads the environment")
	fs.DurationVar(&c.poll, "poll", ray.DefaultPollInterval, "how often --follow, --watch and the TUI's Jobs screen ask for status, logs and dataset metrics")
	fs.DurationVar(&c.timeout, "request-timeout", ray.DefaultRequestTimeout, "limit for each request to the cluster")
}

// client builds the ray client; a bad address or header is a usage error.
func (c *clusterFlags) client() (*ray.Client, error) {
	if c.address == "" {
		return nil, usageErr("--address is required (e.g. http://head-node:8265), or set RAY_ADDRESS")
	}
	var hs ray.Headers
	for _, h := range c.headers {
		parsed, err := ray.ParseHeader(h, os.LookupEnv)
		if err != nil {
			return nil, usageErr("--header: %v", err)
		}
		hs = append(hs, parsed)
	}
	if c.poll <= 0 || c.timeout <= 0 {
		return nil, usageErr("--poll and --request-timeout must be positive")
	}
	auth := ray.Auth{Source: "--header Authorization"}
	if !hs.HasHeader("Authorization") {
		home, _ := os.UserHomeDir()
		tok, a, err := ray.FindToken(os.LookupEnv, os.ReadFile, home)
		if err != nil {
			return nil, usageErr("%v", err)
		}
		auth = a
		if tok != "" {
			hs = append(hs, ray.BearerHeader(tok))
		}
	}
	cl, err := ray.NewClient(ray.Config{Address: c.address, Headers: hs, PollInterval: c.poll, RequestTimeout: c.timeout, Auth: auth})
	if err != nil {
		return nil, usageErr("--address: %v", err)
	}
	return cl, nil
}

// shownAddress is the address with any URL credentials redacted.
func (c *clusterFlags) shownAddress() string {
	u, err := url.Parse(c.address)
	if err != nil {
		return "the cluster"
	}
	return u.Redacted()
}

// clusterErr adds a hint to errors the user can act on.
func (c *clusterFlags) clusterErr(err error) error {
	var ne *ray.NetworkError
	var je *ray.JobError
	switch {
	case errors.As(err, &je):
		return &exitError{code: 1, err: err}
	case errors.As(err, &ne):
		return fmt.Errorf("%w\n(is the Ray dashboard listening at %s? start the head with `ray start --head --dashboard-host=0.0.0.0`)", err, c.shownAddress())
	}
	// A 401 or 403 already says which token sources were tried and how to
	// get a token (ray.Auth.Hint).
	return err
}

func submitCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("submit", submitUsage, submitExamples, stdout)
	var cf clusterFlags
	cf.register(fs)
	follow := fs.Bool("follow", false, "stream the job's status, logs and Ray Data operators until it ends; exit non-zero if it FAILED or STOPPED")
	var wf watchFlags
	wf.register(fs)
	subID := fs.String("submission-id", "", "the job's submission ID (default: Ray picks raysubmit_…)")
	stop := fs.String("stop", "", "stop the job with this submission ID instead of submitting")
	pos, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	cl, err := cf.client()
	if err != nil {
		return err
	}
	if *stop != "" {
		if len(pos) > 0 {
			return usageErr("submit --stop takes no job folder")
		}
		stopped, err := cl.Stop(ctx, *stop)
		if err != nil {
			return cf.clusterErr(err)
		}
		if stopped {
			fmt.Fprintf(stdout, "stopping job %s\n", *stop)
		} else {
			fmt.Fprintf(stdout, "job %s had already ended\n", *stop)
		}
		return nil
	}
	if len(pos) != 1 {
		return usageErr("submit: want one job folder (made by workbench export ray), e.g. workbench submit --address http://head-node:8265 job/")
	}
	dir := pos[0]
	req, err := ray.NewSubmitRequest(dir, map[string]string{"submitted_by": "workbench", "job_folder": filepath.Base(filepath.Clean(dir))})
	if err != nil {
		return usageErr("%v", err)
	}
	req.SubmissionID = *subID
	id, err := cl.Submit(ctx, req)
	if err != nil {
		return cf.clusterErr(err)
	}
	addr := cf.shownAddress()
	fmt.Fprintf(stdout, "submitted job %s to %s\n", id, addr)
	if !*follow {
		fmt.Fprintf(stdout, "follow it:  workbench jobs --address %s --logs %s\nstop it:    workbench submit --address %s --stop %s\n", addr, id, addr, id)
		return nil
	}
	return wf.watch(ctx, cl, &cf, id, stdout, stderr)
}

// watchFlags are what submit --follow and jobs --watch share: where the
// finished job's record goes and which local record to compare it with.
type watchFlags struct {
	json, compare string
}

func (w *watchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&w.json, "json", "", "when the job ends, write it as a record of kind cluster (FILE.json, .csv or .parquet) for workbench report")
	fs.StringVar(&w.compare, "compare", "", "when the job ends, compare it with this local results file (as workbench report local.json cluster.json does)")
}

// watch follows job id to its end: its log as it grows, a status line per
// poll for each dataset, the operator table at the end, then the record and
// the comparison when asked. A job that FAILED still gets its record.
func (w *watchFlags) watch(ctx context.Context, cl *ray.Client, cf *clusterFlags, id string, stdout, stderr io.Writer) error {
	var locals []*bench.Record
	if w.compare != "" {
		recs, err := bench.ReadRecordsFile(w.compare)
		if err != nil || len(recs) == 0 {
			return usageErr("--compare: %v", cmpOr(err, errors.New(w.compare+" holds no records")))
		}
		if _, ok := bench.LocalPrediction(recs, ""); !ok {
			return usageErr("--compare %s: no completed local run in it", w.compare)
		}
		locals = recs
	}
	lastNote := ""
	snap, werr := cl.Watch(ctx, id, ray.WatchOptions{Log: stdout, OnPoll: func(s ray.Snapshot) {
		if s.DataNote != "" && s.DataNote != lastNote {
			fmt.Fprintln(stderr, "note:", s.DataNote) // once per change, not every poll
		}
		lastNote = s.DataNote
		for _, d := range s.Datasets {
			fmt.Fprintln(stdout, datasetLine(d))
		}
	}})
	if len(snap.Datasets) > 0 {
		for _, l := range ray.DataLines(snap, 120) {
			fmt.Fprintln(stdout, l)
		}
	}
	if snap.Job.Status.Terminal() && (w.json != "" || locals != nil) {
		rec, err := ray.NewClusterRecord(snap, cf.shownAddress())
		switch {
		case err != nil:
			fmt.Fprintln(stderr, "note:", err)
		default:
			if w.json != "" {
				if err := bench.WriteRecordsFile(w.json, []*bench.Record{rec}); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "wrote %s (kind cluster)\n", w.json)
			}
			if locals != nil {
				// The cell the export took, when the job's metadata names
				// one and the file holds it; else the file's best.
				local, _ := bench.LocalPrediction(locals, rec.Cluster.TunedFromLabel)
				fmt.Fprintln(stdout)
				if err := bench.WriteClusterComparison(stdout, local, rec); err != nil {
					return err
				}
			}
		}
	}
	if werr != nil {
		return cf.clusterErr(werr)
	}
	fmt.Fprintf(stdout, "job %s %s\n", id, snap.Job.Status)
	return nil
}

// datasetLine is one dataset's progress on one line, for a terminal that
// scrolls: the full table comes once, at the end.
func datasetLine(d ray.DatasetView) string {
	line := fmt.Sprintf("[ray data] %s %s %d/%d blocks", d.Dataset, d.State, d.Progress, d.Total)
	if d.HasRate {
		line += fmt.Sprintf(", %.0f rows/s", d.RowsPerSec)
	}
	if d.CPUCores.HasValue {
		line += fmt.Sprintf(", CPU %.1f", d.CPUCores.Value)
	}
	if d.GPUCores.HasValue {
		line += fmt.Sprintf(", GPU %.1f", d.GPUCores.Value)
	}
	if d.Bottleneck.Op != "" {
		line += ", bottleneck " + d.Bottleneck.Op
	}
	return line
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

const jobsUsage = `jobs lists the jobs a Ray cluster knows (submission ID, status, start time,
entrypoint), or with --logs ID prints one job's log so far. --watch ID follows
a job to its end as submit --follow does: its log, and its Ray Data operators
from the dashboard (state, progress, rows/s, CPU and GPU cores, memory);
--json FILE then writes it as a record for workbench report.`

const jobsExamples = `  workbench jobs --address http://head-node:8265
  workbench jobs --address http://head-node:8265 --logs raysubmit_AbC123
  workbench jobs --address http://head-node:8265 --watch raysubmit_AbC123 --json cluster.json --compare results.json
  workbench jobs --address https://ray.example.com --header 'Authorization: Bearer $RAY_TOKEN'`

func jobsCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("jobs", jobsUsage, jobsExamples, stdout)
	var cf clusterFlags
	cf.register(fs)
	logs := fs.String("logs", "", "print the log of the job with this submission ID")
	watch := fs.String("watch", "", "follow the job with this submission ID to its end: log, status and Ray Data operators")
	var wf watchFlags
	wf.register(fs)
	pos, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("jobs: unexpected argument %q", pos[0])
	}
	cl, err := cf.client()
	if err != nil {
		return err
	}
	if *watch != "" {
		return wf.watch(ctx, cl, &cf, *watch, stdout, stderr)
	}
	if *logs != "" {
		text, err := cl.Logs(ctx, *logs)
		if err != nil {
			return cf.clusterErr(err)
		}
		io.WriteString(stdout, text)
		if text != "" && !strings.HasSuffix(text, "\n") {
			fmt.Fprintln(stdout)
		}
		return nil
	}
	jobs, err := cl.List(ctx)
	if err != nil {
		return cf.clusterErr(err)
	}
	if len(jobs) == 0 {
		fmt.Fprintf(stdout, "no jobs on %s\n", cf.shownAddress())
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSTARTED\tENTRYPOINT")
	for _, j := range jobs {
		started := "-"
		if j.StartTime > 0 {
			started = time.UnixMilli(j.StartTime).UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.ID(), j.Status, started, oneLine(j.Entrypoint, 60))
	}
	return tw.Flush()
}

// oneLine squashes s onto one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func init() {
	register(command{name: "export", order: 85, summary: "write a scenario as a Ray Data job folder (export ray)"})
	register(command{name: "export ray", summary: "write a scenario as a Ray Data job folder", run: exportCmd})
	register(command{name: "submit", order: 86, summary: "run a job folder on a Ray cluster (Ray Jobs REST API)", run: submitCmd})
	register(command{name: "jobs", order: 87, summary: "list a Ray cluster's jobs, or print one's logs", run: jobsCmd})
}

// parseConcurrency parses the cluster's pool size: "N" or "MIN-MAX".
func parseConcurrency(s string) (pipeline.Concurrency, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil || a < 1 {
		return pipeline.Concurrency{}, fmt.Errorf("--concurrency %q: want a positive number N or a range MIN-MAX, e.g. 1-4", s)
	}
	if !isRange {
		return pipeline.Fixed(a), nil
	}
	b, err := strconv.Atoi(strings.TrimSpace(hi))
	if err != nil || b < a {
		return pipeline.Concurrency{}, fmt.Errorf("--concurrency %q: want MIN-MAX with MIN <= MAX, e.g. 1-4", s)
	}
	return pipeline.Range(a, b), nil
}

// rayReader picks the Ray Data reader matching --data: what workbench's
// own datasource detects for a local path, else the URI's extension.
func rayReader(data, imageColumn string) string {
	if data != placeholderData && !datasource.IsRemote(data) {
		if src, err := datasource.Open(context.Background(), data, datasource.Options{ImageColumn: imageColumn, Limit: 1}); err == nil {
			switch src.Format {
			case datasource.FormatParquet:
				return "parquet"
			case datasource.FormatWebDataset:
				return "webdataset"
			}
			return "images"
		}
	}
	return ray.ReaderFor(data, imageColumn)
}
