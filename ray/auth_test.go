package ray

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// tokenServer demands "Authorization: Bearer <token>" on every request, as a
// Ray 2.52+ dashboard with RAY_AUTH_MODE=token does, and echoes the header
// it got back in its 401 body, as a careless proxy might, so the tests see
// whether the client scrubs it.
func tokenServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			http.Error(w, "Unauthorized: got "+got, http.StatusUnauthorized)
			return
		}
		writeJSON(w, []JobInfo{{SubmissionID: "raysubmit_1", Status: StatusRunning}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fakeFS is a token file system: path → content; a missing path reads as
// fs.ErrNotExist, the path "denied" as fs.ErrPermission.
type fakeFS map[string]string

func (f fakeFS) read(p string) ([]byte, error) {
	if p == "/denied" {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}
	c, ok := f[p]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return []byte(c), nil
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFindTokenOrder(t *testing.T) {
	t.Parallel()
	const home = "/home/u"
	defaultFile := filepath.Join(home, DefaultTokenFile)
	tests := []struct {
		name       string
		env        map[string]string
		files      fakeFS
		home       string
		want       string
		wantSource string
		wantErr    string
	}{
		{"env wins over everything", map[string]string{EnvAuthToken: "tok-env-123456", EnvAuthTokenPath: "/t"},
			fakeFS{"/t": "tok-file", defaultFile: "tok-default"}, home, "tok-env-123456", EnvAuthToken, ""},
		{"blank env falls through to the path", map[string]string{EnvAuthToken: "  ", EnvAuthTokenPath: "/t"},
			fakeFS{"/t": "tok-file-123456\n"}, home, "tok-file-123456", "RAY_AUTH_TOKEN_PATH names (/t)", ""},
		{"path wins over the default file", map[string]string{EnvAuthTokenPath: "/t"},
			fakeFS{"/t": " tok-file-123456 ", defaultFile: "tok-default"}, home, "tok-file-123456", "(/t)", ""},
		{"unreadable path does not fall back", map[string]string{EnvAuthTokenPath: "/missing"},
			fakeFS{defaultFile: "tok-default"}, home, "", "", "/missing, which cannot be read (no such file)"},
		{"empty path file does not fall back", map[string]string{EnvAuthTokenPath: "/t"},
			fakeFS{"/t": "\n", defaultFile: "tok-default"}, home, "", "", "which is empty"},
		{"denied path file", map[string]string{EnvAuthTokenPath: "/denied"}, fakeFS{}, home, "", "", "permission denied"},
		{"default file", nil, fakeFS{defaultFile: "tok-default-123456\n"}, home, "tok-default-123456", defaultFile, ""},
		{"nothing anywhere", nil, fakeFS{}, home, "", "", ""},
		{"no home", nil, fakeFS{}, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, a, err := FindToken(envOf(tt.env), tt.files.read, tt.home)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tok.Reveal() != tt.want {
				t.Errorf("token = %q, want %q", tok.Reveal(), tt.want)
			}
			if !strings.Contains(a.Source, tt.wantSource) || (tt.wantSource == "" && a.Source != "") {
				t.Errorf("source = %q, want %q", a.Source, tt.wantSource)
			}
			// Nothing describing the search may carry a token.
			text := fmt.Sprint(a, a.Hint(), err)
			for _, secret := range []string{"tok-env", "tok-file", "tok-default"} {
				if strings.Contains(text, secret) {
					t.Errorf("search description leaks %s: %s", secret, text)
				}
			}
		})
	}
}

func TestTokenSentAndNeverShown(t *testing.T) {
	t.Parallel()
	const token = "s3cr3t-t0ken-abcdef"
	srv := tokenServer(t, token)
	tests := []struct {
		name    string
		env     map[string]string
		files   fakeFS
		wantErr []string // in the 401's text; nil: the call succeeds
	}{
		{"from RAY_AUTH_TOKEN", map[string]string{EnvAuthToken: token}, nil, nil},
		{"from RAY_AUTH_TOKEN_PATH", map[string]string{EnvAuthTokenPath: "/tok"}, fakeFS{"/tok": token + "\n"}, nil},
		{"from ~/.ray/auth_token", nil, fakeFS{"/h/.ray/auth_token": token}, nil},
		{"wrong token", map[string]string{EnvAuthToken: "wrong-token-zyxwvu"}, nil,
			[]string{"401", "refused the token from RAY_AUTH_TOKEN", "ray get-auth-token"}},
		{"no token", nil, fakeFS{}, []string{"401", "no token was sent", "RAY_AUTH_TOKEN: not set",
			"RAY_AUTH_TOKEN_PATH: not set", "/h/.ray/auth_token: no such file", "ray get-auth-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, a, err := FindToken(envOf(tt.env), tt.files.read, "/h")
			if err != nil {
				t.Fatal(err)
			}
			var hs Headers
			if tok != "" {
				hs = append(hs, BearerHeader(tok))
			}
			c, err := NewClient(Config{Address: srv.URL, Headers: hs, Auth: a, Retry: RetryPolicy{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			jobs, err := c.List(context.Background())
			if tt.wantErr == nil {
				if err != nil || len(jobs) != 1 {
					t.Fatalf("List = %v, %v; want the job", jobs, err)
				}
				return
			}
			var he *HTTPError
			if !errors.As(err, &he) || !he.Unauthorized() {
				t.Fatalf("err = %v, want a 401", err)
			}
			msg := err.Error()
			for _, want := range tt.wantErr {
				if !strings.Contains(msg, want) {
					t.Errorf("401 error lacks %q:\n%s", want, msg)
				}
			}
			for _, secret := range []string{token, "wrong-token-zyxwvu"} {
				if strings.Contains(msg, secret) || strings.Contains(fmt.Sprintf("%v %+v %#v", c, c, he), secret) {
					t.Errorf("token %q appears in the error or client:\n%s", secret, msg)
				}
			}
		})
	}
}
