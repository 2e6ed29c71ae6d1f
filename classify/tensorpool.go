package classify

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
	"syscall"
	"workbench/pipeline"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Pinner page-locks host memory so that a device can copy from it by DMA,
// asynchronously, instead of through a driver-side staging copy: what
// cudaHostRegister does. model.CUDAPinner is the real one.
type Pinner interface {
	Pin(b []byte) error
	Unpin(b []byte) error
}

// TensorPool recycles the buffers that batch tensors live in, so that the
// preprocessing stage assembles the next batch into memory that is already
// mapped, already pinned when a Pinner is set, and never zeroed or scanned
// by the garbage collector: a ResNet batch of 64 is 38.5 MB, which a fresh
// make would page in and clear on every batch.
//
// Buffers are mapped outside the Go heap and handed out inside Arrow
// buffers whose last Release returns them here, so their lifetime is the
// blocks' reference count: a block released too early would hand its
// memory to the next batch, which is why tests run with Poison on. A
// TensorPool implements memory.Allocator for that purpose only; it is safe
// for concurrent use.
type TensorPool struct {
	// Poison fills every returned buffer with NaNs, so that a reader still
	// holding one sees garbage rather than the next batch. For tests.
	Poison bool

	mu      sync.Mutex
	free    map[int][][]byte // idle buffers by size class (their cap)
	idle    int64
	maxIdle int64
	out     int   // buffers handed out and not yet returned
	mapped  int64 // bytes mapped now, idle or out
	closed  bool
	pin     Pinner
	pinned  map[*byte]bool // buffers the pinner registered, by first byte
	stats   TensorPoolStats
}

// TensorPoolStats counts what a pool did: buffers mapped, batches served
// from an idle buffer, buffers pinned, and the first pin failure (after
// which the pool stops trying and carries on unpinned).
type TensorPoolStats struct {
	Mapped, Reused, Pinned int64
	PeakBytes              int64 // mapped at once
	PinError               string
}

// DefaultTensorPoolIdle bounds the bytes a pool keeps idle: a dozen
// ResNet-50 batches of 64. The memory budget bounds what is in flight;
// this bounds what outlives a burst.
const DefaultTensorPoolIdle = 512 << 20

// NewTensorPool returns a pool that keeps at most maxIdle bytes of idle
// buffers (≤ 0: DefaultTensorPoolIdle) and pins each buffer it maps with
// pin, when pin is not nil.
func NewTensorPool(maxIdle int64, pin Pinner) *TensorPool {
	if maxIdle <= 0 {
		maxIdle = DefaultTensorPoolIdle
	}
	return &TensorPool{free: map[int][][]byte{}, maxIdle: maxIdle, pin: pin, pinned: map[*byte]bool{}}
}

// sizeClass rounds n up to one of four steps per power of two, so that
// batches of nearby sizes (a short last batch, a block boundary) share
// buffers at a cost of at most a quarter of the size.
func sizeClass(n int) int {
	if n <= 4096 {
		return 4096
	}
	step := 1 << (bits.Len(uint(n-1)) - 3)
	return (n + step - 1) &^ (step - 1)
}

// Floats returns n float32s of pooled memory inside an Arrow buffer that
// holds one reference. The values are not cleared: the caller writes
// every one it later reads.
func (p *TensorPool) Floats(n int) ([]float32, *memory.Buffer, error) {
	size := 4 * n
	b, err := p.get(sizeClass(size))
	if err != nil {
		return nil, nil, err
	}
	b = b[:size]
	return arrow.Float32Traits.CastFromBytes(b), memory.NewBufferWithAllocator(b, p), nil
}

func (p *TensorPool) get(class int) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("pipeline: tensor pool used after Close")
	}
	if l := p.free[class]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[class] = l[:len(l)-1]
		p.idle -= int64(class)
		p.out++
		p.stats.Reused++
		return b, nil
	}
	b, err := syscall.Mmap(-1, 0, class, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("pipeline: mapping a %d-byte tensor buffer: %w", class, err)
	}
	p.out++
	p.stats.Mapped++
	p.mapped += int64(class)
	p.stats.PeakBytes = max(p.stats.PeakBytes, p.mapped)
	if p.pin != nil && p.stats.PinError == "" {
		if err := p.pin.Pin(b); err != nil {
			p.stats.PinError = err.Error()
		} else {
			p.stats.Pinned++
			p.pinned[&b[0]] = true
		}
	}
	return b, nil
}

// Allocate is part of memory.Allocator; the pool only serves Floats.
func (p *TensorPool) Allocate(int) []byte { panic("pipeline: TensorPool allocates through Floats") }

// Reallocate is part of memory.Allocator; pooled buffers never grow.
func (p *TensorPool) Reallocate(int, []byte) []byte {
	panic("pipeline: a pooled tensor buffer cannot be resized")
}

// Free takes a buffer back from its last Arrow reference: idle when there
// is room, unmapped otherwise.
func (p *TensorPool) Free(b []byte) {
	b = b[:cap(b)]
	if p.Poison {
		f := arrow.Float32Traits.CastFromBytes(b)
		nan := float32(math.NaN())
		for i := range f {
			f[i] = nan
		}
	}
	p.mu.Lock()
	p.out--
	if !p.closed && p.idle+int64(len(b)) <= p.maxIdle {
		p.free[len(b)] = append(p.free[len(b)], b)
		p.idle += int64(len(b))
		p.mu.Unlock()
		return
	}
	pinned := p.forgetLocked(b)
	p.mu.Unlock()
	p.release(b, pinned)
}

// forgetLocked drops b from the pool's accounting before it is unmapped
// and reports whether the pinner registered it. p.mu must be held.
func (p *TensorPool) forgetLocked(b []byte) (pinned bool) {
	pinned = p.pinned[&b[0]]
	delete(p.pinned, &b[0])
	p.mapped -= int64(len(b))
	return pinned
}

// release unpins and unmaps b, outside the lock: cudaHostRegister's
// undoing can take milliseconds.
func (p *TensorPool) release(b []byte, pinned bool) {
	if pinned {
		_ = p.pin.Unpin(b) // nothing to do about a failure but unmap anyway
	}
	_ = syscall.Munmap(b)
}

// Stats returns a copy of the pool's counters.
func (p *TensorPool) Stats() TensorPoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Outstanding is the number of buffers handed out and not yet returned:
// zero once every block of a finished run has been released.
func (p *TensorPool) Outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}

// Close unpins and unmaps the idle buffers; buffers still out are unmapped
// when their blocks are released. The pool serves nothing afterwards.
func (p *TensorPool) Close() {
	p.mu.Lock()
	p.closed = true
	var all [][]byte
	var pinned []bool
	for _, l := range p.free {
		for _, b := range l {
			all, pinned = append(all, b), append(pinned, p.forgetLocked(b))
		}
	}
	p.free, p.idle = map[int][][]byte{}, 0
	p.mu.Unlock()
	for i, b := range all {
		p.release(b, pinned[i])
	}
}

// String summarises the pool for a run's report.
func (s TensorPoolStats) String() string {
	pin := "not pinned"
	switch {
	case s.PinError != "":
		pin = "not pinned: " + s.PinError
	case s.Pinned > 0:
		pin = fmt.Sprintf("%s pinned", plural(s.Pinned, "buffer"))
	}
	return fmt.Sprintf("%s mapped (peak %s), reused for %s, %s",
		plural(s.Mapped, "buffer"), pipeline.FormatBytes(s.PeakBytes), plural(s.Reused, "batch"), pin)
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ch") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
