package datasource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

func TestParseURI(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in                        string
		scheme, user, bucket, key string
		err                       bool
	}{
		{in: "s3://bucket/prefix/", scheme: "s3", bucket: "bucket", key: "prefix/"},
		{in: "s3://anonymous@air-example-data-2/imagenette2/train/", scheme: "s3", user: "anonymous", bucket: "air-example-data-2", key: "imagenette2/train/"},
		{in: "gs://b/", scheme: "gs", bucket: "b"},
		{in: "s3://me@bucket/x", err: true},
		{in: "s3:///x", err: true},
		{in: "http://x/y", err: true},
	}
	for _, c := range cases {
		u, err := parseURI(c.in)
		if (err != nil) != c.err {
			t.Errorf("%s: error %v, want error %v", c.in, err, c.err)
			continue
		}
		if err == nil && (u.scheme != c.scheme || u.user != c.user || u.bucket != c.bucket || u.key != c.key) {
			t.Errorf("%s: %+v", c.in, u)
		}
		if err == nil && u.with(u.key) != c.in {
			t.Errorf("%s: with() gives %s", c.in, u.with(u.key))
		}
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want bool
	}{
		{&StatusError{Status: 503, Code: "SlowDown"}, true},
		{&StatusError{Status: 429}, true},
		{&StatusError{Status: 500}, true},
		{&StatusError{Status: 403, Code: "AccessDenied"}, false},
		{&StatusError{Status: 404}, false},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{io.ErrUnexpectedEOF, true},
		{context.Canceled, false},
		{errors.New("bad request"), false},
	}
	for _, c := range cases {
		if got := Retryable(c.err); got != c.want {
			t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// flaky answers each Get with the next error in errs, then succeeds.
type flaky struct {
	Store
	errs  []error
	calls int
}

func (f *flaky) Get(context.Context, string, int64, int64) ([]byte, error) {
	f.calls++
	if f.calls <= len(f.errs) {
		return nil, f.errs[f.calls-1]
	}
	return []byte("ok"), nil
}

// TestRetryBounded: retries stop at Attempts, and at MaxElapsed, and a
// final error is not retried; every try is counted.
func TestRetryBounded(t *testing.T) {
	t.Parallel()
	slow := &StatusError{Status: 503, Code: "SlowDown"}
	cases := []struct {
		name              string
		errs              []error
		policy            RetryPolicy
		ok                bool
		calls             int
		retries, failures int64
	}{
		{"recovers", []error{slow, slow}, RetryPolicy{Attempts: 5, Base: time.Millisecond, Cap: time.Millisecond, MaxElapsed: time.Second}, true, 3, 2, 0},
		{"out of attempts", []error{slow, slow, slow, slow}, RetryPolicy{Attempts: 3, Base: time.Millisecond, Cap: time.Millisecond, MaxElapsed: time.Second}, false, 3, 2, 1},
		{"out of time", []error{slow, slow, slow, slow}, RetryPolicy{Attempts: 100, Base: 40 * time.Millisecond, Cap: 40 * time.Millisecond, MaxElapsed: time.Nanosecond}, false, 1, 0, 1},
		{"final error", []error{&StatusError{Status: 403}}, RetryPolicy{Attempts: 5, Base: time.Millisecond, Cap: time.Millisecond, MaxElapsed: time.Second}, false, 1, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := &flaky{errs: c.errs}
			st := &Stats{}
			r := &Retrying{Store: f, Policy: c.policy, Stats: st}
			_, err := r.Get(context.Background(), "k", 0, -1)
			if (err == nil) != c.ok || f.calls != c.calls || st.Retries.Load() != c.retries || st.Failures.Load() != c.failures ||
				st.Requests.Load() != int64(c.calls) {
				t.Errorf("err %v, calls %d, retries %d, failures %d, requests %d", err, f.calls, st.Retries.Load(), st.Failures.Load(), st.Requests.Load())
			}
		})
	}
}

// TestBackoffJitter: waits grow with the try and stay within the cap,
// and are spread (full jitter), not all equal.
func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{Base: 10 * time.Millisecond, Cap: 80 * time.Millisecond}
	seen := map[time.Duration]bool{}
	for try := range 8 {
		for range 50 {
			d := p.backoff(try)
			limit := min(p.Cap, p.Base<<try)
			if d < 0 || d > limit {
				t.Fatalf("try %d: wait %s outside [0, %s]", try, d, limit)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct waits in 400: no jitter", len(seen))
	}
}
