package datasource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Object is one listed object: its key under the bucket and its size.
type Object struct {
	Key  string
	Size int64
}

// Store is one bucket of an object store. Every method makes one request
// (List one per page); retries and stats are Retrying's business.
type Store interface {
	// Scheme is the URI scheme ("s3", "gs", "file").
	Scheme() string
	// Bucket names the bucket (empty for "file").
	Bucket() string
	// ListPage lists one page of keys under prefix, in key order, from
	// the continuation token ("" for the first page); next is "" after
	// the last page.
	ListPage(ctx context.Context, prefix, token string) (objs []Object, next string, err error)
	// Get returns the object's bytes [off, off+n) (n < 0: to the end).
	Get(ctx context.Context, key string, off, n int64) ([]byte, error)
	// Open streams the object from the start (a tar shard).
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Put writes an object whole.
	Put(ctx context.Context, key string, body []byte) error
	// Copy copies src to dst in the same bucket, server side.
	Copy(ctx context.Context, src, dst string) error
	// Delete removes an object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
}

// StatusError is a request that the server answered with an HTTP error.
type StatusError struct {
	Status int
	Code   string // the service's error code, e.g. SlowDown
	Err    error
}

func (e *StatusError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("HTTP %d %s: %v", e.Status, e.Code, e.Err)
	}
	return fmt.Sprintf("HTTP %d: %v", e.Status, e.Err)
}

func (e *StatusError) Unwrap() error { return e.Err }

// ErrNotFound marks a missing object or bucket.
var ErrNotFound = errors.New("not found")

// Retryable reports whether a request that failed with err may succeed if
// sent again: throttling (503 SlowDown, 429), other 5xx, and connections
// reset, refused mid-run or cut short. A 4xx other than 429 is final.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == 429 || se.Status >= 500 || se.Code == "SlowDown" || se.Code == "RequestTimeout"
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// RetryPolicy bounds retries: at most Attempts tries per request, and no
// new try once MaxElapsed has passed since the first. The wait before try
// n+1 is uniform in [0, min(Cap, Base·2ⁿ)] ("full jitter"), so clients
// throttled together do not retry together.
type RetryPolicy struct {
	Attempts   int
	Base, Cap  time.Duration
	MaxElapsed time.Duration
}

// DefaultRetry is the policy a Source uses when none is given.
var DefaultRetry = RetryPolicy{Attempts: 6, Base: 50 * time.Millisecond, Cap: 2 * time.Second, MaxElapsed: 30 * time.Second}

func (p RetryPolicy) backoff(try int) time.Duration {
	d := p.Base << min(try, 20)
	if d > p.Cap || d <= 0 {
		d = p.Cap
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// Stats counts what the read did against storage; safe for concurrent use.
type Stats struct {
	Requests atomic.Int64 // requests sent, retries included
	Retries  atomic.Int64 // requests sent again after a retryable failure
	Failures atomic.Int64 // requests that failed for good
	Bytes    atomic.Int64 // object bytes received

	mu  sync.Mutex
	get []time.Duration // GET latencies, bounded reservoir
	n   int64
}

const maxLatencies = 8192

func (s *Stats) observeGet(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if len(s.get) < maxLatencies {
		s.get = append(s.get, d)
	} else if i := rand.Int64N(s.n); i < maxLatencies {
		s.get[i] = d
	}
}

// Summary is a Stats snapshot with GET latency percentiles.
type Summary struct {
	Requests, Retries, Failures, Bytes int64
	Gets                               int64
	GetP50, GetP95, GetP99             time.Duration
}

// Summary snapshots the counters and the GET latency percentiles.
func (s *Stats) Summary() Summary {
	out := Summary{Requests: s.Requests.Load(), Retries: s.Retries.Load(), Failures: s.Failures.Load(), Bytes: s.Bytes.Load()}
	s.mu.Lock()
	lat := slices.Clone(s.get)
	out.Gets = s.n
	s.mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	out.GetP50, out.GetP95, out.GetP99 = q(0.50), q(0.95), q(0.99)
	return out
}

// retry runs op under the policy, counting each try in stats.
func retry(ctx context.Context, p RetryPolicy, st *Stats, op func() error) error {
	start := time.Now()
	for try := 0; ; try++ {
		st.Requests.Add(1)
		err := op()
		if err == nil {
			return nil
		}
		if !Retryable(err) || try+1 >= p.Attempts || time.Since(start) >= p.MaxElapsed {
			st.Failures.Add(1)
			if try > 0 {
				return fmt.Errorf("%w (after %d tries in %s)", err, try+1, time.Since(start).Round(time.Millisecond))
			}
			return err
		}
		st.Retries.Add(1)
		t := time.NewTimer(p.backoff(try))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Retrying wraps a Store so that every request is retried under a policy
// and counted in Stats.
type Retrying struct {
	Store
	Policy RetryPolicy
	Stats  *Stats
}

// ListPage retries one page's request.
func (r *Retrying) ListPage(ctx context.Context, prefix, token string) ([]Object, string, error) {
	var objs []Object
	var next string
	err := retry(ctx, r.Policy, r.Stats, func() error {
		var err error
		objs, next, err = r.Store.ListPage(ctx, prefix, token)
		return err
	})
	return objs, next, err
}

// List calls page with each page of keys under prefix as the listing is
// paged, so the caller sees the first objects before the listing ends;
// a failed page is retried from its own token, never from the start. An
// error from page stops the listing.
func List(ctx context.Context, s Store, prefix string, page func([]Object) error) error {
	token := ""
	for {
		objs, next, err := s.ListPage(ctx, prefix, token)
		if err != nil {
			return err
		}
		if err := page(objs); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// Get retries the GET and records its latency (the successful try's).
func (r *Retrying) Get(ctx context.Context, key string, off, n int64) ([]byte, error) {
	var b []byte
	err := retry(ctx, r.Policy, r.Stats, func() error {
		t0 := time.Now()
		var err error
		b, err = r.Store.Get(ctx, key, off, n)
		if err == nil {
			r.Stats.observeGet(time.Since(t0))
			r.Stats.Bytes.Add(int64(len(b)))
		}
		return err
	})
	return b, err
}

// Open retries opening the stream; bytes are counted as they are read.
func (r *Retrying) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := retry(ctx, r.Policy, r.Stats, func() error {
		t0 := time.Now()
		var err error
		rc, err = r.Store.Open(ctx, key)
		if err == nil {
			r.Stats.observeGet(time.Since(t0))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, n: &r.Stats.Bytes}, nil
}

// Put retries the upload.
func (r *Retrying) Put(ctx context.Context, key string, body []byte) error {
	return retry(ctx, r.Policy, r.Stats, func() error { return r.Store.Put(ctx, key, body) })
}

// Copy retries the server-side copy.
func (r *Retrying) Copy(ctx context.Context, src, dst string) error {
	return retry(ctx, r.Policy, r.Stats, func() error { return r.Store.Copy(ctx, src, dst) })
}

// Delete retries the delete.
func (r *Retrying) Delete(ctx context.Context, key string) error {
	return retry(ctx, r.Policy, r.Stats, func() error { return r.Store.Delete(ctx, key) })
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// rangeHeader is the HTTP Range for bytes [off, off+n) (n < 0: to the
// end), or "" for the whole object.
func rangeHeader(off, n int64) string {
	switch {
	case n >= 0:
		return fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	case off > 0:
		return fmt.Sprintf("bytes=%d-", off)
	}
	return ""
}
