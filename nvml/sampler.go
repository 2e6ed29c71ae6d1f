package nvml

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// DefaultHz is the sampling rate when Config.Hz is zero.
const DefaultHz = 4

// MaxHz bounds Config.Hz; NVML's utilisation counters themselves update at
// most every 1/6 s, so faster sampling only costs CPU.
const MaxHz = 100

// Config says how a Sampler reads. The zero value samples the system NVML
// library and /proc at DefaultHz.
type Config struct {
	// Hz is samples per second; 0 means DefaultHz. The CLI's --sample-hz.
	Hz float64
	// NVML is the library to read GPUs through; nil means the system's
	// libnvidia-ml.so.1. Tests pass a go-nvml mock.
	NVML nvml.Interface
	// ProcFS is the procfs mount to read host metrics from; "" means
	// DefaultProcFS.
	ProcFS string
	// OnGPUUnavailable, if set, is called once by Start with
	// "no NVIDIA GPU visible (REASON)" when GPUs cannot be sampled.
	OnGPUUnavailable func(reason string)
}

// Validate reports every problem with the config.
func (c Config) Validate() []error {
	var errs []error
	if math.IsNaN(c.Hz) || c.Hz < 0 || c.Hz > MaxHz {
		errs = append(errs, fmt.Errorf("sample rate %v Hz: want 0 (default %d) to %d", c.Hz, DefaultHz, MaxHz))
	}
	return errs
}

func (c Config) withDefaults() Config {
	if c.Hz == 0 {
		c.Hz = DefaultHz
	}
	if c.NVML == nil {
		c.NVML = systemNVML
	}
	if c.ProcFS == "" {
		c.ProcFS = DefaultProcFS
	}
	return c
}

// Sample is one timestamped reading of every GPU and the host.
type Sample struct {
	Time time.Time `json:"time"`
	// ElapsedS is seconds since the sampler started.
	ElapsedS float64     `json:"elapsed_s"`
	GPUs     []GPUSample `json:"gpus,omitempty"`
	Host     HostSample  `json:"host"`
}

// SeriesGPU is one sampled GPU's facts for the run record.
type SeriesGPU struct {
	GPUInfo
	// EnergyMethod is EnergyCounter, EnergyPowerIntegral or EnergyNone.
	EnergyMethod string `json:"energy_method"`
	// Unsupported names the metrics not read on this device: those it
	// answered NOT_SUPPORTED and those it cannot give at all (GPM before
	// Hopper).
	Unsupported []string `json:"unsupported,omitempty"`
	// Unavailable says why, for each metric in Unsupported: a reason that
	// starts with ReasonNeedsHopper, ReasonNotSupported or says what
	// failed.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// Unavailable is a reason and the metrics it keeps from a GPU.
type Unavailable struct {
	Reason  string
	Metrics []Metric
}

// ByReason groups the metrics of order that unavailable (metric name to
// reason, as [SeriesGPU.Unavailable] and [GPUSummary.Unavailable] hold it)
// names, by reason, reasons sorted and metrics in order's order, so that a
// screen or a report says each reason once.
func ByReason(unavailable map[string]string, order []Metric) []Unavailable {
	var out []Unavailable
	for _, m := range order {
		r, ok := unavailable[m.String()]
		if !ok {
			continue
		}
		i := slices.IndexFunc(out, func(u Unavailable) bool { return u.Reason == r })
		if i < 0 {
			out = append(out, Unavailable{Reason: r})
			i = len(out) - 1
		}
		out[i].Metrics = append(out[i].Metrics, m)
	}
	slices.SortFunc(out, func(a, b Unavailable) int { return strings.Compare(a.Reason, b.Reason) })
	return out
}

// Series is everything a sampler saw between Start and Stop.
type Series struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Hz    float64   `json:"hz"`
	// GPUAvailable and GPUReason repeat GPUStatus at Start.
	GPUAvailable bool        `json:"gpu_available"`
	GPUReason    string      `json:"gpu_reason,omitempty"`
	GPUs         []SeriesGPU `json:"gpus"`
	Samples      []Sample    `json:"samples"`
	// Dropped counts live samples a subscriber did not take in time; the
	// Samples slice itself is never short.
	Dropped uint64 `json:"dropped"`
}

// Sampler samples GPUs and the host at a fixed rate during a run.
//
// Start begins sampling; the first sample comes one period later. Stop
// takes a final sample, ends sampling, closes every subscription and
// returns the series; calling it again returns the same series. A sampler
// runs once. Its methods are safe for concurrent use.
type Sampler interface {
	// Start begins sampling until Stop or ctx ends; after ctx ends Stop
	// must still be called to release NVML and the /proc files. It fails
	// if the sampler was started before or the host's CPU counters cannot
	// be read; an absent GPU is not an error (see GPUStatus).
	Start(ctx context.Context) error
	// Stop ends sampling and returns what was collected.
	Stop() Series
	// Subscribe returns a channel of live samples, buffered to hold
	// buffer samples (at least 1). Sending never blocks: when the buffer
	// is full the oldest sample is dropped for the newest and counted in
	// Dropped. The channel is closed by cancel or Stop.
	Subscribe(buffer int) (samples <-chan Sample, cancel func())
	// GPUStatus says whether GPUs are being sampled and, if not, why:
	// "no NVIDIA GPU visible (REASON)". Before Start it reports
	// (false, "not started").
	GPUStatus() (ok bool, reason string)
	// Dropped counts live samples dropped for slow subscribers so far.
	Dropped() uint64
	// Devices describes the GPUs being sampled as they stand now: what
	// Stop's Series.GPUs will say, with the metrics found unavailable so
	// far. It is empty before Start and without GPUs.
	Devices() []SeriesGPU
}

// New returns a sampler for cfg, or every problem with cfg.
func New(cfg Config) (Sampler, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &sampler{cfg: cfg.withDefaults(), gpuReason: "not started"}, nil
}

var _ Sampler = (*sampler)(nil)

type sampler struct {
	cfg Config

	mu        sync.Mutex
	state     int // stateNew, stateRunning, stateStopped
	gpuOK     bool
	gpuReason string
	series    Series
	subs      map[*subscription]struct{}
	dropped   uint64
	cancel    context.CancelFunc
	done      chan struct{}

	// live is what Devices reports while running, updated under mu by
	// the sampling goroutine whenever a reader's unavailable set grows.
	live []SeriesGPU

	// Owned by the sampling goroutine while running, then by Stop.
	host *hostReader
	gpus []*gpuReader
	// reported is each reader's unavailable set as live last showed it.
	reported []MetricSet
}

const (
	stateNew = iota
	stateRunning
	stateStopped
)

type subscription struct{ ch chan Sample }

func (s *sampler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateNew {
		return errors.New("nvml: a sampler runs once: already started")
	}
	now := time.Now()
	host, err := openHost(s.cfg.ProcFS)
	if err != nil {
		return err
	}
	if err := host.start(now); err != nil {
		host.close()
		return err
	}
	s.host = host
	s.openGPUs(now)
	s.live = s.changedDevices()
	if !s.gpuOK && s.cfg.OnGPUUnavailable != nil {
		s.cfg.OnGPUUnavailable(s.gpuReason)
	}
	s.series = Series{Start: now, Hz: s.cfg.Hz, GPUAvailable: s.gpuOK, GPUReason: s.gpuReason, GPUs: []SeriesGPU{}}
	s.state = stateRunning
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go s.loop(ctx, time.Duration(float64(time.Second)/s.cfg.Hz))
	return nil
}

// openGPUs opens every device, or records why there are none. A device
// that cannot be opened is left out of the series and named in the reason.
func (s *sampler) openGPUs(now time.Time) {
	infos, reason := openGPUs(s.cfg.NVML)
	if reason != "" {
		s.gpuReason = reason
		return
	}
	var failed []string
	for _, info := range infos {
		g, err := openGPU(s.cfg.NVML, info, now)
		if err != nil {
			failed = append(failed, fmt.Sprintf("GPU %d: %v", info.Index, err))
			continue
		}
		s.gpus = append(s.gpus, g)
	}
	if len(s.gpus) == 0 {
		release(s.cfg.NVML)
		s.gpuReason = NoGPUReason(fmt.Sprint(failed))
		return
	}
	s.gpuOK, s.gpuReason = true, ""
}

func (s *sampler) loop(ctx context.Context, period time.Duration) {
	defer close(s.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			smp := s.tick(now)
			s.record(smp, s.changedDevices())
		}
	}
}

// tick reads everything once. GPUs are read concurrently because each
// PCIe throughput query blocks for its 20 ms counting window.
func (s *sampler) tick(now time.Time) Sample {
	smp := Sample{Time: now, ElapsedS: now.Sub(s.series.Start).Seconds()}
	smp.Host = s.host.sample(now)
	switch len(s.gpus) {
	case 0:
	case 1:
		smp.GPUs = []GPUSample{s.gpus[0].read(now)}
	default:
		smp.GPUs = make([]GPUSample, len(s.gpus))
		var wg sync.WaitGroup
		for i, g := range s.gpus {
			wg.Go(func() { smp.GPUs[i] = g.read(now) })
		}
		wg.Wait()
	}
	return smp
}

// record appends a sample and offers it to subscribers without blocking;
// devs, when not nil, replaces what Devices reports.
func (s *sampler) record(smp Sample, devs []SeriesGPU) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if devs != nil {
		s.live = devs
	}
	s.series.Samples = append(s.series.Samples, smp)
	for sub := range s.subs {
		select {
		case sub.ch <- smp:
			continue
		default:
		}
		// Full: drop the oldest so the subscriber sees the newest.
		select {
		case <-sub.ch:
		default:
		}
		select {
		case sub.ch <- smp:
		default:
		}
		s.dropped++
	}
}

func (s *sampler) Stop() Series {
	s.mu.Lock()
	switch s.state {
	case stateNew:
		s.state = stateStopped
		s.mu.Unlock()
		return Series{GPUs: []SeriesGPU{}}
	case stateStopped:
		defer s.mu.Unlock()
		return s.series
	}
	s.state = stateStopped
	s.cancel()
	s.mu.Unlock()
	<-s.done

	// The loop has ended, so the readers are ours.
	now := time.Now()
	if now.After(s.series.Start) {
		smp := s.tick(now)
		s.record(smp, nil)
	}
	devs := s.devices()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series.End = now
	s.series.GPUs, s.live = devs, devs
	for _, g := range s.gpus {
		g.close()
	}
	s.series.Dropped = s.dropped
	for sub := range s.subs {
		close(sub.ch)
	}
	s.subs = nil
	s.host.close()
	if len(s.gpus) > 0 {
		release(s.cfg.NVML)
	}
	return s.series
}

func (s *sampler) Subscribe(buffer int) (<-chan Sample, func()) {
	sub := &subscription{ch: make(chan Sample, max(buffer, 1))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStopped {
		close(sub.ch)
		return sub.ch, func() {}
	}
	if s.subs == nil {
		s.subs = map[*subscription]struct{}{}
	}
	s.subs[sub] = struct{}{}
	return sub.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[sub]; ok {
			delete(s.subs, sub)
			close(sub.ch)
		}
	}
}

// changedDevices returns the readers' descriptions when a reader's
// unavailable set has changed since the last call, nil otherwise. Only the
// goroutine that owns the readers may call it.
func (s *sampler) changedDevices() []SeriesGPU {
	changed := len(s.reported) != len(s.gpus)
	if changed {
		s.reported = make([]MetricSet, len(s.gpus))
	}
	for i, g := range s.gpus {
		if s.reported[i] != g.unsupported {
			s.reported[i], changed = g.unsupported, true
		}
	}
	if !changed {
		return nil
	}
	return s.devices()
}

// devices describes the readers; only their owner may call it.
func (s *sampler) devices() []SeriesGPU {
	out := make([]SeriesGPU, 0, len(s.gpus))
	for _, g := range s.gpus {
		out = append(out, SeriesGPU{
			GPUInfo:      g.info,
			EnergyMethod: g.energyMethod,
			Unsupported:  g.unsupported.Names(),
			Unavailable:  g.unavailable(),
		})
	}
	return out
}

func (s *sampler) Devices() []SeriesGPU {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

func (s *sampler) GPUStatus() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gpuOK, s.gpuReason
}

func (s *sampler) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}
