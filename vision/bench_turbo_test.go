package vision

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The decoder comparison runs every contender single-threaded over the same
// fixed set of synthetic 500×375 JPEGs (quality 90, 4:2:0: the median
// ImageNet shape), so img/s is img/s per core. Run it as
//
//	go test ./vision -run '^$' -bench 'Decoders' -benchmem -count 10 | tee new.txt
//	benchstat new.txt
//
// The two external references, djpeg (full decode to /dev/null) and
// vipsthumbnail (256-short-side thumbnail, shrink-on-load, one thread),
// run one process per image, as a shell pipeline would. Each reports
// img/s by wall time, which includes process start-up, and img/cpu-s from
// the child's user+system time, the fairer per-core figure; startup-only
// isolates what starting the tool costs (djpeg on an 8×8 image), and
// vipsthumbnail-batch gives vips all 16 files in one process. In-process
// contenders report img/cpu-s from the process's own CPU time.

const benchSetSize = 16

// procCPU measures the benchmark process's CPU time (user+system, all
// threads), so that img/cpu-s stays meaningful on a loaded machine where
// wall time is not: time spent waiting for a core does not count, while
// the garbage collector's work on other threads does.
type procCPU struct{ start time.Duration }

func startCPU() procCPU { return procCPU{start: processTime()} }

func processTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds img/cpu-s for the b.N images.
func (c procCPU) report(b *testing.B) {
	if d := processTime() - c.start; d > 0 {
		b.ReportMetric(float64(b.N)/d.Seconds(), "img/cpu-s")
	}
}

func benchSet(b *testing.B) (files []string, data [][]byte) {
	b.Helper()
	dir := b.TempDir()
	for i := range benchSetSize {
		d, err := SynthJPEGSized(uint64(100+i), 500, 375, 90)
		if err != nil {
			b.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("img%02d.jpg", i))
		if err := os.WriteFile(f, d, 0o644); err != nil {
			b.Fatal(err)
		}
		files, data = append(files, f), append(data, d)
	}
	return files, data
}

func benchPreprocess(b *testing.B, d Decoder) {
	_, data := benchSet(b)
	p := NewPreprocessor(RecipeFor(224, 224), 0)
	p.SetDecoder(d)
	dst := make([]float32, p.Recipe().OutputLen())
	for _, x := range data { // warm the kernels and scratch
		if err := p.Process(x, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	cpu := startCPU()
	i := 0
	for b.Loop() {
		if err := p.Process(data[i%len(data)], dst); err != nil {
			b.Fatal(err)
		}
		i++
	}
	cpu.report(b)
	reportImgPerSec(b)
}

func BenchmarkDecoders(b *testing.B) {
	b.Run("impl=go+preprocess", func(b *testing.B) { benchPreprocess(b, GoDecoder{}) })
	b.Run("impl=turbo+fused", func(b *testing.B) {
		benchPreprocess(b, turboOrSkip(b, false))
	})
	// Ablation: every n/8 factor (3/4 for these images), scalar IDCT.
	b.Run("impl=turbo-anyscale+fused", func(b *testing.B) {
		benchPreprocess(b, turboWith(b, TurboOptions{AnyScale: true}))
	})
	// The resize-crop-normalise step alone, from a decoded 500×375 buffer:
	// the native (C) resampler the fused path uses, and the Go one.
	b.Run("impl=fused-resample-only", func(b *testing.B) { benchResample(b, true) })
	b.Run("impl=go-resample-only", func(b *testing.B) { benchResample(b, false) })
	// In-process reference: libjpeg-turbo full-size decode to RGB alone,
	// what djpeg does minus process start-up and output.
	b.Run("impl=turbo-decode-only", func(b *testing.B) {
		td := turboOrSkip(b, true)
		_, data := benchSet(b)
		h, err := td.lib.newHandle()
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 3*500*375)
		b.ReportAllocs()
		cpu := startCPU()
		i := 0
		for b.Loop() {
			if err := h.decompress(data[i%len(data)], buf, 500, 3*500, 375, tjpfRGB, 0); err != nil {
				b.Fatal(err)
			}
			i++
		}
		cpu.report(b)
		reportImgPerSec(b)
	})
	b.Run("ref=djpeg", func(b *testing.B) {
		benchExec(b, "djpeg", func(f string) []string { return []string{"-outfile", os.DevNull, f} })
	})
	b.Run("ref=djpeg-startup-only", func(b *testing.B) {
		tiny := filepath.Join(b.TempDir(), "tiny.jpg")
		if err := os.WriteFile(tiny, encodeJPEG(b, solid(8, 8, rgb(1, 2, 3)), 90), 0o644); err != nil {
			b.Fatal(err)
		}
		benchExec(b, "djpeg", func(string) []string { return []string{"-outfile", os.DevNull, tiny} })
	})
	// One vipsthumbnail process for the whole set, as its multi-file
	// command line allows: start-up amortised over 16 images.
	b.Run("ref=vipsthumbnail-batch", func(b *testing.B) {
		path, err := exec.LookPath("vipsthumbnail")
		if err != nil {
			b.Skip("skipping: vipsthumbnail not installed (Debian: libvips-tools)")
		}
		files, _ := benchSet(b)
		out := filepath.Join(b.TempDir(), "%s.v")
		args := append(append([]string{}, files...), "--size", "100000x256", "--vips-concurrency", "1", "-o", out)
		var cpu time.Duration
		for b.Loop() {
			cmd := exec.Command(path, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("vipsthumbnail: %v\n%s", err, out)
			}
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		n := float64(b.N * len(files))
		b.ReportMetric(n/b.Elapsed().Seconds(), "img/s")
		b.ReportMetric(n/cpu.Seconds(), "img/cpu-s")
	})
	b.Run("ref=vipsthumbnail", func(b *testing.B) {
		out := filepath.Join(b.TempDir(), "%s.v") // vips' raw format: no encoding cost
		benchExec(b, "vipsthumbnail", func(f string) []string {
			// Height 256 inside an unbounded width: a 256 short side for
			// these landscape images.
			return []string{f, "--size", "100000x256", "--vips-concurrency", "1", "-o", out}
		})
	})
}

func benchResample(b *testing.B, native bool) {
	_, data := benchSet(b)
	p := NewPreprocessor(RecipeFor(224, 224), 0)
	p.SetDecoder(turboOrSkip(b, true))
	dst := make([]float32, p.Recipe().OutputLen())
	if err := p.Process(data[0], dst); err != nil {
		b.Fatal(err)
	}
	src := append([]byte(nil), p.full[:3*500*375]...)
	g := p.plan(500, 375, 500, 375, scaleFactor{1, 1}, 1)
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		if native {
			p.resampleNative(&g, src, 3*500, 0, 0, dst)
		} else {
			p.resampleGo(&g, src, 3*500, 0, 0, dst)
		}
	}
	cpu.report(b)
	reportImgPerSec(b)
}

// benchExec runs tool once per image of the set and reports img/s (wall)
// and img/cpu-s (the children's user+system CPU time).
func benchExec(b *testing.B, tool string, args func(file string) []string) {
	path, err := exec.LookPath(tool)
	if err != nil {
		b.Skipf("skipping: %s not installed (Debian: libjpeg-turbo-progs, libvips-tools)", tool)
	}
	files, _ := benchSet(b)
	var cpu time.Duration
	i := 0
	for b.Loop() {
		cmd := exec.Command(path, args(files[i%len(files)])...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", tool, err, out)
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		i++
	}
	reportImgPerSec(b)
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "img/cpu-s")
	}
}
