package serve

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"workbench/bench"
	"workbench/pipeline"
	"workbench/tui/backend"
)

// The overhead benchmark runs the server in a child process (this test
// binary, re-executed), so its CPU and RSS are the server's alone and not
// the 21 SSH clients'.
func TestMain(m *testing.M) {
	if dir := os.Getenv("WORKBENCH_SERVE_HELPER"); dir != "" {
		helperServer(dir)
		return
	}
	os.Exit(m.Run())
}

// paced is the fake backend at the engine's pace: a snapshot and a
// telemetry sample every 250 ms (4 a second each), for a run of a minute,
// so spectators watch a run as long and as chatty as a real one.
type paced struct{ backend.Fake }

func (p *paced) Run(ctx context.Context, spec backend.RunSpec, bus *pipeline.EventBus) (*bench.Record, error) {
	k := backend.FakeScenarios[1].Knobs
	evs := backend.Script(k, 240, 240, 2)
	t := time.NewTicker(125 * time.Millisecond)
	defer t.Stop()
	for _, e := range evs {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		bus.Publish(e)
	}
	return backend.Record(spec.Scenario, k, 240, 240), nil
}

func helperServer(dir string) {
	srv, err := New(Config{AuthorizedKeys: filepath.Join(dir, "keys"), HostKeyDir: dir, ReportsDir: filepath.Join(dir, "reports"),
		Defaults: SessionOptions{Data: dir, Model: "tiny"}, Log: os.Stderr, MaxConnsPerKey: 1,
		NewBackend: func(SessionOptions) (backend.Backend, error) { return &paced{}, nil }})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr().String())
	srv.Serve(l)
}

// procUsage reads a process's CPU time (user+system, in clock ticks of
// 10 ms) and resident set size in bytes from /proc.
func procUsage(pid int) (ticks int64, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	return ut + st, pages * int64(os.Getpagesize()), nil
}

// window measures the server's CPU (cores busy) and RSS over n windows
// of d and returns their medians and the spread (max-min) of the CPU.
func window(t testing.TB, pid, n int, d time.Duration) (cpu, cpuLo, cpuHi float64, rss int64) {
	var cpus []float64
	var rsss []int64
	for range n {
		t0, _, _ := procUsage(pid)
		start := time.Now()
		time.Sleep(d)
		t1, r, err := procUsage(pid)
		if err != nil {
			t.Fatal(err)
		}
		cpus = append(cpus, float64(t1-t0)/100/time.Since(start).Seconds())
		rsss = append(rsss, r)
	}
	slices.Sort(cpus)
	slices.Sort(rsss)
	return cpus[n/2], cpus[0], cpus[n-1], rsss[n/2]
}

// BenchmarkServeOverhead measures what the server costs: per connected
// idle session (on the home screen) and with 20 spectators watching one
// run in progress, as CPU (cores) and RSS, each the median of 5 windows of
// 3 s. It runs once whatever b.N is: the figures are rates over windows.
//
//	go test -run '^$' -bench ServeOverhead -benchtime 1x ./serve/
func BenchmarkServeOverhead(b *testing.B) {
	const n = 20
	dir := b.TempDir()
	var keys []testKey
	var lines strings.Builder
	for i := range n + 1 {
		k := newKey(b, fmt.Sprintf("p%02d", i))
		keys = append(keys, k)
		lines.WriteString(k.line)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys"), []byte(lines.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "WORKBENCH_SERVE_HELPER="+dir)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(addr, "error") {
		b.Fatalf("helper: %v %s", err, addr)
	}
	e := &env{addr: strings.TrimSpace(addr)}
	pid := cmd.Process.Pid
	time.Sleep(time.Second)
	cpu0, _, _, rss0 := window(b, pid, 5, 3*time.Second)

	var screens []*screen
	for i := range n {
		s := e.open(b, keys[i], "")
		s.waitFor("Everything the slow way")
		screens = append(screens, s)
	}
	time.Sleep(2 * time.Second)
	cpuIdle, loI, hiI, rssIdle := window(b, pid, 5, 3*time.Second)

	runner := e.open(b, keys[n], "")
	runner.waitFor("Everything the slow way")
	runner.press("r")
	time.Sleep(time.Second)
	for _, s := range screens {
		s.press("v")
	}
	for _, s := range screens {
		s.waitFor("watching p20's run")
	}
	time.Sleep(2 * time.Second)
	cpuSpec, loS, hiS, rssSpec := window(b, pid, 5, 3*time.Second)

	b.ReportMetric(cpu0*1000, "idle-server-mcores")
	b.ReportMetric((cpuIdle-cpu0)*1000/n, "mcores/idle-session")
	b.ReportMetric(float64(rssIdle-rss0)/n/1024, "KiB-RSS/idle-session")
	b.ReportMetric((cpuSpec-cpu0)*1000, "mcores/20-spectators+run")
	b.ReportMetric(float64(rssSpec-rss0)/(1<<20), "MiB-RSS/20-spectators+run")
	b.Logf("server alone: %.1f mcores, RSS %.1f MiB", cpu0*1000, float64(rss0)/(1<<20))
	b.Logf("%d idle sessions: %.1f mcores (%.1f–%.1f), RSS %.1f MiB", n, cpuIdle*1000, loI*1000, hiI*1000, float64(rssIdle)/(1<<20))
	b.Logf("%d spectators + the run's own session: %.1f mcores (%.1f–%.1f), RSS %.1f MiB", n, cpuSpec*1000, loS*1000, hiS*1000, float64(rssSpec)/(1<<20))
	for range b.N {
	}
}
