package nvml

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// userHZ is the unit of the tick counts in /proc/stat and /proc/PID/stat.
// The kernel exports these in USER_HZ, fixed at 100 on every Linux
// architecture Go supports (sysconf(_SC_CLK_TCK) would say the same).
const userHZ = 100

// DefaultProcFS is where host readings come from unless Config.ProcFS says
// otherwise.
const DefaultProcFS = "/proc"

// HostSample is one reading of this process and the machine. Field names
// match [Definitions].
type HostSample struct {
	ProcCPUCores float64 `json:"proc_cpu_cores"`
	ProcRSSBytes uint64  `json:"proc_rss_bytes"`
	SysCPUPct    float64 `json:"sys_cpu_pct"`
	Load1        float64 `json:"load1"`
	Load5        float64 `json:"load5"`
	Load15       float64 `json:"load15"`

	// ProcCPUSeconds is this process's cumulative user+system CPU time
	// since the sampler started, so a run-level mean does not depend on
	// per-sample rounding.
	ProcCPUSeconds float64 `json:"proc_cpu_s"`

	// Missing flags the metrics that could not be read for this sample;
	// their fields are zero.
	Missing MetricSet `json:"missing,omitempty"`
}

// procCounters are the cumulative kernel counters behind the rate metrics.
type procCounters struct {
	procTicks uint64 // utime+stime of this process, USER_HZ ticks
	rssPages  uint64
	sysBusy   uint64 // /proc/stat: total minus idle and iowait
	sysTotal  uint64
}

// hostReader keeps the /proc files open and rereads them from offset 0,
// which procfs regenerates on every read; that saves an open and close per
// file per tick.
type hostReader struct {
	stat, self, loadavg *os.File
	buf                 []byte
	pageSize            uint64

	base, prev procCounters
	prevSelfT  time.Time // when prev.procTicks was read
}

func openHost(root string) (*hostReader, error) {
	h := &hostReader{buf: make([]byte, 4096), pageSize: uint64(os.Getpagesize())}
	var errs []error
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(root, name))
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		return f
	}
	h.stat, h.self, h.loadavg = open("stat"), open("self/stat"), open("loadavg")
	if err := errors.Join(errs...); err != nil {
		h.close()
		return nil, fmt.Errorf("host telemetry: %w", err)
	}
	return h, nil
}

func (h *hostReader) close() {
	for _, f := range []*os.File{h.stat, h.self, h.loadavg} {
		if f != nil {
			f.Close()
		}
	}
}

// head returns the first bytes of f (up to 4 KiB): enough for the first
// line of /proc/stat, which is all we use, and for the other small files.
func (h *hostReader) head(f *os.File) ([]byte, error) {
	n, err := f.ReadAt(h.buf, 0)
	if n > 0 {
		return h.buf[:n], nil
	}
	if err == nil {
		err = errors.New("empty read")
	}
	return nil, fmt.Errorf("read %s: %w", f.Name(), err)
}

// counters reads the cumulative counters; missing flags what failed.
func (h *hostReader) counters() (c procCounters, missing MetricSet) {
	if b, err := h.head(h.self); err == nil {
		if ticks, rss, err := parseSelfStat(b); err == nil {
			c.procTicks, c.rssPages = ticks, rss
		} else {
			missing = missing.With(ProcCPU).With(ProcRSS)
		}
	} else {
		missing = missing.With(ProcCPU).With(ProcRSS)
	}
	if b, err := h.head(h.stat); err == nil {
		if busy, total, err := parseStat(b); err == nil {
			c.sysBusy, c.sysTotal = busy, total
		} else {
			missing = missing.With(SysCPU)
		}
	} else {
		missing = missing.With(SysCPU)
	}
	return c, missing
}

// start takes the baseline the first sample's rates are measured from. It
// fails when this process's or the machine's CPU counters cannot be read,
// since then no CPU figure would be honest.
func (h *hostReader) start(now time.Time) error {
	c, missing := h.counters()
	if missing.Has(ProcCPU) || missing.Has(SysCPU) {
		return fmt.Errorf("host telemetry: cannot read CPU counters (%v)", missing.Names())
	}
	h.base, h.prev, h.prevSelfT = c, c, now
	return nil
}

// sample reads the host at now, measuring rates since the previous
// successful reading of each counter.
func (h *hostReader) sample(now time.Time) HostSample {
	c, missing := h.counters()
	selfOK, sysOK := !missing.Has(ProcRSS), !missing.Has(SysCPU)
	var s HostSample
	if selfOK {
		s.ProcRSSBytes = c.rssPages * h.pageSize
		s.ProcCPUSeconds = float64(c.procTicks-h.base.procTicks) / userHZ
		dt := now.Sub(h.prevSelfT).Seconds()
		if dt > 0 && c.procTicks >= h.prev.procTicks {
			s.ProcCPUCores = float64(c.procTicks-h.prev.procTicks) / userHZ / dt
		} else {
			missing = missing.With(ProcCPU)
		}
		h.prev.procTicks, h.prev.rssPages, h.prevSelfT = c.procTicks, c.rssPages, now
	}
	if sysOK {
		if pct, ok := sysCPUPct(h.prev, c); ok {
			s.SysCPUPct = pct
		} else {
			missing = missing.With(SysCPU)
		}
		h.prev.sysBusy, h.prev.sysTotal = c.sysBusy, c.sysTotal
	}
	if b, err := h.head(h.loadavg); err == nil {
		if l1, l5, l15, err := parseLoadavg(b); err == nil {
			s.Load1, s.Load5, s.Load15 = l1, l5, l15
		} else {
			missing = missing.With(Load1).With(Load5).With(Load15)
		}
	} else {
		missing = missing.With(Load1).With(Load5).With(Load15)
	}
	s.Missing = missing
	return s
}

// sysCPUPct is the busy share of all CPU time between two /proc/stat
// readings; ok is false when no time passed or the counters went back.
func sysCPUPct(prev, cur procCounters) (pct float64, ok bool) {
	if cur.sysTotal <= prev.sysTotal || cur.sysBusy < prev.sysBusy {
		return 0, false
	}
	return 100 * float64(cur.sysBusy-prev.sysBusy) / float64(cur.sysTotal-prev.sysTotal), true
}

// parseStat reads the aggregate "cpu" line of /proc/stat. busy excludes
// idle and iowait; guest and guest_nice are left out of the total because
// the kernel already counts them inside user and nice.
func parseStat(b []byte) (busy, total uint64, err error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: no aggregate cpu line in %.40q", line)
	}
	// user nice system idle iowait irq softirq steal; older kernels have
	// fewer columns, which count as zero.
	var v [8]uint64
	for i := 0; i < len(v) && i+1 < len(f); i++ {
		if v[i], err = strconv.ParseUint(string(f[i+1]), 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	for _, x := range v {
		total += x
	}
	idle := v[3] + v[4]
	return total - idle, total, nil
}

// parseSelfStat reads utime+stime (fields 14 and 15, USER_HZ ticks) and rss
// (field 24, pages) from /proc/PID/stat. The command name in field 2 may
// hold spaces and parentheses, so fields are counted from the last ')'.
func parseSelfStat(b []byte) (ticks, rssPages uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("/proc/self/stat: no command name")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	const utime, stime, rss = 14 - 3, 15 - 3, 24 - 3
	if len(f) <= rss {
		return 0, 0, fmt.Errorf("/proc/self/stat: %d fields after the command name, want > %d", len(f), rss)
	}
	u, err1 := strconv.ParseUint(string(f[utime]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[stime]), 10, 64)
	r, err3 := strconv.ParseInt(string(f[rss]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("/proc/self/stat: %w", err)
	}
	if r < 0 {
		r = 0
	}
	return u + s, uint64(r), nil
}

// parseLoadavg reads the three load averages from /proc/loadavg.
func parseLoadavg(b []byte) (l1, l5, l15 float64, err error) {
	f := bytes.Fields(b)
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("/proc/loadavg: %d fields, want at least 3", len(f))
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(string(f[i]), 64); err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/loadavg: %w", err)
		}
	}
	return v[0], v[1], v[2], nil
}

// parseMeminfo returns MemTotal from /proc/meminfo in bytes.
func parseMeminfo(b []byte) (uint64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("MemTotal:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/meminfo: %w", err)
		}
		if len(f) > 1 && string(f[1]) != "kB" {
			return 0, fmt.Errorf("/proc/meminfo: MemTotal in %q, want kB", f[1])
		}
		return kb * 1024, nil
	}
	return 0, errors.New("/proc/meminfo: no MemTotal line")
}

// parseCPUInfo returns the first CPU model name and the number of logical
// processors listed in /proc/cpuinfo. Kernels that print no "model name"
// (some arm64 ones) fall back to the "Hardware" line, then to "unknown".
func parseCPUInfo(b []byte) (model string, logical int) {
	var hardware string
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		k := string(bytes.TrimSpace(key))
		v := string(bytes.TrimSpace(val))
		switch k {
		case "processor":
			logical++
		case "model name":
			if model == "" {
				model = v
			}
		case "Hardware":
			hardware = v
		}
	}
	if model == "" {
		model = hardware
	}
	if model == "" {
		model = "unknown"
	}
	return model, logical
}
