// Command memcheck measures how memory grows with the dataset's size
// (issue 22): the same settings at several sizes, each run in a fresh
// process, for
//
//   - the engine's share: the synthetic in-memory datasource
//     (pipeline.ReadRange, 4 KiB a row) through a passthrough and the
//     Parquet writer, so no file is listed or read;
//   - the whole job: the run path (runner.Run, as `workbench run --model
//     tiny`) over hard-linked copies of one small JPEG, which cost no disk,
//     1,000 to a directory as ImageNet's classes are.
//
// It prints each size's peak RSS (the process's maxrss, as /usr/bin/time
// reports it), the slope between the smallest and largest size in bytes
// per image, and the ratio of their peaks: medians over the runs, with the
// spread (min–max). `make memcheck` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"workbench/bench"
	"workbench/pipeline"
	"workbench/runner"
	"workbench/vision"
)

// perDir is the images in one directory of the hard-linked dataset: the
// walker holds one directory's entries, so a flat folder would measure the
// directory's size rather than growth with the dataset.
const perDir = 1000

// linksPerFile is the hard links made to one copy of the JPEG.
const linksPerFile = 50_000

func main() {
	sizes := flag.String("sizes", "2000,20000,200000", "dataset sizes, comma-separated")
	runs := flag.Int("runs", 3, "runs per size")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "workbench-memcheck"), "where the hard-linked dataset lives (kept between calls)")
	only := flag.String("only", "", "engine or job: measure just that part")
	child := flag.String("child", "", "internal: run one measurement (engine or job) in this process")
	n := flag.Int("n", 0, "internal: the child's size")
	heap := flag.String("heapprofile", "", "with -child job: write a heap profile when the run is 90% done")
	flag.Parse()
	var err error
	switch *child {
	case "engine":
		err = engineRun(*n)
	case "job":
		err = jobRun(*dir, *n, *heap)
	case "":
		err = parent(*sizes, *runs, *dir, *only)
	default:
		err = fmt.Errorf("-child %q: want engine or job", *child)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memcheck:", err)
		os.Exit(1)
	}
}

func parent(sizeList string, runs int, dir, only string) error {
	var sizes []int
	for _, s := range strings.Split(sizeList, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v <= 0 {
			return fmt.Errorf("-sizes: %q is not a positive count", s)
		}
		sizes = append(sizes, v)
	}
	slices.Sort(sizes)
	if len(sizes) < 2 || runs < 1 {
		return errors.New("want at least two sizes and one run")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("memcheck: peak RSS at %v images, %d runs each, each run a fresh process\n\n", sizes, runs)
	for _, part := range []string{"engine", "job"} {
		if only != "" && only != part {
			continue
		}
		if part == "job" {
			if err := makeData(dir, sizes[len(sizes)-1]); err != nil {
				return err
			}
		}
		peaks := map[int][]float64{} // size → each run's peak
		for r := range runs {
			for _, n := range sizes {
				p, err := measure(self, part, dir, n)
				if err != nil {
					return fmt.Errorf("%s at %d (run %d): %w", part, n, r+1, err)
				}
				peaks[n] = append(peaks[n], p)
			}
		}
		report(part, sizes, peaks)
		if part == "job" {
			var auto []float64
			for range runs {
				p, err := measure(self, part, dir, sizes[0], "MEMCHECK_AUTO=1")
				if err != nil {
					return fmt.Errorf("auto batch probe at %d: %w", sizes[0], err)
				}
				auto = append(auto, p)
			}
			med, lo, hi := stats(auto)
			pin, _, _ := stats(peaks[sizes[0]])
			fmt.Printf("  auto batch probe (batch_size: auto, %d images): peak RSS %.1f MiB (%.1f–%.1f), %+.1f MiB against batch 32; once per run, before the first row\n\n",
				sizes[0], med/(1<<20), lo/(1<<20), hi/(1<<20), (med-pin)/(1<<20))
		}
	}
	return nil
}

// measure runs one child and returns its peak RSS in bytes.
func measure(self, part, dir string, n int, env ...string) (float64, error) {
	cmd := exec.Command(self, "-child", part, "-n", strconv.Itoa(n), "-dir", dir)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, err
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss == 0 {
		return 0, errors.New("no maxrss from the child")
	}
	return float64(ru.Maxrss) * 1024, nil
}

func report(part string, sizes []int, peaks map[int][]float64) {
	name := map[string]string{"engine": "engine's share (synthetic datasource, 4 KiB rows)",
		"job": "whole job (run path, tiny model, batch 32, hard-linked 96×72 JPEGs)"}[part]
	fmt.Println(name)
	for _, n := range sizes {
		med, lo, hi := stats(peaks[n])
		fmt.Printf("  %8d images  peak RSS %7.1f MiB  (%.1f–%.1f)\n", n, med/(1<<20), lo/(1<<20), hi/(1<<20))
	}
	small, large := sizes[0], sizes[len(sizes)-1]
	var slopes, ratios []float64
	for i := range peaks[small] {
		slopes = append(slopes, (peaks[large][i]-peaks[small][i])/float64(large-small))
		ratios = append(ratios, peaks[large][i]/peaks[small][i])
	}
	s, slo, shi := stats(slopes)
	r, rlo, rhi := stats(ratios)
	fmt.Printf("  slope %d→%d: %.1f B/image (%.1f–%.1f)   ratio: %.3f (%.3f–%.3f)\n", small, large, s, slo, shi, r, rlo, rhi)
	if len(sizes) > 2 {
		// Between the two largest sizes: growth, once the bounded working
		// set (queues, a row group, pools) has filled.
		mid := sizes[len(sizes)-2]
		var tail []float64
		for i := range peaks[mid] {
			tail = append(tail, (peaks[large][i]-peaks[mid][i])/float64(large-mid))
		}
		m, lo, hi := stats(tail)
		fmt.Printf("  slope %d→%d: %.1f B/image (%.1f–%.1f)\n", mid, large, m, lo, hi)
	}
	if part == "job" {
		fmt.Printf("  goals: slope ≤ 64 B/image %s, ratio ≤ 1.1 %s\n", mark(s <= 64), mark(r <= 1.1))
	}
	fmt.Println()
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// stats is the median and the min–max of xs.
func stats(xs []float64) (med, lo, hi float64) {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// makeData writes a 96×72 JPEG and hard-links it n times (a copy per
// linksPerFile links), perDir to a directory; a dataset already there with at least n images is kept.
func makeData(dir string, n int) error {
	stamp := filepath.Join(dir, ".count")
	if b, err := os.ReadFile(stamp); err == nil {
		if have, _ := strconv.Atoi(strings.TrimSpace(string(b))); have >= n {
			return nil
		}
	}
	img, err := vision.SynthJPEGSized(1, 96, 72, 85)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "images")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	var base string
	for i := range n {
		if i%linksPerFile == 0 {
			// A file system caps one inode's links (ext4: 65,000).
			base = filepath.Join(dir, fmt.Sprintf("base-%d.jpg", i/linksPerFile))
			if err := os.WriteFile(base, img, 0o644); err != nil {
				return err
			}
		}
		sub := filepath.Join(data, fmt.Sprintf("%04d", i/perDir))
		if i%perDir == 0 {
			if err := os.Mkdir(sub, 0o755); err != nil {
				return err
			}
		}
		if err := os.Link(base, filepath.Join(sub, fmt.Sprintf("%07d.jpg", i))); err != nil {
			return err
		}
	}
	return os.WriteFile(stamp, []byte(strconv.Itoa(n)), 0o644)
}

// engineRun is the engine's share: n synthetic rows of 4 KiB through a
// passthrough and the Parquet writer.
func engineRun(n int) error {
	out, err := os.MkdirTemp("", "memcheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	pass := pipeline.UDFFunc(func(_ context.Context, b pipeline.Block) (any, error) {
		b.Retain()
		return b, nil
	})
	ds := pipeline.ReadRange(n, 4<<10, pipeline.ReadOptions{}).
		MapBatches(pipeline.MapOptions{Name: "Passthrough", Fn: pass, BatchSize: 256})
	return ds.WriteParquet(context.Background(), filepath.Join(out, "o.parquet"), pipeline.WriteOptions{})
}

// jobRun is the whole job: the run path over the first n images, as
// `workbench run --model tiny --images n --batch 32` with the default
// scenario. The batch size is pinned because batch_size: auto probes the
// model at up to batch 128 before the first row, a one-off peak (105–160
// MiB whole process here, varying with load) that does not grow with the
// dataset and would mask the growth this check measures; the probe's own
// peak is the "auto batch probe" line.
func jobRun(dir string, n int, heap string) error {
	out, err := os.MkdirTemp("", "memcheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cfg := runner.Config{Model: "tiny", Data: filepath.Join(dir, "images"), Images: n,
		Out: filepath.Join(out, "o.parquet"), Log: io.Discard, GPUs: -1,
		Set: []runner.Setting{{Knob: "batch_size", Value: "32"}}}
	if os.Getenv("MEMCHECK_AUTO") != "" {
		cfg.Set = nil
	}
	// MEMCHECK_SET=knob=value,... tries other settings (profiling only).
	for _, kv := range strings.FieldsFunc(os.Getenv("MEMCHECK_SET"), func(r rune) bool { return r == ',' }) {
		k, v, _ := strings.Cut(kv, "=")
		cfg.Set = append(cfg.Set, runner.Setting{Knob: k, Value: v})
	}
	if os.Getenv("MEMCHECK_TRACE") != "" {
		stop := traceRSS(&cfg)
		defer stop()
	}
	if heap != "" {
		bus := pipeline.NewEventBus()
		cfg.Bus = bus
		ch := bus.Subscribe(64)
		done := make(chan error, 1)
		// MEMCHECK_SPIKE=N (MiB; 1 means 15) profiles the first moment the
		// live heap passes N MiB instead of 90% of the run.
		var spike uint64
		if v := os.Getenv("MEMCHECK_SPIKE"); v != "" {
			mib, _ := strconv.Atoi(v)
			if mib <= 1 {
				mib = 15
			}
			spike = uint64(mib) << 20
		}
		go func() {
			var werr error
			written := false
			next := int64(1)
			for ev := range ch {
				s := ev.Snapshot
				if s == nil {
					continue
				}
				for next <= 50 && s.RowsDone >= int64(n)*next/50 {
					breakdown(os.Stderr, s.RowsDone)
					next++
				}
				live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
				metrics.Read(live)
				if !written && (s.RowsDone >= int64(n)*9/10 || spike > 0 && live[0].Value.Uint64() > spike) {
					written = true
					werr = writeHeap(heap)
				}
			}
			done <- werr
		}()
		_, err = runner.Run(context.Background(), cfg)
		bus.Close()
		if herr := <-done; err == nil {
			err = herr
		}
		return err
	}
	_, err = runner.Run(context.Background(), cfg)
	return err
}

// breakdown prints where resident memory is: the Go runtime's heap (in
// use, and obtained from the OS), its other spans, and the rest of VmRSS,
// which is C memory (ONNX Runtime, the JPEG decoder, malloc arenas).
func breakdown(w io.Writer, rows int64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, _ := os.ReadFile("/proc/self/status")
	field := func(key string) int64 {
		for line := range strings.Lines(string(status)) {
			if rest, ok := strings.CutPrefix(line, key); ok {
				v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				return v << 10
			}
		}
		return 0
	}
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	rss := uint64(field("VmRSS:"))
	goRes := ms.Sys - ms.HeapReleased
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	fmt.Fprintf(w, "rows %7d  VmRSS %6.1f  RssAnon %6.1f  RssFile %6.1f  go: heap inuse %5.1f alloc %5.1f live(last gc) %5.1f sys-released %5.1f stacks %4.1f  non-go %6.1f MiB  threads %d  gc %d\n",
		rows, mib(rss), mib(uint64(field("RssAnon:"))), mib(uint64(field("RssFile:"))),
		mib(ms.HeapInuse), mib(ms.HeapAlloc), mib(live[0].Value.Uint64()), mib(goRes), mib(ms.StackInuse), mib(rss)-mib(goRes), field("Threads:")>>10, ms.NumGC)
}

func writeHeap(path string) error {
	// A spike is what the last GC found live; collecting again would hide it.
	if os.Getenv("MEMCHECK_SPIKE") == "" {
		runtime.GC()
		runtime.GC()
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// traceRSS (MEMCHECK_TRACE=1, profiling only) polls VmRSS every 2 ms and,
// when stopped, prints the highest seen and the rows done at that moment,
// or "after the run" when it came once the engine had finished.
func traceRSS(cfg *runner.Config) (stop func()) {
	bus := pipeline.NewEventBus()
	cfg.Bus = bus
	ch := bus.Subscribe(64)
	var rows, first atomic.Int64
	rows.Store(-1)
	start := time.Now()
	go func() {
		for ev := range ch {
			if ev.Snapshot != nil {
				first.CompareAndSwap(0, int64(time.Since(start)))
				rows.Store(ev.Snapshot.RowsDone)
			}
		}
	}()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak, at int64
		var when time.Duration
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprintf(os.Stderr, "trace: peak VmRSS %.1f MiB at rows %d, %v in; first snapshot %v in\n",
					float64(peak)/(1<<20), at, when.Round(time.Millisecond), time.Duration(first.Load()).Round(time.Millisecond))
				return
			case <-t.C:
				if v := bench.CurrentRSS(); v > peak {
					peak, at, when = v, rows.Load(), time.Since(start)
				}
			}
		}
	}()
	return func() { bus.Close(); close(done); <-finished }
}
