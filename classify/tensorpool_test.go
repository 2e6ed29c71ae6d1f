package classify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"workbench/model"
	"workbench/pipeline"
)

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{1, 4096}, {4096, 4096}, {4097, 5120}, {8192, 8192}, {8193, 10240},
		{64 * 602112, 40 << 20},    // ResNet batch 64 (38.5 MB) → 40 MiB
		{63 * 602112, 40 << 20},    // a short last batch shares it
		{(32 << 20) + 1, 40 << 20}, // just over a power of two: a quarter step
		{1 << 30, 1 << 30},         // exact powers are their own class
	} {
		if got := sizeClass(c.n); got != c.want {
			t.Errorf("sizeClass(%d) = %d, want %d", c.n, got, c.want)
		}
		if got := sizeClass(c.n); got < c.n || float64(got) > 1.25*float64(max(c.n, 4096)) {
			t.Errorf("sizeClass(%d) = %d: outside [n, 1.25n]", c.n, got)
		}
	}
}

// fakePinner records what a CUDA pinner would be asked to do.
type fakePinner struct {
	pinned   map[*byte]int
	pins     int
	unpins   int
	failFrom int // the pins-th call onwards fails; 0 = never
}

func (f *fakePinner) Pin(b []byte) error {
	f.pins++
	if f.failFrom > 0 && f.pins >= f.failFrom {
		return errors.New("cudaHostRegister: out of memory")
	}
	f.pinned[&b[0]]++
	return nil
}

func (f *fakePinner) Unpin(b []byte) error {
	f.unpins++
	if f.pinned[&b[0]] != 1 {
		return fmt.Errorf("unpin of a buffer pinned %d times", f.pinned[&b[0]])
	}
	delete(f.pinned, &b[0])
	return nil
}

func TestTensorPool(t *testing.T) {
	cases := []struct {
		name       string
		maxIdle    int64
		failFrom   int
		batches    [][]int // rounds of Floats sizes, all released after each round
		wantMapped int64
		wantReused int64
		wantPinned int64
		wantPinErr bool
		wantUnpins int
	}{
		// Two buffers out at once, then the same two again: mapped once each.
		{name: "reuse", batches: [][]int{{1 << 20, 1 << 20}, {1 << 20, 1 << 20}}, wantMapped: 2, wantReused: 2, wantPinned: 2, wantUnpins: 2},
		// A short last batch lands in the same class.
		{name: "short batch shares a class", batches: [][]int{{1 << 20}, {1<<20 - 4096}}, wantMapped: 1, wantReused: 1, wantPinned: 1, wantUnpins: 1},
		// Idle bound of one buffer: the second goes back to the OS at once.
		{name: "idle bound", maxIdle: 3 << 19, batches: [][]int{{1 << 20, 1 << 20}, {1 << 20, 1 << 20}}, wantMapped: 3, wantReused: 1, wantPinned: 3, wantUnpins: 3},
		// The pinner fails on its second call: recorded once, and the pool
		// carries on unpinned without asking again.
		{name: "pin failure", failFrom: 2, batches: [][]int{{1 << 20, 1 << 20, 1 << 20}}, wantMapped: 3, wantPinned: 1, wantPinErr: true, wantUnpins: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pin := &fakePinner{pinned: map[*byte]int{}, failFrom: c.failFrom}
			p := NewTensorPool(c.maxIdle, pin)
			p.Poison = true
			for _, round := range c.batches {
				var bufs []*memory.Buffer
				for _, n := range round {
					f, buf, err := p.Floats(n / 4)
					if err != nil {
						t.Fatal(err)
					}
					if len(f) != n/4 || buf.Len() != n {
						t.Fatalf("Floats(%d): %d floats in %d bytes", n/4, len(f), buf.Len())
					}
					for i := range f {
						f[i] = 1 // all of it is writable
					}
					bufs = append(bufs, buf)
				}
				if got := p.Outstanding(); got != len(round) {
					t.Fatalf("outstanding %d, want %d", got, len(round))
				}
				for _, b := range bufs {
					b.Release()
				}
			}
			if got := p.Outstanding(); got != 0 {
				t.Fatalf("outstanding %d after every release", got)
			}
			p.Close()
			s := p.Stats()
			if s.Mapped != c.wantMapped || s.Reused != c.wantReused || s.Pinned != c.wantPinned {
				t.Errorf("mapped %d reused %d pinned %d, want %d %d %d", s.Mapped, s.Reused, s.Pinned, c.wantMapped, c.wantReused, c.wantPinned)
			}
			if (s.PinError != "") != c.wantPinErr {
				t.Errorf("pin error %q, want one: %v", s.PinError, c.wantPinErr)
			}
			if pin.unpins != c.wantUnpins || len(pin.pinned) != 0 {
				t.Errorf("%d unpins, %d buffers left pinned; want %d and 0", pin.unpins, len(pin.pinned), c.wantUnpins)
			}
			if _, _, err := p.Floats(1); err == nil {
				t.Error("Floats after Close succeeded")
			}
		})
	}
}

func TestTensorPoolPoison(t *testing.T) {
	p := NewTensorPool(0, nil)
	p.Poison = true
	defer p.Close()
	f, buf, err := p.Floats(1024)
	if err != nil {
		t.Fatal(err)
	}
	f[0] = 1
	buf.Release()
	if !math.IsNaN(float64(f[0])) {
		t.Errorf("a released buffer reads %v, want the poison NaN", f[0])
	}
}

// TestJobTensorPoolMatchesFresh runs the same images through the job with
// fresh tensors and with a poisoned pool, across actors, in-flight depths
// and block sizes, and wants the same bits out: a block released while a
// later stage still read it would have read NaNs or another batch.
func TestJobTensorPoolMatchesFresh(t *testing.T) {
	m := tinyModel(t)
	files := synthFiles(t, 23, func(i int) (w, h int) { return 90 + i, 70 })
	dir := filepath.Dir(files[0])
	bad := filepath.Join(dir, "99-bad.jpg")
	if err := os.WriteFile(bad, []byte{0xff, 0xd8, 0xff}, 0o644); err != nil {
		t.Fatal(err)
	}
	files = append(files, bad)
	run := func(pooled bool, actors, inFlight, blocks int) (map[string]string, *TensorPool) {
		out := filepath.Join(t.TempDir(), "o.parquet")
		job, err := NewJob(JobConfig{Files: files, Model: m, BatchSize: 4, Blocks: blocks,
			Concurrency: pipeline.Fixed(actors), InFlightPerActor: inFlight, TensorPool: pooled,
			Session: model.SessionOptions{IntraOpThreads: 1, InterOpThreads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if pooled {
			job.tensors.Poison = true
		}
		if err := job.Write(context.Background(), out, "parquet", false); err != nil {
			t.Fatal(err)
		}
		return predictions(t, out), job.tensors
	}
	want, _ := run(false, 1, 0, 0)
	if len(want) != len(files) {
		t.Fatalf("fresh run wrote %d rows for %d files", len(want), len(files))
	}
	for _, c := range []struct{ actors, inFlight, blocks int }{{1, 1, 0}, {2, 2, 3}, {3, 4, 24}} {
		got, pool := run(true, c.actors, c.inFlight, c.blocks)
		for f, w := range want {
			if got[f] != w {
				t.Errorf("%+v: %s: %s with the pool, %s without", c, filepath.Base(f), got[f], w)
			}
		}
		if n := pool.Outstanding(); n != 0 {
			t.Errorf("%+v: %d tensor buffers never returned", c, n)
		}
		// How much is reused depends on timing (all six batches may be in
		// flight at once); that every tensor came from the pool does not.
		if s := pool.Stats(); s.Mapped+s.Reused < 6 {
			t.Errorf("%+v: the pool served %d batches of at least 6 (%s)", c, s.Mapped+s.Reused, s)
		}
	}
}

// BenchmarkBatchTensor is what assembling one ResNet-50 batch of 64
// (38.5 MB of float32) costs in memory management alone, with every value
// written as preprocessing would: a fresh slice per batch (the Go heap
// zeroes it, and the collector runs more often) against a pooled,
// already-mapped buffer.
func BenchmarkBatchTensor(b *testing.B) {
	const n = 64 * 3 * 224 * 224
	b.Run("alloc=fresh", func(b *testing.B) {
		b.SetBytes(4 * n)
		for b.Loop() {
			v := make([]float32, n)
			for i := range v {
				v[i] = 1
			}
			buf := memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(v))
			buf.Release()
		}
	})
	b.Run("alloc=pool", func(b *testing.B) {
		p := NewTensorPool(0, nil)
		defer p.Close()
		b.SetBytes(4 * n)
		for b.Loop() {
			v, buf, err := p.Floats(n)
			if err != nil {
				b.Fatal(err)
			}
			for i := range v {
				v[i] = 1
			}
			buf.Release()
		}
	})
}

// TestJobTensorPoolPinning: a CPU job's pool pins nothing and says nothing;
// a CUDA job's pool pins, or says why it cannot (here: no CUDA runtime).
func TestJobTensorPoolPinning(t *testing.T) {
	cpu := jobTensorPool(model.DeviceCPU)
	defer cpu.Close()
	if cpu.pin != nil || cpu.Stats().PinError != "" {
		t.Errorf("CPU pool: pinner %v, pin error %q", cpu.pin, cpu.Stats().PinError)
	}
	gpu := jobTensorPool(model.DeviceCUDA)
	defer gpu.Close()
	if _, err := model.SharedCUDAPinner(); err == nil {
		if gpu.pin == nil {
			t.Error("a CUDA runtime loads, but the CUDA job's pool has no pinner")
		}
		return
	}
	if s := gpu.Stats(); !strings.Contains(s.PinError, "libcudart") || !strings.Contains(s.String(), "not pinned: ") {
		t.Errorf("CUDA pool without a CUDA runtime: %q", s)
	}
}
