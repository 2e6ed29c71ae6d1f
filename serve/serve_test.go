package serve

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"workbench/tui/backend"
)

// testKey is a client key and its authorized_keys line.
type testKey struct {
	signer gossh.Signer
	line   string
}

func newKey(t testing.TB, comment string) testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := gossh.NewPublicKey(pub)
	return testKey{signer: s, line: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pk))) + " " + comment + "\n"}
}

// lockedBuf is a log or screen written by one goroutine and read by the test.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a server on a free port with the fake backend.
type env struct {
	srv        *Server
	addr       string
	log        *lockedBuf
	alice, bob testKey
	teacher    testKey
	data       string
	dir        string
}

func start(t *testing.T, mod func(*Config, *env)) *env {
	t.Helper()
	e := &env{log: &lockedBuf{}, alice: newKey(t, "alice"), bob: newKey(t, "bob"), teacher: newKey(t, "teacher"), dir: t.TempDir()}
	e.data = filepath.Join(e.dir, "data")
	if err := os.MkdirAll(filepath.Join(e.data, "flowers"), 0o755); err != nil {
		t.Fatal(err)
	}
	ak := filepath.Join(e.dir, "authorized_keys")
	if err := os.WriteFile(ak, []byte(e.alice.line+e.bob.line), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		AuthorizedKeys: ak, HostKeyDir: filepath.Join(e.dir, "config"), ReportsDir: filepath.Join(e.dir, "reports"),
		Defaults: SessionOptions{Data: e.data, Model: "tiny"}, Log: e.log, IdleTimeout: time.Minute,
		NewBackend: func(SessionOptions) (backend.Backend, error) { return &backend.Fake{}, nil },
	}
	if mod != nil {
		mod(&cfg, e)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	e.srv, e.addr = srv, l.Addr().String()
	return e
}

func (e *env) dial(k testKey) (*gossh.Client, error) {
	return gossh.Dial("tcp", e.addr, &gossh.ClientConfig{User: "participant", Auth: []gossh.AuthMethod{gossh.PublicKeys(k.signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
}

// screen is one client's TUI: what it has drawn, and its keyboard.
type screen struct {
	t     testing.TB
	out   *lockedBuf
	in    io.WriteCloser
	sess  *gossh.Session
	cl    *gossh.Client
	ended chan struct{}
}

// open connects k and starts the TUI at 120×40 (cmd non-empty: as an exec
// request of session flags).
func (e *env) open(t testing.TB, k testKey, cmd string) *screen {
	t.Helper()
	cl, err := e.dial(k)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s := &screen{t: t, out: &lockedBuf{}, sess: sess, cl: cl, ended: make(chan struct{})}
	sess.Stdout, sess.Stderr = s.out, s.out
	if s.in, err = sess.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	if cmd == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(cmd)
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { sess.Wait(); close(s.ended) }()
	t.Cleanup(func() { cl.Close() })
	return s
}

// text is everything drawn so far without escape sequences.
func (s *screen) text() string { return ansi.Strip(s.out.String()) }

// waitFor waits until every want has been drawn.
func (s *screen) waitFor(want ...string) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		txt := s.text()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(txt, w)
		}
		if ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("screen never showed %q; it showed:\n%s", want, tail(s.text(), 4000))
}

func (s *screen) press(keys string) {
	s.t.Helper()
	if _, err := s.in.Write([]byte(keys)); err != nil {
		s.t.Fatal(err)
	}
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestAuthorisedKeyGetsHomeScreen(t *testing.T) {
	e := start(t, nil)
	s := e.open(t, e.alice, "")
	s.waitFor("workbench", "home", "Everything the slow way", "serve alice")
	if !strings.Contains(e.log.String(), gossh.FingerprintSHA256(e.alice.signer.PublicKey())) {
		t.Errorf("the connection is not logged with the key's fingerprint:\n%s", e.log.String())
	}
	// The host key was made once, 0600, and is reused.
	st, err := os.Stat(filepath.Join(e.dir, "config", HostKeyName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host key: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	s.press("q")
	select {
	case <-s.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the session")
	}
}

func TestUnknownKeyRejected(t *testing.T) {
	e := start(t, nil)
	stranger := newKey(t, "stranger")
	if cl, err := e.dial(stranger); err == nil {
		cl.Close()
		t.Fatal("an unknown key got in")
	}
	fp := gossh.FingerprintSHA256(stranger.signer.PublicKey())
	waitUntil(t, "the auth failure in the log", func() bool {
		return strings.Contains(e.log.String(), "auth failure") && strings.Contains(e.log.String(), fp)
	})
}

func TestNoKeysRefusesToStartUnlessOpen(t *testing.T) {
	cfg := Config{NewBackend: func(SessionOptions) (backend.Backend, error) { return &backend.Fake{}, nil }}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "--authorized-keys") {
		t.Fatalf("New without keys: %v, want a refusal naming --authorized-keys", err)
	}
	e := start(t, func(c *Config, _ *env) { c.AuthorizedKeys, c.Open = "", true })
	stranger := newKey(t, "")
	s := e.open(t, stranger, "")
	s.waitFor("WARNING", "OPEN SERVER")
	if !strings.Contains(e.log.String(), "WARNING: --open") {
		t.Error("no warning at start")
	}
}

// Only the TUI is served: a command, a session without a terminal, a
// subsystem (SFTP) and port forwarding are refused.
func TestShellExecAndForwardingRefused(t *testing.T) {
	e := start(t, nil)
	cl, err := e.dial(e.alice)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cases := []struct {
		name string
		try  func(*gossh.Session) error
	}{
		{"exec without a terminal", func(s *gossh.Session) error { return s.Start("ls") }},
		{"exec of a command", func(s *gossh.Session) error {
			if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
				return err
			}
			return s.Start("sh -c id")
		}},
		{"shell without a terminal", func(s *gossh.Session) error { return s.Shell() }},
		{"session flags without a terminal", func(s *gossh.Session) error { return s.Start("--model tiny") }},
		{"sftp", func(s *gossh.Session) error { return s.RequestSubsystem("sftp") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := cl.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := c.try(s); err == nil {
				t.Errorf("%s was accepted", c.name)
			}
		})
	}
	if c, err := cl.Dial("tcp", e.addr); err == nil {
		c.Close()
		t.Error("local port forwarding was accepted")
	}
	if l, err := cl.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
		t.Error("remote port forwarding was accepted")
	}
	if !strings.Contains(e.log.String(), "request refused") {
		t.Errorf("refusals are not logged:\n%s", e.log.String())
	}
}

// With one slot, the second client's race waits in the queue, says so,
// and runs once the first has finished.
func TestTwoClientsQueue(t *testing.T) {
	gate := make(chan struct{})
	e := start(t, func(c *Config, _ *env) {
		c.NewBackend = func(SessionOptions) (backend.Backend, error) { return &backend.Fake{Gate: gate}, nil }
	})
	a := e.open(t, e.alice, "")
	b := e.open(t, e.bob, "")
	a.waitFor("Everything the slow way")
	b.waitFor("Everything the slow way")
	a.press("r")
	waitUntil(t, "alice's run to start", func() bool { return len(e.srv.Queue().Running()) == 1 })
	b.press("r")
	b.waitFor("queued #1 of 1")
	if r := e.srv.Queue().Running(); len(r) != 1 || r[0].Who != "alice" {
		t.Fatalf("running %v, want alice's run alone", r)
	}
	// Bob can watch alice's run, read-only.
	b.press("v")
	b.waitFor("watching alice's run")
	b.press("v")
	// The four sides, one at a time. Before each, wait until the next side
	// has asked for its slot: a participant's screen asks for its second
	// side only after its first has ended, and the order of arrival the
	// queue serves is what this test checks, not how fast a screen asks.
	// (A race makes 3 runs a side by default, so another always waits.)
	q := e.srv.Queue()
	for i, who := range []string{"alice", "bob", "alice", "bob"} {
		waitUntil(t, fmt.Sprintf("side %d running (%s's) and the next waiting", i+1, who), func() bool {
			r := q.Running()
			return len(r) == 1 && r[0].Who == who && q.PlaceOf(nil).Waiting == 1
		})
		gate <- struct{}{}
	}
	waitUntil(t, "four runs filed", func() bool { return len(e.srv.Classroom().Results()) == 4 })
	res := e.srv.Classroom().Results()
	// Runs are served one at a time in order of arrival: bob's first side
	// was waiting before alice's second side asked.
	for i, want := range []string{"alice", "bob", "alice", "bob"} {
		r := res[i]
		if r.Participant != want {
			t.Errorf("run %d by %s (%s), want %s", i, r.Participant, r.Rec.Label, want)
		}
		if r.Rec.RanAlone == nil || !*r.Rec.RanAlone {
			t.Errorf("run %d: ran_alone %v, want true with one slot", i, r.Rec.RanAlone)
		}
	}
}

func TestQueueAloneAndCap(t *testing.T) {
	q := NewQueue(2, 1)
	a, _ := q.Enqueue("a", "a", "x")
	b, _ := q.Enqueue("b", "b", "y")
	c, _ := q.Enqueue("c", "c", "z")
	if _, err := q.Enqueue("c", "c", "again"); err == nil {
		t.Error("a second waiting run for one key was accepted")
	}
	if p := q.PlaceOf(c); p.Position != 1 {
		t.Errorf("c at %d, want 1", p.Position)
	}
	if a.Done() {
		t.Error("a overlapped b but says alone")
	}
	if b.Done() {
		t.Error("b overlapped a but says alone")
	}
	if c.Done() {
		t.Error("c started while b ran but says alone")
	}
	one := NewQueue(1, 1)
	x, _ := one.Enqueue("x", "x", "x")
	y, _ := one.Enqueue("y", "y", "y")
	if !x.Done() || !y.Done() {
		t.Error("runs of a one-slot queue say they were not alone")
	}
}

// withInstructor makes the teacher's key the server's instructor.
func withInstructor(t *testing.T) func(*Config, *env) {
	return func(c *Config, e *env) {
		f := filepath.Join(e.dir, "instructors")
		if err := os.WriteFile(f, []byte(e.teacher.line), 0o644); err != nil {
			t.Fatal(err)
		}
		c.Instructors = f
	}
}

// The instructor's screen reaches a participant: the participant's screen
// follows into the workshop, read-only, with the instructor's numbers.
func TestInstructorBroadcastReachesParticipant(t *testing.T) {
	e := start(t, withInstructor(t))
	p := e.open(t, e.alice, "")
	p.waitFor("runs held by the instructor")
	in := e.open(t, e.teacher, "")
	in.waitFor("(instructor)", "B broadcast")
	in.press("B")
	in.waitFor("broadcasting")
	p.waitFor("following the instructor")
	in.press("w")
	in.waitFor("Step 1 of 4")
	p.waitFor("Step 1 of 4", "The slow pipeline")
	// A participant's keys do nothing while following.
	p.press(" ")
	p.waitFor("read-only")
	// Released, the participant runs their own experiment, filed at the
	// instructor's step; e writes the workshop report.
	in.press("B")
	in.press("R")
	p.waitFor("broadcast over")
	waitUntil(t, "release", func() bool { return !e.srv.Classroom().Held() })
	p.press("r")
	waitUntil(t, "alice's runs", func() bool {
		for _, r := range e.srv.Classroom().Results() {
			if r.Participant == "alice" && r.Step == 0 {
				return true
			}
		}
		return false
	})
	in.press("e")
	in.waitFor("workshop report written to")
	ms, _ := filepath.Glob(filepath.Join(e.dir, "reports", "workshop-*.html"))
	if len(ms) != 1 {
		t.Fatalf("reports %v, want one workshop report", ms)
	}
	html, _ := os.ReadFile(ms[0])
	for _, want := range []string{"alice", "Step 1 · The slow pipeline", "speedup"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("workshop report lacks %q", want)
		}
	}
	if bytes.Contains(html, []byte("http")) && bytes.Contains(html, []byte("src=")) {
		t.Error("the report fetches something")
	}
}

// Paths a participant names must resolve inside the server's folders,
// including through a symlink planted inside one.
// TestTypingInAFormIsText: in the sweep form's field, the server's own
// keys (q quit, v watch, and an instructor's B, R and e) are text, so
// typing an objective or a constraint neither ends the session nor
// broadcasts, releases or writes a report.
func TestTypingInAFormIsText(t *testing.T) {
	e := start(t, withInstructor(t))
	in := e.open(t, e.teacher, "")
	in.waitFor("(instructor)", "B broadcast")
	held := e.srv.Classroom().Held()
	in.press("s")
	in.waitFor("batch sizes")
	in.press("qvBRe\r") // into the batch field, then enter: the CLI's parser refuses it
	in.waitFor("--batch 8..128qvBRe:")
	if e.srv.Classroom().Broadcasting() || e.srv.Classroom().Held() != held {
		t.Error("keys typed into a field reached the instructor's controls")
	}
	select {
	case <-in.ended:
		t.Fatal("q typed into a field ended the session")
	default:
	}
}

func TestPathOutsideFoldersRefused(t *testing.T) {
	e := start(t, nil)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(e.data, "escape")); err != nil {
		t.Fatal(err)
	}
	cl, err := e.dial(e.alice)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, cmd := range []string{
		"--data " + outside,
		"--data " + e.data + "/../..",
		"--data " + filepath.Join(e.data, "escape"),
		"--model " + filepath.Join(outside, "m.onnx"),
		"--model " + filepath.Join(e.data, "escape", "m.onnx"),
	} {
		s, err := cl.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(cmd); err == nil {
			t.Errorf("%q was accepted", cmd)
		}
		s.Close()
	}
	// Inside the folders is fine.
	sc := e.open(t, e.alice, "--data "+filepath.Join(e.data, "flowers")+" --race")
	sc.waitFor("race")
	for _, p := range []string{filepath.Join(e.dir, "reports", "x.html"), filepath.Join(e.data, "flowers")} {
		if _, err := e.srv.Roots().Check(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := e.srv.Roots().Check(filepath.Join(e.data, "escape", "new", "out.parquet")); err == nil {
		t.Error("an output path through the link was allowed")
	}
}

func TestConnectionsPerKeyCapped(t *testing.T) {
	e := start(t, func(c *Config, _ *env) { c.MaxConnsPerKey = 1 })
	a := e.open(t, e.alice, "")
	a.waitFor("serve alice")
	b := e.open(t, e.alice, "")
	b.waitFor("already has 1 sessions")
}
