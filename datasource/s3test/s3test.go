// Package s3test starts a real S3-compatible server for tests: versitygw
// (posix backend) built by `make setup` into the user's cache directory,
// on a free port with a temporary directory, and a small reverse proxy
// that can delay requests and answer some of them 503 SlowDown while the
// server behind it stays real.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"workbench/datasource/servertest"
)

// Access and Secret are the server's root credentials.
const (
	Access = "workbench-test"
	Secret = "workbench-test-secret"
)

// Binary is where `make setup` (scripts/setup-s3.sh) puts versitygw.
func Binary() string { return servertest.Binary("versitygw") }

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Dir      string // the posix backend's root
	Client   *s3.Client
}

// Start runs versitygw for the test's lifetime, or skips the test, saying
// how to get it, when the binary is missing. The environment then points
// the AWS chain at it (t.Setenv: such tests cannot run in parallel).
func Start(t testing.TB) *Server {
	t.Helper()
	bin := servertest.Need(t, "versitygw", "S3 server", "scripts/setup-s3.sh")
	dir := t.TempDir()
	port := servertest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ep := "http://" + addr
	servertest.Run(t, bin, []string{"--access", Access, "--secret", Secret, "--port", addr, "posix", "--nometa", dir},
		func() error {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		})
	Env(t, ep)
	return &Server{Endpoint: ep, Dir: dir, Client: NewClient(t, ep)}
}

// Env points the standard AWS chain at endpoint with the server's keys,
// shutting out the host's own AWS configuration.
func Env(t testing.TB, endpoint string) {
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", Secret)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
}

// NewClient is a plain SDK client for endpoint, for test setup: an
// independent writer, not the code under test.
func NewClient(t testing.TB, endpoint string) *s3.Client {
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(Access, Secret, "")))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

// Bucket creates a bucket.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	if _, err := s.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// UploadDir puts every file under dir into bucket under prefix, keyed by
// its path relative to dir.
func (s *Server) UploadDir(t testing.TB, dir, bucket, prefix string) int {
	t.Helper()
	return servertest.Upload(t, dir, prefix, func(key string, body []byte) { s.Put(t, bucket, key, body) })
}

// Put writes one object.
func (s *Server) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	_, err := s.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key,
		Body: strings.NewReader(string(body)), ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// Keys lists every key under prefix.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// Proxy sits in front of a server: it delays every request by Delay, and
// answers 503 SlowDown to every ThrottleEvery-th object GET and to every
// GET of a key containing FailKey, forwarding the rest untouched. It is
// plain HTTP, so it sits in front of fake-gcs-server (gcstest) as well.
type Proxy struct {
	URL           string
	Delay         time.Duration
	ThrottleEvery int64
	FailKey       string

	Requests, Throttled, Unsigned atomic.Int64
	gets                          atomic.Int64
}

// StartProxy starts a proxy to target for the test's lifetime.
func StartProxy(t testing.TB, target string, p *Proxy) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Requests.Add(1)
		if r.Header.Get("Authorization") == "" && r.URL.Query().Get("X-Amz-Signature") == "" {
			p.Unsigned.Add(1)
		}
		if p.Delay > 0 {
			time.Sleep(p.Delay)
		}
		isGet := r.Method == http.MethodGet && !r.URL.Query().Has("list-type") && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1
		if isGet {
			n := p.gets.Add(1)
			if (p.FailKey != "" && strings.Contains(r.URL.Path, p.FailKey)) || (p.ThrottleEvery > 0 && n%p.ThrottleEvery == 0) {
				p.Throttled.Add(1)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Log(err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	p.URL = "http://" + l.Addr().String()
	return p
}
