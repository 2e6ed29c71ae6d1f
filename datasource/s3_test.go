package datasource

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"workbench/datasource/s3test"
	"workbench/pipeline"
)

// TestS3Listing against a real server (versitygw): the listing is paged
// and each page reaches the caller as it arrives; --images N stops the
// streamed listing once N images are found; s3://anonymous@ sends no
// signature.
func TestS3Listing(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "lst")
	for i := range 23 {
		srv.Put(t, "lst", fmt.Sprintf("p/%03d.jpg", i), []byte("x"))
	}
	srv.Put(t, "lst", "p/readme.txt", []byte("not an image"))
	listPageSize = 5
	t.Cleanup(func() { listPageSize = 1000 })
	ctx := context.Background()

	st, err := NewS3(ctx, "lst", false)
	if err != nil {
		t.Fatal(err)
	}
	var pages []int
	if err := List(ctx, st, "p/", func(objs []Object) error { pages = append(pages, len(objs)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(pages) != 5 || pages[0] != 5 {
		t.Errorf("pages %v: want 24 keys in pages of 5", pages)
	}

	px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{})
	s3test.Env(t, px.URL)
	src, err := Open(ctx, "s3://lst/p", Options{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for l := src.Listing(); ; {
		k, err := l.Next()
		if err != nil {
			break
		}
		keys = append(keys, k)
	}
	if len(keys) != 7 || px.Requests.Load() != 2 {
		t.Errorf("--images 7: %d keys after %d list requests; want 7 after 2 pages of 5", len(keys), px.Requests.Load())
	}
	if keys[0] != "s3://lst/p/000.jpg" || !strings.Contains(src.Describe(), "s3, images") {
		t.Errorf("keys %v, %s", keys[:1], src.Describe())
	}

	before := px.Unsigned.Load()
	if _, err := Open(ctx, "s3://anonymous@lst/p/", Options{}); err == nil {
		t.Log("the server allowed an anonymous listing")
	}
	if px.Unsigned.Load() == before {
		t.Error("s3://anonymous@ sent a signed request")
	}
	signed := px.Unsigned.Load()
	if _, err := Open(ctx, "s3://lst/p/", Options{}); err != nil {
		t.Fatal(err)
	}
	if px.Unsigned.Load() != signed {
		t.Error("a plain s3:// request went unsigned")
	}
}

// streamBucket fills bucket with n tiny "images" under img/ (keys in
// order, one larger than the others) and a note that is not an image.
func streamBucket(t *testing.T, srv *s3test.Server, bucket string, n int) {
	t.Helper()
	srv.Bucket(t, bucket)
	for i := range n {
		body := []byte(fmt.Sprintf("image %04d", i))
		if i == 7 {
			body = make([]byte, 200) // over the test's MaxObjectBytes
		}
		srv.Put(t, bucket, fmt.Sprintf("img/%04d.jpg", i), body)
	}
	srv.Put(t, bucket, "img/notes.txt", []byte("not an image"))
}

// readAll reads src through the engine in order, calling first once with
// the first block; it fails the test if no block arrives within the limit.
func readAll(t *testing.T, src *Source, perBlock int, bus *pipeline.EventBus, first func()) (paths, errs []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var once sync.Once
	ds := pipeline.ReadDatasource(src, pipeline.ReadOptions{RowsPerBlock: perBlock}).
		WithExecutionOptions(pipeline.ExecutionOptions{PreserveOrder: true, Bus: bus, SnapshotInterval: 5 * time.Millisecond})
	err := ds.IterBatches(ctx, func(b pipeline.Block) error {
		once.Do(first)
		p := pipeline.Column(b, pipeline.PathColumn).(*array.String)
		e := pipeline.Column(b, pipeline.ErrorColumn).(*array.String)
		for i := range p.Len() {
			paths = append(paths, p.Value(i))
			if e.IsValid(i) {
				errs = append(errs, p.Value(i)+": "+e.Value(i))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read: %v (a read whose first block waits for the whole listing never gets past the held page)", err)
	}
	return paths, errs
}

// TestS3ListingStreams against a real server (versitygw), its pages cut
// to 10 keys by the proxy in front: a prefix of images is read as it is
// listed. The proxy holds every listing request after the third until
// the first block has reached the engine, so a read that listed first
// would never finish; the rows then come in key order, every key once,
// with the first page fetched once, an oversized object refused unread,
// throttled pages retried, --images N stopping the listing, and Count
// listing again holding nothing.
func TestS3ListingStreams(t *testing.T) {
	srv := s3test.Start(t)
	const n = 300
	streamBucket(t, srv, "str", n)
	const pages = (n + 1 + 9) / 10 // 300 images and a note, 10 keys a page
	ctx := context.Background()
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("s3://str/img/%04d.jpg", i)
	}

	px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{MaxKeys: 10, HoldListsAfter: 3, Release: make(chan struct{})})
	s3test.Env(t, px.URL)
	held, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	src, err := Open(held, "s3://str/img/", Options{GetConcurrency: 4, MaxObjectBytes: 100})
	if err != nil {
		t.Fatalf("Open: %v (an Open that lists the whole prefix waits on the held page)", err)
	}
	if !src.Streams() || src.Units() != nil || src.Rows() != 0 || px.Lists.Load() != 1 {
		t.Fatalf("after Open: streams %v, %d units, %d rows, %d list requests; want a stream after one page",
			src.Streams(), len(src.Units()), src.Rows(), px.Lists.Load())
	}
	var listsAtFirst int64
	var mu sync.Mutex
	var snaps []*pipeline.Snapshot
	bus := pipeline.NewEventBus()
	events := bus.Subscribe(1 << 14)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for e := range events {
			if e.Snapshot != nil {
				mu.Lock()
				snaps = append(snaps, e.Snapshot)
				mu.Unlock()
			}
		}
	}()
	paths, errs := readAll(t, src, 5, bus, func() {
		listsAtFirst = px.Lists.Load()
		// A snapshot while the listing is held: the total is not known.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(snaps)
			mu.Unlock()
			if n > 0 {
				break
			}
		}
		close(px.Release)
	})
	bus.Close()
	<-collected
	if listsAtFirst >= pages {
		t.Errorf("the first block came after %d of %d list pages", listsAtFirst, pages)
	}
	if len(snaps) == 0 || snaps[0].RowsTotal != 0 || !snaps[len(snaps)-1].Done || snaps[len(snaps)-1].RowsTotal != n {
		t.Errorf("%d snapshots; want the first with RowsTotal 0 (counting…) and the last done with %d", len(snaps), n)
	}
	if !slices.Equal(paths, want) {
		t.Errorf("%d rows, want %d in key order; first %v", len(paths), n, paths[:min(3, len(paths))])
	}
	if px.Lists.Load() != pages {
		t.Errorf("%d list requests, want %d: each page once, the first not again", px.Lists.Load(), pages)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "0007.jpg") || !strings.Contains(errs[0], "too large") {
		t.Errorf("error rows %v, want only 0007.jpg refused as too large", errs)
	}
	if gets := src.Stats().Summary().Gets; gets != n-1 {
		t.Errorf("%d GETs, want %d: the oversized object is refused unread", gets, n-1)
	}
	if d := src.Describe(); !strings.Contains(d, "300 objects, listed as read") {
		t.Errorf("Describe() = %q", d)
	}
	if len(src.sizes) != 0 {
		t.Errorf("%d listed sizes kept after the read, want none", len(src.sizes))
	}

	t.Run("throttled pages", func(t *testing.T) {
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{MaxKeys: 10, ThrottleList: 4})
		s3test.Env(t, px.URL)
		src, err := Open(ctx, "s3://str/img/", Options{GetConcurrency: 4, MaxObjectBytes: 100})
		if err != nil {
			t.Fatal(err)
		}
		paths, _ := readAll(t, src, 7, nil, func() {})
		if !slices.Equal(paths, want) || px.ListsThrottled.Load() == 0 || src.Stats().Retries.Load() < px.ListsThrottled.Load() {
			t.Errorf("%d rows (want %d), %d pages throttled, %d retries", len(paths), n, px.ListsThrottled.Load(), src.Stats().Retries.Load())
		}
	})

	t.Run("images N", func(t *testing.T) {
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{MaxKeys: 10})
		s3test.Env(t, px.URL)
		src, err := Open(ctx, "s3://str/img/", Options{Limit: 25})
		if err != nil {
			t.Fatal(err)
		}
		paths, _ := readAll(t, src, 4, nil, func() {})
		if !slices.Equal(paths, want[:25]) || px.Lists.Load() != 3 {
			t.Errorf("--images 25: %d rows after %d list requests; want the first 25 after 3 pages", len(paths), px.Lists.Load())
		}
		if n, _, err := src.Count(ctx); err != nil || n != 25 {
			t.Errorf("Count = %d, %v; want 25", n, err)
		}
	})

	t.Run("count", func(t *testing.T) {
		px := s3test.StartProxy(t, srv.Endpoint, &s3test.Proxy{MaxKeys: 10})
		s3test.Env(t, px.URL)
		src, err := Open(ctx, "s3://str/img/", Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, bytes, err := src.Count(ctx)
		if err != nil || got != n || bytes != int64(10*(n-1)+200) || px.Lists.Load() != pages || len(src.sizes) != 0 {
			t.Errorf("Count = %d, %d bytes, %v after %d list requests, %d sizes kept; want %d, %d, %d pages, none",
				got, bytes, err, px.Lists.Load(), len(src.sizes), n, 10*(n-1)+200, pages)
		}
	})

	t.Run("one page", func(t *testing.T) {
		// A listing that ends on its first page is held whole, as before.
		s3test.Env(t, srv.Endpoint)
		src, err := Open(ctx, "s3://str/img/", Options{Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if src.Streams() || len(src.Units()) != 5 {
			t.Errorf("--images 5 on a 1,000-key page: streams %v, %d units; want 5 units held", src.Streams(), len(src.Units()))
		}
	})
}
