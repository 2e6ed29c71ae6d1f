package ray

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// redacted is what a Secret prints as.
const redacted = "[REDACTED]"

// Secret is a string that never prints: every fmt verb, JSON, and slog render
// it as [REDACTED]. Header values are Secrets because clusters behind a proxy
// take bearer tokens in them. Reveal is the only way to read the value.
type Secret string

// Reveal returns the secret's value, for putting it on the wire.
func (s Secret) Reveal() string { return string(s) }

// String returns [REDACTED].
func (Secret) String() string { return redacted }

// GoString returns a redacted Go literal, for %#v.
func (Secret) GoString() string { return `ray.Secret("` + redacted + `")` }

// Format prints [REDACTED] for every verb, so %x or %q cannot leak it either.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON encodes the secret as "[REDACTED]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// LogValue makes slog print [REDACTED].
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Header is one HTTP header sent with every request to the cluster, e.g.
// Authorization for a cluster behind an authenticating proxy.
type Header struct {
	Name  string
	Value Secret
}

// String returns "Name: [REDACTED]".
func (h Header) String() string { return h.Name + ": " + redacted }

// Headers are the extra headers a Client sends.
type Headers []Header

// String lists the header names with their values redacted.
func (hs Headers) String() string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ParseHeader parses a --header flag, "Name: value". In the value, $NAME and
// ${NAME} expand from lookup (usually os.LookupEnv) and $$ is a literal $, so
// a token can stay out of shell history and process listings:
//
//	--header 'Authorization: Bearer $RAY_TOKEN'
//
// An unset variable is an error that names the variable; no error ever
// contains the value.
func ParseHeader(s string, lookup func(string) (string, bool)) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Header{}, fmt.Errorf("ray: header must look like 'Name: value'")
	}
	if !validHeaderName(name) {
		return Header{}, fmt.Errorf("ray: header name %q is not a valid HTTP header name", name)
	}
	v, err := expandEnv(strings.TrimSpace(value), lookup)
	if err != nil {
		return Header{}, fmt.Errorf("ray: header %s: %w", name, err)
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return Header{}, fmt.Errorf("ray: header %s: value contains a line break or NUL", name)
	}
	return Header{Name: name, Value: Secret(v)}, nil
}

// expandEnv expands $NAME, ${NAME} and $$ in s. A $ before anything else is
// kept literally.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		var name string
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
			continue
		case next == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ in value")
			}
			name = s[i+2 : i+2+end]
			i += 2 + end
		case isNameStart(next):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			name = s[i+1 : j]
			i = j - 1
		default:
			b.WriteByte('$')
			continue
		}
		if !isEnvName(name) {
			return "", fmt.Errorf("bad variable name %q", name)
		}
		val, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}

func isNameStart(c byte) bool { return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }
func isNameChar(c byte) bool  { return isNameStart(c) || c >= '0' && c <= '9' }

func isEnvName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return s != ""
}
