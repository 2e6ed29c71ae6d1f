package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"workbench/bench"
	"workbench/ray"
	"workbench/tui/backend"
	"workbench/tui/common"
)

// load runs the screen's fetches by hand: the list, then the selected log
// (and its Ray Data view).
func load(t *testing.T, m *Model) {
	t.Helper()
	m.Update(m.fetch()())
	runCmd(m, m.fetchLog())
}

// runCmd runs cmd and feeds its messages back, opening batches, so a test
// needs no event loop.
func runCmd(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		for _, c := range b {
			runCmd(m, c)
		}
		return
	}
	m.Update(msg)
}

func TestJobsScreen(t *testing.T) {
	m := New(common.New(110, 30, true), backend.NewFakeJobs())
	m.Start(context.Background())
	load(t, m)
	view := m.View(110, 28)
	for _, want := range []string{"Ray jobs at http://127.0.0.1:8265", "workbench-optimized-1", "SUCCEEDED",
		"workbench-slow-2", "FAILED", "exit code 1", "RUNNING", "log of workbench-optimized-1", "finished in 296.1 seconds"} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	// Down twice selects the running job; its log tail ends with the
	// latest line and drops the earliest ones that do not fit.
	for range 2 {
		runCmd(m, m.Update(tea.KeyPressMsg{Code: tea.KeyDown}))
	}
	view = m.View(110, 16)
	if !strings.Contains(view, "log of workbench-tuned-3") || !strings.Contains(view, "30/30 blocks") {
		t.Errorf("log tail of the running job missing:\n%s", view)
	}
	if strings.Contains(view, " 1/30 blocks") {
		t.Errorf("tail shows the first log line although it cannot fit:\n%s", view)
	}
	for i, line := range strings.Split(view, "\n") {
		if w := lipgloss.Width(line); w > 110 {
			t.Errorf("line %d is %d cells wide", i, w)
		}
	}
}

func TestJobsScreenUnreachable(t *testing.T) {
	m := New(common.New(80, 24, true), &backend.FakeJobs{Err: errors.New("dial tcp 127.0.0.1:8265: connection refused")})
	m.Start(context.Background())
	load(t, m)
	if view := m.View(80, 22); !strings.Contains(view, "unreachable: dial tcp") {
		t.Errorf("no error shown:\n%s", view)
	}
}

func TestStopIgnoresLateReplies(t *testing.T) {
	m := New(common.New(80, 24, true), backend.NewFakeJobs())
	m.Start(context.Background())
	msg := m.fetch()()
	m.Stop()
	if cmd := m.Update(msg); cmd != nil || len(m.Jobs()) != 0 {
		t.Errorf("a reply after Stop was used (cmd %v, %d jobs)", cmd != nil, len(m.Jobs()))
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestJobsScreenRayDataGolden draws the running job's Ray Data pane above
// its log tail at both terminal sizes, after two polls two seconds apart
// (so rows/s are the difference over 2 s), fed by hand so nothing depends
// on timing. go test ./tui/pages/jobs -update rewrites the goldens.
func TestJobsScreenRayDataGolden(t *testing.T) {
	t.Parallel()
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 48}} {
		fake := backend.NewFakeJobs()
		m := New(common.New(size.w, size.h, true), fake)
		m.Start(context.Background())
		load(t, m)
		for range 2 {
			m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
		}
		m.Update(m.fetch()())
		m.Update(logMsg{id: "workbench-tuned-3", log: fake.Log["workbench-tuned-3"]})
		first := fake.Data["03000000"]
		at := time.Unix(1764100520, 0)
		m.Update(dataMsg{id: "workbench-tuned-3", ds: first, at: at})
		second := append([]ray.DatasetInfo(nil), first...)
		second[0].Operators = append([]ray.OperatorInfo(nil), first[0].Operators...)
		for i := range second[0].Operators {
			second[0].Operators[i].OutputRows.Max += 1280
		}
		second[0].OutputRows.Max += 1280
		second[0].Progress += 8
		m.Update(dataMsg{id: "workbench-tuned-3", ds: second, at: at.Add(2 * time.Second)})
		view := ansi.Strip(m.View(size.w, size.h))
		for i, l := range strings.Split(view, "\n") {
			if w := lipgloss.Width(l); w > size.w {
				t.Errorf("%dx%d line %d is %d wide", size.w, size.h, i, w)
			}
		}
		for _, want := range []string{"Ray Data of workbench-tuned-3", "MapBatches(Predictor)", "640", "bottleneck: MapBatches(Predictor)", "log of workbench-tuned-3"} {
			if !strings.Contains(view, want) {
				t.Errorf("%dx%d view lacks %q:\n%s", size.w, size.h, want, view)
			}
		}
		checkGolden(t, fmt.Sprintf("jobs_raydata_%dx%d", size.w, size.h), view)
	}
}

// TestJobsScreenNoDataView: a cluster without the Ray Data view gets one
// line and the log tail still shows.
func TestJobsScreenNoDataView(t *testing.T) {
	t.Parallel()
	fake := backend.NewFakeJobs()
	fake.Data = nil
	m := New(common.New(100, 30, true), fake)
	m.Start(context.Background())
	load(t, m)
	for range 2 {
		m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	_, err := fake.Datasets(context.Background(), "03000000")
	m.Update(dataMsg{id: "workbench-tuned-3", err: err, at: time.Unix(1764100520, 0)})
	m.Update(logMsg{id: "workbench-tuned-3", log: fake.Log["workbench-tuned-3"]})
	view := m.View(100, 30)
	if !strings.Contains(view, "no /api/data/datasets") || !strings.Contains(view, "log of workbench-tuned-3") {
		t.Errorf("want one line about the missing view and the log tail:\n%s", view)
	}
}

// The tests below watch one job, workbench-optimized-1 (Ray job 02000000),
// through the dashboard answers recorded in ray/testdata/datasets: the
// exact shape of GET /api/data/datasets/{job_id} as data_head.py
// (ray-project/ray, python/ray/dashboard/modules/data/data_head.py, commit
// 2c327605f28c) serves it; ray/watch_test.go says more. They run inside a
// synctest bubble, so the poll ticks cost no real time and every poll is
// exactly the poll interval after the one before.

// recorded decodes a recorded payload and moves its times so the first
// dataset started 20 s before now, as on a live cluster.
func recorded(t *testing.T, file string) []ray.DatasetInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "ray", "testdata", "datasets", file))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Datasets []ray.DatasetInfo `json:"datasets"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	shift := float64(time.Now().Unix()) - 20 - resp.Datasets[0].StartTime
	for i := range resp.Datasets {
		d := &resp.Datasets[i]
		d.StartTime += shift
		if d.EndTime > 0 {
			d.EndTime += shift
		}
	}
	return resp.Datasets
}

// tunedMeta is the metadata submit sends for a job exported with --from.
func tunedMeta() map[string]string {
	return map[string]string{ray.MetaScenario: "optimized", ray.MetaDataset: "workbench_optimized",
		ray.MetaTunedFrom: "sweep.json (batch=64 concurrency=2 from sweep sweep.json: 301 img/s ± 1%)", ray.MetaTunedFromFile: backend.FakeSweepFile,
		ray.MetaTunedFromLabel: "batch=64 concurrency=2"}
}

// step is the cluster at one poll: the job's status and the Ray Data view's
// answer (a recorded file, or an error).
type step struct {
	status ray.JobStatus
	file   string
	err    error
}

// watched is the fake cluster with the one watched job, and the local
// sweep its metadata names.
func watched(meta map[string]string) *backend.FakeJobs {
	f := backend.NewFakeJobs()
	f.Infos = []ray.JobInfo{{SubmissionID: "workbench-optimized-1", JobID: "02000000", Entrypoint: "python main.py",
		StartTime: 1767225580000, Metadata: meta}}
	f.Log = map[string]string{"workbench-optimized-1": "Running Dataset: workbench_optimized\n"}
	return f
}

// screen opens a w×h Jobs screen on the watched job and polls it through
// steps.
func screen(t *testing.T, w, h int, meta map[string]string, steps []step) (*Model, *backend.FakeJobs) {
	t.Helper()
	f := watched(meta)
	m := New(common.New(w, h, true), f)
	watch(t, m, f, steps)
	return m, f
}

// settle runs cmd and the commands its messages lead to, feeding each
// message back as the event loop would, except a poll tick: that is
// returned, not fed, so one call is one round of polling.
func settle(m *Model, cmd tea.Cmd) *pollMsg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var tick *pollMsg
		for _, c := range msg {
			if p := settle(m, c); p != nil {
				tick = p
			}
		}
		return tick
	case pollMsg:
		return &msg
	case nil:
		return nil
	default:
		return settle(m, m.Update(msg))
	}
}

// watch opens the screen and polls once per step, setting the cluster to
// each step's state before its poll.
func watch(t *testing.T, m *Model, f *backend.FakeJobs, steps []step) {
	t.Helper()
	cmd := m.Start(context.Background())
	for i, s := range steps {
		// A new list each poll, as a real client's answer is.
		j := f.Infos[0]
		j.Status = s.status
		if s.status == ray.StatusFailed {
			j.Message = "Job entrypoint command failed with exit code 1"
		}
		f.Infos = []ray.JobInfo{j}
		f.Data, f.DataErr = map[string][]ray.DatasetInfo{}, s.err
		if s.file != "" {
			f.Data["02000000"] = recorded(t, s.file)
		}
		tick := settle(m, cmd)
		if tick == nil {
			t.Fatalf("polling stopped after step %d", i)
		}
		cmd = m.Update(*tick)
	}
}

func press(m *Model, keys ...string) {
	for _, k := range keys {
		msg := tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
		switch k {
		case "pgdown":
			msg = tea.KeyPressMsg{Code: tea.KeyPgDown}
		case "pgup":
			msg = tea.KeyPressMsg{Code: tea.KeyPgUp}
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		}
		settle(m, m.Update(msg))
	}
}

func checkGolden(t *testing.T, name, view string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(view), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui/pages/jobs -update)", err)
	}
	if view != string(want) {
		t.Errorf("%s differs; rerun with -update if intended\n--- got ---\n%s\n--- want ---\n%s", path, view, want)
	}
}

var (
	toSucceeded = []step{{ray.StatusRunning, "running_1.json", nil}, {ray.StatusRunning, "running_2.json", nil}, {ray.StatusSucceeded, "finished.json", nil}}
	toFailed    = []step{{ray.StatusRunning, "running_1.json", nil}, {ray.StatusRunning, "running_2.json", nil}, {ray.StatusFailed, "failed.json", nil}}
)

// TestJobsScreenWatchGolden follows the job through the poll loop and draws
// the screen at both terminal sizes: running (operators and log tail), and
// once it SUCCEEDED or FAILED, beside the local run it was tuned from, or
// with one line saying why it cannot be.
func TestJobsScreenWatchGolden(t *testing.T) {
	t.Parallel()
	view503 := &ray.DataViewError{Err: &ray.HTTPError{Method: "GET", URL: "/api/data/datasets/02000000", StatusCode: 503,
		Body: "ray.exceptions.ActorDiedError: The actor died unexpectedly"}}
	view404 := &ray.DataViewError{Err: &ray.HTTPError{Method: "GET", URL: "/api/data/datasets/02000000", StatusCode: 404, Body: "404: Not Found"}}
	untuned := map[string]string{ray.MetaScenario: "optimized", ray.MetaDataset: "workbench_optimized"}
	elsewhere := tunedMeta()
	elsewhere[ray.MetaTunedFromFile] = "/home/someone-else/sweep.json"
	tests := []struct {
		name  string
		meta  map[string]string
		steps []step
		keys  []string
		want  []string // in the view at both sizes
	}{
		{"succeeded", tunedMeta(), toSucceeded, nil,
			[]string{"SUCCEEDED", "vs the local run it was tuned from: /home/me/sweep.json (batch=64 concurrency=2)", "throughput per GPU", "log of workbench-optimized-1"}},
		{"failed", tunedMeta(), toFailed, nil,
			[]string{"FAILED", "vs the local run it was tuned from", "MapBatches(Predictor) ← Inference", "log of workbench-optimized-1"}},
		{"untuned", untuned, toSucceeded, nil,
			[]string{"the job was exported without --from", "o picks a results file", "FINISHED"}},
		{"local_missing", elsewhere, toSucceeded, nil,
			[]string{"/home/someone-else/sweep.json (named in the job's metadata): open", "o picks"}},
		{"picker", untuned, toSucceeded, []string{"o"},
			[]string{"compare workbench-optimized-1 with which local results?", "▶ sweep.json"}},
		{"picked", untuned, toSucceeded, []string{"o", "enter"},
			[]string{"vs the local run it was tuned from: sweep.json (batch=64 concurrency=2)"}},
		{"running_503", tunedMeta(), []step{{ray.StatusRunning, "", view503}}, nil,
			[]string{"503 Service Unavailable (ray.exceptions.ActorDiedError", "log of workbench-optimized-1"}},
		{"running_404", tunedMeta(), []step{{ray.StatusRunning, "", view404}}, nil,
			[]string{"no /api/data/datasets", "log of workbench-optimized-1"}},
		{"ended_404", tunedMeta(), []step{{ray.StatusRunning, "", view404}, {ray.StatusSucceeded, "", view404}}, nil,
			[]string{"no /api/data/datasets", "no comparison: the cluster record is made from the Ray Data view", "log of workbench-optimized-1"}},
		{"two_datasets", tunedMeta(), []step{{ray.StatusRunning, "two_datasets.json", nil}, {ray.StatusRunning, "two_datasets.json", nil}}, nil,
			[]string{"dataset workbench_optimized_6f1c2a9e_0", "bottleneck: MapBatches(Predictor)"}},
		{"no_prometheus", tunedMeta(), []step{{ray.StatusRunning, "no_prometheus.json", nil}, {ray.StatusRunning, "no_prometheus.json", nil}}, nil,
			[]string{"RUNNING", "–"}},
	}
	for _, tt := range tests {
		for _, size := range []struct{ w, h int }{{80, 24}, {160, 48}} {
			name := fmt.Sprintf("jobs_%s_%dx%d", tt.name, size.w, size.h)
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					m, _ := screen(t, size.w, size.h, tt.meta, tt.steps)
					press(m, tt.keys...)
					view := ansi.Strip(m.View(size.w, size.h))
					for i, l := range strings.Split(view, "\n") {
						if w := lipgloss.Width(l); w > size.w {
							t.Errorf("line %d is %d wide", i, w)
						}
					}
					if n := strings.Count(view, "\n") + 1; n > size.h {
						t.Errorf("%d lines, more than the %d the screen has", n, size.h)
					}
					// Wrapped lines are read as one text.
					flat := strings.Join(strings.Fields(view), " ")
					for _, want := range tt.want {
						if !strings.Contains(flat, want) {
							t.Errorf("view lacks %q:\n%s", want, view)
						}
					}
					checkGolden(t, name, view)
				})
			})
		}
	}
}

// TestJobsScreenComparisonIsTheReports: the screen's comparison is the one
// jobs --watch --compare and workbench report print, built from the same
// cluster record, only laid out for the screen's width.
func TestJobsScreenComparisonIsTheReports(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m, _ := screen(t, 160, 48, tunedMeta(), toSucceeded)
		rec, err := m.clusterRecord(m.list[0])
		if err != nil {
			t.Fatal(err)
		}
		if rec.Kind != bench.KindCluster || rec.Images != 5000 || rec.WallSeconds != 42.5 || rec.Cluster.PeakGPUCores != 4 ||
			rec.Cluster.MeanCPUCores != 17 || !strings.HasPrefix(rec.Bottleneck, "MapBatches(Predictor)") ||
			rec.Cluster.TunedFromFile != backend.FakeSweepFile || rec.Cluster.TunedFromLabel != "batch=64 concurrency=2" {
			t.Errorf("cluster record: images %d wall %v cluster %+v bottleneck %q", rec.Images, rec.WallSeconds, rec.Cluster, rec.Bottleneck)
		}
		// The local run is the median repeat of the cell export took.
		if m.cmp.local == nil || m.cmp.local.Label != "batch=64 concurrency=2" || m.cmp.local.Throughput != 301 {
			t.Fatalf("local run: %+v", m.cmp.local)
		}
		var report strings.Builder
		if err := bench.WriteClusterComparison(&report, m.cmp.local, rec); err != nil {
			t.Fatal(err)
		}
		view := ansi.Strip(m.View(160, 48))
		for _, l := range strings.Split(strings.TrimSpace(report.String()), "\n") {
			if l = strings.TrimRight(l, " "); l != "" && !strings.Contains(view, l) {
				t.Errorf("the report's line %q is not on the screen:\n%s", l, view)
			}
		}
	})
}

// TestJobsScreenScroll: at 80×24 the comparison does not fit; pgdn shows
// the rest down to "where they differ", pgup goes back to the top.
func TestJobsScreenScroll(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m, _ := screen(t, 80, 24, tunedMeta(), toSucceeded)
		top := ansi.Strip(m.View(80, 24))
		if !strings.Contains(top, "more lines (pgdn)") || strings.Contains(top, "where they differ") {
			t.Fatalf("want the top of the comparison and a pgdn line:\n%s", top)
		}
		for range 10 {
			press(m, "pgdown")
			m.View(80, 24)
		}
		bottom := ansi.Strip(m.View(80, 24))
		if !strings.Contains(bottom, "where they differ") || strings.Contains(bottom, "more lines (pgdn)") {
			t.Errorf("pgdn did not reach the end:\n%s", bottom)
		}
		press(m, "pgup", "pgup", "pgup")
		if again := ansi.Strip(m.View(80, 24)); again != top {
			t.Errorf("pgup did not return to the top:\n%s", again)
		}
	})
}

// TestJobsScreenOpsToggle: v switches an ended job from its comparison to
// its Ray Data operators and back, and the help names where v goes.
func TestJobsScreenOpsToggle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m, _ := screen(t, 160, 48, tunedMeta(), toSucceeded)
		help := func() string {
			var keys []string
			for _, b := range m.Help().Short {
				keys = append(keys, b.Help().Key+" "+b.Help().Desc)
			}
			return strings.Join(keys, ", ")
		}
		comparison := ansi.Strip(m.View(160, 48))
		if !strings.Contains(comparison, "vs the local run") || !strings.Contains(help(), "v operators") {
			t.Fatalf("want the comparison and 'v operators' in the help (%s):\n%s", help(), comparison)
		}
		press(m, "v")
		ops := ansi.Strip(m.View(160, 48))
		if strings.Contains(ops, "vs the local run") || !strings.Contains(ops, "Ray Data of") || !strings.Contains(help(), "v comparison") {
			t.Fatalf("after v, want the operators and 'v comparison' in the help (%s):\n%s", help(), ops)
		}
		press(m, "v")
		if back := ansi.Strip(m.View(160, 48)); back != comparison {
			t.Errorf("a second v did not bring the comparison back:\n%s", back)
		}
	})
}

// TestJobsScreenPollInterval: --poll sets the interval, + and - step it
// along PollSteps, the header says it, and a tick at the old interval is
// ignored once it changed.
func TestJobsScreenPollInterval(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f := watched(tunedMeta())
		m := New(common.New(80, 24, true), f)
		m.SetPoll(3 * time.Second) // off the ladder, as --poll 3s
		watch(t, m, f, []step{{ray.StatusRunning, "running_1.json", nil}})
		if !strings.Contains(m.View(80, 24), "refreshed every 3s") {
			t.Errorf("header does not say the --poll interval:\n%s", m.View(80, 24))
		}
		old := m.gen
		for _, tc := range []struct {
			key  string
			want time.Duration
		}{{"+", 5 * time.Second}, {"+", 10 * time.Second}, {"-", 5 * time.Second}, {"-", 2 * time.Second}, {"-", time.Second}, {"-", time.Second}} {
			press(m, tc.key)
			if m.Poll() != tc.want {
				t.Fatalf("after %s: poll %s, want %s", tc.key, m.Poll(), tc.want)
			}
		}
		if !strings.Contains(m.View(80, 24), "refreshed every 1s") {
			t.Errorf("header does not say the new interval:\n%s", m.View(80, 24))
		}
		if m.Update(pollMsg{gen: old}) != nil {
			t.Error("a tick at the old interval started a poll")
		}
		// The next poll comes one interval after the last answer.
		start := time.Now()
		tick := settle(m, m.Update(tea.KeyPressMsg{Code: tea.KeyEnter}))
		if tick == nil || time.Since(start) != time.Second {
			t.Errorf("next poll after %s, want 1s", time.Since(start))
		}
	})
}

// TestJobsScreenPickedSurvivesPolls: a results file picked with o stays the
// job's local run across polls and cursor moves, over the metadata's.
func TestJobsScreenPickedSurvivesPolls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m, f := screen(t, 160, 48, tunedMeta(), toSucceeded)
		if m.cmp.path != backend.FakeSweepFile {
			t.Fatalf("local run from %q, want the metadata's %s", m.cmp.path, backend.FakeSweepFile)
		}
		press(m, "o", "enter")
		f.Infos = append(f.Infos, ray.JobInfo{SubmissionID: "other", Status: ray.StatusSucceeded})
		settle(m, m.fetch())
		press(m, "j", "k")
		if m.cmp.path != "sweep.json" || m.cmp.source != "picked" || m.cmp.local == nil {
			t.Errorf("after polls and moves: %+v", m.cmp)
		}
	})
}
