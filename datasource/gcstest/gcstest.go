// Package gcstest starts a real GCS-compatible server for tests:
// fake-gcs-server (filesystem backend) built by `make setup` into the user's
// cache directory, on a free port with a temporary directory. Test data
// goes in as multipart uploads (metadata and bytes in one request, as
// Google's client libraries write small objects) and is listed through the
// XML API: neither is a request the code under test makes, so the writer
// is independent of the reader.
package gcstest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"testing"

	"workbench/datasource/servertest"
)

// Binary is where `make setup` (scripts/setup-gcs.sh) puts fake-gcs-server.
func Binary() string { return servertest.Binary("fake-gcs-server") }

// Server is a running fake-gcs-server.
type Server struct {
	Host     string // 127.0.0.1:PORT, what STORAGE_EMULATOR_HOST takes
	Endpoint string // http://127.0.0.1:PORT
	Dir      string // the filesystem backend's root
}

// Start runs fake-gcs-server for the test's lifetime, or skips the test,
// saying how to get it, when the binary is missing (servertest.Need, as
// for versitygw). STORAGE_EMULATOR_HOST then points GCS clients at it
// (t.Setenv: such tests cannot run in parallel).
func Start(t testing.TB) *Server {
	t.Helper()
	bin := servertest.Need(t, "fake-gcs-server", "GCS server", "scripts/setup-gcs.sh")
	dir := t.TempDir()
	port := servertest.FreePort(t)
	host := fmt.Sprintf("127.0.0.1:%d", port)
	s := &Server{Host: host, Endpoint: "http://" + host, Dir: dir}
	// -public-host is the host the XML API answers on; -data "" so that no
	// /data folder on the host seeds it. Listening is not ready: the
	// health check answers once the backend is open.
	servertest.Run(t, bin, []string{"-scheme", "http", "-host", "127.0.0.1", "-port", fmt.Sprint(port),
		"-backend", "filesystem", "-filesystem-root", dir, "-public-host", host, "-data", "", "-log-level", "warn"},
		func() error {
			resp, err := http.Get(s.Endpoint + "/_internal/healthcheck")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health check: %s", resp.Status)
			}
			return nil
		})
	Env(t, host)
	return s
}

// Env points GCS clients at the emulator on host (or URL), shutting out
// the host's own Google credentials.
func Env(t testing.TB, host string) {
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
}

// Bucket creates a bucket through the JSON API.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	s.do(t, http.MethodPost, s.Endpoint+"/storage/v1/b", body)
}

// Put writes one object as a multipart upload.
func (s *Server) Put(t testing.TB, bucket, key string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	meta, _ := json.Marshal(map[string]string{"name": key, "contentType": "application/octet-stream"})
	for _, p := range []struct {
		typ  string
		body []byte
	}{{"application/json; charset=UTF-8", meta}, {"application/octet-stream", body}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {p.typ}})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	mw.Close()
	s.do(t, http.MethodPost, s.Endpoint+"/upload/storage/v1/b/"+url.PathEscape(bucket)+"/o?uploadType=multipart",
		buf.Bytes(), "Content-Type", "multipart/related; boundary="+mw.Boundary())
}

// Get reads one object whole through the XML API (GET /BUCKET/KEY).
func (s *Server) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	return s.do(t, http.MethodGet, s.Endpoint+"/"+url.PathEscape(bucket)+"/"+(&url.URL{Path: key}).EscapedPath(), nil)
}

// UploadDir puts every file under dir into bucket under prefix, keyed by
// its path relative to dir, and returns how many.
func (s *Server) UploadDir(t testing.TB, dir, bucket, prefix string) int {
	t.Helper()
	return servertest.Upload(t, dir, prefix, func(key string, body []byte) { s.Put(t, bucket, key, body) })
}

// Keys lists every key under prefix through the XML API (GET /BUCKET),
// which fake-gcs-server answers in one page.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	b := s.do(t, http.MethodGet, s.Endpoint+"/"+bucket+"?"+url.Values{"prefix": {prefix}}.Encode(), nil)
	var page struct {
		Contents []struct {
			Key string `xml:"Key"`
		} `xml:"Contents"`
	}
	if err := xml.Unmarshal(b, &page); err != nil {
		t.Fatalf("listing %s: %v: %s", bucket, err, b)
	}
	keys := make([]string, len(page.Contents))
	for i, c := range page.Contents {
		keys[i] = c.Key
	}
	return keys
}

// do sends one request, with header name/value pairs, and fails the test
// unless it succeeds.
func (s *Server) do(t testing.TB, method, u string, body []byte, header ...string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %v: %s", method, u, resp.Status, err, b)
	}
	return b
}
