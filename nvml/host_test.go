package nvml

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "proc", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	// Values below are read off the recorded files by eye.
	for _, tc := range []struct {
		snap                 string
		busy, total          uint64
		ticks, rss           uint64
		load1, load5, load15 float64
	}{
		{"t0", 27523 + 6548 + 88 + 34, 27523 + 6548 + 270157 + 410 + 88 + 34, 23, 487, 4.32, 1.77, 0.70},
		{"t1", 27717 + 6565 + 88 + 34, 27717 + 6565 + 270157 + 410 + 88 + 34, 40, 487, 4.32, 1.77, 0.70},
	} {
		t.Run(tc.snap, func(t *testing.T) {
			t.Parallel()
			busy, total, err := parseStat(readFixture(t, tc.snap+"/stat"))
			if err != nil || busy != tc.busy || total != tc.total {
				t.Errorf("parseStat = %d, %d, %v; want %d, %d", busy, total, err, tc.busy, tc.total)
			}
			ticks, rss, err := parseSelfStat(readFixture(t, tc.snap+"/self/stat"))
			if err != nil || ticks != tc.ticks || rss != tc.rss {
				t.Errorf("parseSelfStat = %d, %d, %v; want %d, %d", ticks, rss, err, tc.ticks, tc.rss)
			}
			l1, l5, l15, err := parseLoadavg(readFixture(t, tc.snap+"/loadavg"))
			if err != nil || l1 != tc.load1 || l5 != tc.load5 || l15 != tc.load15 {
				t.Errorf("parseLoadavg = %v %v %v, %v", l1, l5, l15, err)
			}
		})
	}
}

func TestParseSelfStatOddNames(t *testing.T) {
	t.Parallel()
	// Field 14 utime=7, 15 stime=5, 24 rss=99, behind command names
	// holding the characters that break naive splitting.
	const tail = " S 1 1 1 0 -1 0 0 0 0 0 7 5 0 0 20 0 1 0 100 4096 99 0\n"
	for _, name := range []string{"(bash)", "(a b)", "(x) y (z)", "())"} {
		ticks, rss, err := parseSelfStat([]byte("42 " + name + tail))
		if err != nil || ticks != 12 || rss != 99 {
			t.Errorf("%s: parseSelfStat = %d, %d, %v; want 12, 99", name, ticks, rss, err)
		}
	}
	for _, bad := range []string{"", "42 bash S 1", "42 (bash) S 1 2 3", "42 (bash)" + " S 1 1 1 0 -1 0 0 0 0 0 x 5 0 0 20 0 1 0 100 4096 99 0"} {
		if _, _, err := parseSelfStat([]byte(bad)); err == nil {
			t.Errorf("parseSelfStat(%q) succeeded", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in          string
		busy, total uint64
		ok          bool
	}{
		// guest columns are inside user already and must not be added.
		{"cpu  10 1 4 80 5 0 0 0 9 9\ncpu0 1 1 1 1 1\n", 15, 100, true},
		{"cpu 10 0 10 80\n", 20, 100, true}, // old kernels: no iowait
		{"cpu0 1 2 3 4 5\n", 0, 0, false},
		{"cpu  1 x 3 4 5\n", 0, 0, false},
		{"", 0, 0, false},
	} {
		busy, total, err := parseStat([]byte(tc.in))
		if (err == nil) != tc.ok || busy != tc.busy || total != tc.total {
			t.Errorf("parseStat(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, busy, total, err, tc.busy, tc.total, tc.ok)
		}
	}
}

func TestProbeHostFixture(t *testing.T) {
	t.Parallel()
	h, errs := probeHost("testdata/proc/t0")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if h.CPUModel != "Intel(R) Xeon(R) Processor" || h.LogicalCores != 2 || h.MemTotalBytes != 24683656*1024 {
		t.Errorf("probeHost = %+v", h)
	}
	model, n := parseCPUInfo([]byte("processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nHardware\t: BCM2835\n"))
	if model != "BCM2835" || n != 2 {
		t.Errorf("arm-style cpuinfo = %q, %d; want BCM2835, 2", model, n)
	}
	if _, errs := probeHost(t.TempDir()); len(errs) != 2 {
		t.Errorf("empty procfs: %d errors, want 2", len(errs))
	}
	for _, bad := range []string{"MemFree: 1 kB\n", "MemTotal: 12 MB\n", "MemTotal: x kB\n"} {
		if _, err := parseMeminfo([]byte(bad)); err == nil {
			t.Errorf("parseMeminfo(%q) succeeded", bad)
		}
	}
}

// TestHostReaderDeltas drives the real reader over a procfs copy whose
// files change from the t0 to the t1 recording between readings, which
// also checks that rereading an open file sees new contents.
func TestHostReaderDeltas(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	files := []string{"stat", "self/stat", "loadavg"}
	put := func(snap string) {
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(root, f), readFixture(t, snap+"/"+f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Mkdir(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	put("t0")
	h, err := openHost(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	t0 := time.Unix(1000, 0)
	if err := h.start(t0); err != nil {
		t.Fatal(err)
	}
	put("t1")
	s := h.sample(t0.Add(2 * time.Second))

	// utime+stime rose 23 -> 40 ticks: 0.17 s of CPU over 2 s. /proc/stat
	// idle did not move between the recordings, so the machine was busy.
	wantCores := 0.17 / 2
	if d := s.ProcCPUCores - wantCores; d > 1e-9 || d < -1e-9 {
		t.Errorf("ProcCPUCores = %v, want %v", s.ProcCPUCores, wantCores)
	}
	if d := s.ProcCPUSeconds - 0.17; d > 1e-9 || d < -1e-9 {
		t.Errorf("ProcCPUSeconds = %v, want 0.17", s.ProcCPUSeconds)
	}
	if s.SysCPUPct != 100 || s.ProcRSSBytes != 487*uint64(os.Getpagesize()) || s.Load1 != 4.32 || s.Missing != 0 {
		t.Errorf("sample = %+v", s)
	}

	// The same instant again gives no rate rather than a division by zero.
	if s := h.sample(t0.Add(2 * time.Second)); !s.Missing.Has(ProcCPU) || !s.Missing.Has(SysCPU) || s.Missing.Has(ProcRSS) {
		t.Errorf("zero interval: Missing = %v, want proc and sys cpu", s.Missing.Names())
	}
}

func TestHostReaderMissingFiles(t *testing.T) {
	t.Parallel()
	if _, err := openHost(t.TempDir()); err == nil {
		t.Error("openHost on an empty directory succeeded")
	}
}

// TestHostLive reads this machine's /proc with explicit timestamps.
func TestHostLive(t *testing.T) {
	t.Parallel()
	h, err := openHost(DefaultProcFS)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	t0 := time.Now()
	if err := h.start(t0); err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := range 3_000_000 { // some CPU work for the counters to see
		x ^= i * i
	}
	_ = x
	for i := range 3 {
		s := h.sample(t0.Add(time.Duration(i+1) * time.Second))
		if s.Missing.Has(ProcRSS) || s.Missing.Has(Load1) || s.ProcRSSBytes == 0 || s.ProcCPUCores < 0 || s.SysCPUPct < 0 || s.SysCPUPct > 100 {
			t.Errorf("live sample %d = %+v (missing %v)", i, s, s.Missing.Names())
		}
	}
}
