package pipeline

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// procField returns the number after key in a /proc file ("MemTotal:" in
// /proc/meminfo, "VmHWM:" or "Threads:" in /proc/self/status): kB for
// sizes, a count for counts; 0 when the file or the key is missing. The one
// reader of these files, for the engine, the run path and the benchmarks.
func procField(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// totalMemory returns MemTotal from /proc/meminfo in bytes, or 0.
func totalMemory() int64 { return procField("/proc/meminfo", "MemTotal:") << 10 }

// PeakRSS returns the process's peak resident memory (VmHWM) in bytes, or
// 0 where there is no /proc.
func PeakRSS() int64 { return procField("/proc/self/status", "VmHWM:") << 10 }

// ResetPeakRSS resets VmHWM to the current RSS (clear_refs value 5), so each
// run in one process reports its own peak.
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// OSThreads returns the process's OS thread count, or 0.
func OSThreads() int64 { return procField("/proc/self/status", "Threads:") }

// vmHWM and resetHWM keep the engine's own benchmarks' names.
func vmHWM() int64 { return PeakRSS() }
func resetHWM()    { ResetPeakRSS() }
