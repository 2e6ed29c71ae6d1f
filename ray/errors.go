package ray

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrNotFound matches (with errors.Is) an *HTTPError whose status is 404: the
// job, or the package, does not exist on the cluster.
var ErrNotFound = errors.New("not found")

// HTTPError is a response with a 4xx or 5xx status. Its text carries the
// status and a short excerpt of the body (Ray puts its reason, often a Python
// traceback, there), with header values and URL credentials removed.
type HTTPError struct {
	Method     string
	URL        string // credentials redacted
	StatusCode int
	Body       string // excerpt
	JobID      string // set on job endpoints
	// Hint is advice for a 401 or 403: which token sources were tried and
	// how to get a token (see Auth.Hint). It never holds the token.
	Hint string
}

// Unauthorized reports whether the cluster (or a proxy before it) refused
// the request's credentials.
func (e *HTTPError) Unauthorized() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
}

// Error describes the failure; a 404 on a job endpoint says which job.
func (e *HTTPError) Error() string {
	var b strings.Builder
	if e.StatusCode == http.StatusNotFound && e.JobID != "" {
		fmt.Fprintf(&b, "ray: job %q not found (", e.JobID)
	} else {
		b.WriteString("ray: ")
	}
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		b.WriteString(": " + e.Body)
	}
	if e.StatusCode == http.StatusNotFound && e.JobID != "" {
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString("\n" + e.Hint)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// NetworkError is a request that got no HTTP response: connection refused,
// DNS failure, TLS failure, a connection reset mid-body.
type NetworkError struct {
	Method string
	URL    string // credentials redacted
	Err    error
}

// Error names the request and the cause.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("ray: %s %s: cannot reach the cluster: %v", e.Method, e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *NetworkError) Unwrap() error { return e.Err }

// TimeoutError is a request that took longer than the client's per-request
// timeout (the caller's own context deadline is reported as that context's
// error instead).
type TimeoutError struct {
	Method string
	URL    string // credentials redacted
	Limit  time.Duration
}

// Error names the request and the limit.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("ray: %s %s: no response within %v (the server is slow or unreachable; raise the request timeout if it is just slow)", e.Method, e.URL, e.Limit)
}

// Timeout reports true, as net.Error does.
func (e *TimeoutError) Timeout() bool { return true }

// JobError is a job that ended FAILED or STOPPED. Message is Ray's own
// explanation (for FAILED usually the driver's exit code or exception).
type JobError struct {
	JobID     string
	Status    JobStatus
	Message   string
	ErrorType string // Ray's error_type, e.g. "JOB_ENTRYPOINT_COMMAND_ERROR"
}

// Error says which job ended how, and why.
func (e *JobError) Error() string {
	s := fmt.Sprintf("ray: job %s %s", e.JobID, e.Status)
	if e.ErrorType != "" {
		s += " (" + e.ErrorType + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// excerptHead and excerptTail bound the body quoted in an HTTPError: Ray answers a 500 with
// a whole Python traceback, whose last lines say what went wrong.
const (
	excerptHead = 160
	excerptTail = 320
)

// excerpt shortens body to its head and tail, on one line, with every secret
// replaced by [REDACTED] in case a proxy echoed a header back.
func excerpt(body []byte, secrets []string) string {
	s := strings.TrimSpace(string(body))
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > excerptHead+excerptTail+5 {
		s = strings.ToValidUTF8(s[:excerptHead], "") + " … " + strings.ToValidUTF8(s[len(s)-excerptTail:], "")
	}
	return s
}
