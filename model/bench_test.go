package model

import (
	"fmt"
	"io"
	"runtime"
	"testing"
)

// benchInfer measures steady-state inference throughput of one session
// using every core, the configuration a single actor on an idle machine
// gets. Session creation and the first (warm-up) run are excluded.
func benchInfer(b *testing.B, name string, batches ...int) {
	needORT(b)
	m := zooModel(b, name)
	opts := DefaultSessionOptions()
	opts.IntraOpThreads = runtime.NumCPU()
	s, err := NewSession(m, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, n := range batches {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			in := randomImages(m, n, 1)
			logits := make([]float32, n*m.NumClasses)
			if err := s.Run(in, n, logits); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(4 * len(in)))
			for b.Loop() {
				if err := s.Run(in, n, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

func BenchmarkInferResNet50(b *testing.B) { benchInfer(b, "resnet50", 1, 16, 64) }
func BenchmarkInferResNet18(b *testing.B) { benchInfer(b, "resnet18", 1, 16, 64) }
func BenchmarkInferTiny(b *testing.B)     { benchInfer(b, "tiny", 1, 64, 256) }

// BenchmarkInferResNet18FP16 is BenchmarkInferResNet18 with half-precision
// weights and compute. On CPU it shows what fp16 costs there (ORT runs most
// fp16 operators through inserted Casts); on CUDA it should be the faster
// of the two.
func BenchmarkInferResNet18FP16(b *testing.B) { benchInfer(b, "resnet18-fp16", 1, 16) }

// BenchmarkExport measures generating and encoding a zoo model, which a
// first run pays once before the model is cached.
func BenchmarkExport(b *testing.B) {
	for _, name := range []string{"tiny", "resnet18", "resnet50"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := ExportZoo(name, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSessionLoad measures NewSession: parsing, graph optimisation
// and weight prepacking, paid once per actor.
func BenchmarkSessionLoad(b *testing.B) {
	needORT(b)
	for _, name := range []string{"tiny", "resnet50"} {
		m := zooModel(b, name)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				s, err := NewSession(m, DefaultSessionOptions())
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
