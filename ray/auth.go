package ray

// Ray's token authentication (Ray 2.52 and later; on by default for local
// clusters from 2.59 and for all clusters from 2.61) checks
// "Authorization: Bearer <token>" on every dashboard request. The client
// finds the token where Ray's own CLI does, highest precedence first
// (docs.ray.io ray-security/token-auth.html, ray-core/internals/
// token-authentication.html):
//
//  1. RAY_AUTH_TOKEN, when set and non-empty;
//  2. the file named by RAY_AUTH_TOKEN_PATH; an unreadable or empty file
//     there is a misconfiguration, not a reason to fall back;
//  3. ~/.ray/auth_token.
//
// Whitespace around a token read from a file is stripped, as Ray does.

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// The environment variables and default file Ray reads its token from.
const (
	EnvAuthToken     = "RAY_AUTH_TOKEN"
	EnvAuthTokenPath = "RAY_AUTH_TOKEN_PATH"
	// DefaultTokenFile is relative to the home folder.
	DefaultTokenFile = ".ray/auth_token"
)

// Auth records how a Client authenticates: where its token came from and
// every source looked at on the way, in Ray's order. It holds no token, so
// it may be printed; a 401 or 403 quotes it so the user knows what to fix.
type Auth struct {
	// Source is where the token came from ("RAY_AUTH_TOKEN", "the file
	// $RAY_AUTH_TOKEN_PATH names (…)", "~/.ray/auth_token (…)", "--header
	// Authorization"), "" when no token is sent.
	Source string
	// Tried lists each source looked at and what was found there, e.g.
	// "RAY_AUTH_TOKEN: not set".
	Tried []string
}

// Hint is the advice a 401 or 403 carries: what was sent, what was tried,
// and how to get a token. It never contains the token.
func (a Auth) Hint() string {
	var b strings.Builder
	if a.Source != "" {
		fmt.Fprintf(&b, "the cluster refused the token from %s", a.Source)
	} else {
		b.WriteString("no token was sent")
	}
	if len(a.Tried) > 0 {
		fmt.Fprintf(&b, " (looked at, in Ray's order: %s)", strings.Join(a.Tried, "; "))
	}
	b.WriteString(". Get the cluster's token with `ray get-auth-token` on a machine that can reach it " +
		"(or from whoever runs the cluster) and put it in ~/.ray/auth_token, in a file named by " +
		"RAY_AUTH_TOKEN_PATH, or in RAY_AUTH_TOKEN; --header 'Authorization: Bearer $VAR' overrides all three")
	return b.String()
}

// FindToken looks for Ray's auth token in Ray's order using getenv,
// readFile and home (os.LookupEnv, os.ReadFile and the user's home folder;
// home "" skips the default file). It returns the token ("" when none is
// configured), the Auth describing the search, and an error only for a
// misconfiguration that Ray itself refuses: RAY_AUTH_TOKEN_PATH naming a
// file that cannot be read or is empty. Neither the Auth nor the error
// ever contains the token.
func FindToken(getenv func(string) (string, bool), readFile func(string) ([]byte, error), home string) (Secret, Auth, error) {
	var a Auth
	if v, ok := getenv(EnvAuthToken); ok && strings.TrimSpace(v) != "" {
		a.Source = EnvAuthToken
		a.Tried = append(a.Tried, EnvAuthToken+": set")
		return Secret(strings.TrimSpace(v)), a, nil
	}
	a.Tried = append(a.Tried, EnvAuthToken+": not set")
	if p, ok := getenv(EnvAuthTokenPath); ok && p != "" {
		b, err := readFile(p)
		switch {
		case err != nil:
			a.Tried = append(a.Tried, fmt.Sprintf("%s=%s: %s", EnvAuthTokenPath, p, fileProblem(err)))
			return "", a, fmt.Errorf("ray: %s names %s, which cannot be read (%s); Ray does not fall back to another source then, so fix or unset it", EnvAuthTokenPath, p, fileProblem(err))
		case strings.TrimSpace(string(b)) == "":
			a.Tried = append(a.Tried, fmt.Sprintf("%s=%s: empty", EnvAuthTokenPath, p))
			return "", a, fmt.Errorf("ray: %s names %s, which is empty; Ray does not fall back to another source then, so fix or unset it", EnvAuthTokenPath, p)
		}
		a.Source = fmt.Sprintf("the file %s names (%s)", EnvAuthTokenPath, p)
		a.Tried = append(a.Tried, fmt.Sprintf("%s=%s: read", EnvAuthTokenPath, p))
		return Secret(strings.TrimSpace(string(b))), a, nil
	}
	a.Tried = append(a.Tried, EnvAuthTokenPath+": not set")
	if home == "" {
		a.Tried = append(a.Tried, "~/"+DefaultTokenFile+": no home folder")
		return "", a, nil
	}
	p := filepath.Join(home, DefaultTokenFile)
	b, err := readFile(p)
	switch {
	case err != nil:
		a.Tried = append(a.Tried, p+": "+fileProblem(err))
		return "", a, nil
	case strings.TrimSpace(string(b)) == "":
		a.Tried = append(a.Tried, p+": empty")
		return "", a, nil
	}
	a.Source = p
	a.Tried = append(a.Tried, p+": read")
	return Secret(strings.TrimSpace(string(b))), a, nil
}

// fileProblem says why a token file could not be used, without the
// *PathError's text (which repeats the path) and never its content.
func fileProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// BearerHeader is the Authorization header that carries token.
func BearerHeader(token Secret) Header {
	return Header{Name: "Authorization", Value: Secret("Bearer " + token.Reveal())}
}

// HasHeader reports whether hs sets name (case-insensitively), so an
// explicit --header Authorization wins over a discovered token.
func (hs Headers) HasHeader(name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}
