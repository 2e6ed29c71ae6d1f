// Package serve is the SSH workshop server behind `workbench serve`: it
// puts the workbench TUI in front of a whole class over SSH, with wish, as
// soft-serve serves its TUI. Each connection gets its own TUI session
// (tui.Host) sized to the client's terminal; every session's runs go
// through one queue (Queue) in front of the single run path, so at most
// Config.MaxConcurrentRuns pipelines measure at once and every record says
// whether it ran alone; the others wait with their place and an ETA and
// can watch the run in progress read-only (Live). Keys listed as
// instructors can broadcast their screen (participants' screens follow it,
// mirroring the instructor's runs rather than starting their own), hold
// or release participants' runs, and write a workshop report (Classroom).
//
// The server is locked down: public-key authentication only, against an
// authorized_keys file (or any key with Open, said on every screen);
// the only thing a connection can do is the TUI (a shell request with a
// terminal, or an exec request whose command is workbench's own session
// flags, parsed and never run); no port or agent forwarding and no
// subsystems (SFTP); paths participants name must resolve inside the
// server's folders (Roots); limits on connections per key and in total, on
// idle time and on runs waiting per key; every connection, refusal and run
// is logged with the key's fingerprint.
package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	bm "charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"

	"workbench/bench"
	"workbench/tui"
	"workbench/tui/backend"
	"workbench/tui/common"
)

// SessionOptions are what one participant's session runs on: the server's
// defaults, changed by the flags the participant typed after the host.
type SessionOptions struct {
	Data   string
	Model  string
	Images int
	// Start is the first page: "" (home), common.PageRace or PageWorkshop.
	Start       string
	Left, Right string
}

// Config is everything the server needs; zero limits take the defaults
// noted.
type Config struct {
	// Addr is the listen address, e.g. ":2222".
	Addr string
	// HostKeyDir holds the host key (default DefaultConfigDir()).
	HostKeyDir string
	// AuthorizedKeys is an authorized_keys file of participants' keys;
	// Instructors one of instructors' keys (who are let in too). With
	// neither, the server refuses to start unless Open.
	AuthorizedKeys, Instructors string
	// Open lets any public key in, for a closed classroom network.
	Open bool
	// MaxConcurrentRuns is how many pipelines run at once (default 1).
	MaxConcurrentRuns int
	// MaxConns caps connections in total (default 64), MaxConnsPerKey
	// sessions per key (default 2), MaxQueuedPerKey runs waiting per key
	// (default 1).
	MaxConns, MaxConnsPerKey, MaxQueuedPerKey int
	// IdleTimeout ends a session after this long without a key (default
	// 30 minutes).
	IdleTimeout time.Duration
	// ReportsDir is where reports are written (default "reports").
	ReportsDir string
	// Defaults are the server's own --data, --model and --images.
	Defaults SessionOptions
	// Baseline is the scenario workshop speedups are relative to.
	Baseline string
	// NewBackend makes a session's backend for its options, which the
	// server has already checked against its folders.
	NewBackend func(SessionOptions) (backend.Backend, error)
	// Log receives one line per event (default os.Stderr).
	Log io.Writer
}

// Server is a running workshop server.
type Server struct {
	cfg         Config
	roots       *Roots
	queue       *Queue
	class       *Classroom
	log         *slog.Logger
	authorized  map[string]string // fingerprint → name
	instructors map[string]string
	ssh         *ssh.Server
	mu          sync.Mutex
	conns       int
	perKey      map[string]int
}

// New checks cfg, loads the keys and the host key, and returns a server
// ready to Serve.
func New(cfg Config) (*Server, error) {
	if cfg.NewBackend == nil {
		return nil, errors.New("serve: no backend")
	}
	if cfg.AuthorizedKeys == "" && cfg.Instructors == "" && !cfg.Open {
		return nil, errors.New("refusing to start without --authorized-keys FILE: anyone who can reach the port would get a shell-less but GPU-using session; give the participants' keys, or --open on a closed classroom network")
	}
	cfg.MaxConcurrentRuns = max(cfg.MaxConcurrentRuns, 1)
	cfg.MaxConns = cmpOr(cfg.MaxConns, 64)
	cfg.MaxConnsPerKey = cmpOr(cfg.MaxConnsPerKey, 2)
	cfg.MaxQueuedPerKey = cmpOr(cfg.MaxQueuedPerKey, 1)
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.ReportsDir == "" {
		cfg.ReportsDir = "reports"
	}
	if cfg.Baseline == "" {
		cfg.Baseline = "slow"
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	s := &Server{cfg: cfg, queue: NewQueue(cfg.MaxConcurrentRuns, cfg.MaxQueuedPerKey), perKey: map[string]int{},
		log: slog.New(slog.NewTextHandler(cfg.Log, nil))}
	var err error
	if s.authorized, err = readKeys(cfg.AuthorizedKeys); err != nil {
		return nil, err
	}
	if s.instructors, err = readKeys(cfg.Instructors); err != nil {
		return nil, err
	}
	s.class = newClassroom(len(s.instructors) > 0)
	if err := os.MkdirAll(cfg.ReportsDir, 0o755); err != nil {
		return nil, err
	}
	roots := []string{cfg.ReportsDir, cfg.Defaults.Data}
	if m := cfg.Defaults.Model; isPath(m) {
		roots = append(roots, filepath.Dir(m))
	}
	if s.roots, err = NewRoots(roots...); err != nil {
		return nil, err
	}
	dir := cfg.HostKeyDir
	if dir == "" {
		if dir, err = DefaultConfigDir(); err != nil {
			return nil, err
		}
	}
	pem, created, err := LoadOrCreateHostKey(dir)
	if err != nil {
		return nil, err
	}
	if created {
		s.logf("host key created", "path", filepath.Join(dir, HostKeyName))
	}
	s.ssh, err = wish.NewServer(
		wish.WithAddress(cfg.Addr),
		wish.WithHostKeyPEM(pem),
		wish.WithPublicKeyAuth(s.auth),
		func(srv *ssh.Server) error {
			srv.Handler = s.handle
			// Only session channels; no forwarding of any kind, no
			// subsystems (SFTP), no global requests.
			srv.ChannelHandlers = map[string]ssh.ChannelHandler{"session": ssh.DefaultSessionHandler}
			srv.RequestHandlers = map[string]ssh.RequestHandler{}
			srv.SubsystemHandlers = map[string]ssh.SubsystemHandler{}
			srv.LocalPortForwardingCallback = nil
			srv.ReversePortForwardingCallback = nil
			srv.SessionRequestCallback = s.allowRequest
			srv.ConnCallback = s.admitConn
			srv.ConnectionFailedCallback = func(c net.Conn, err error) {
				s.logf("connection failed", "addr", c.RemoteAddr().String(), "error", err.Error())
			}
			srv.HandshakeTimeout = 20 * time.Second
			return nil
		},
	)
	if err != nil {
		return nil, err
	}
	if cfg.Open {
		s.logf("WARNING: --open: any SSH key gets a session; use it only on a closed classroom network")
	}
	return s, nil
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func isPath(m string) bool {
	return strings.HasSuffix(strings.ToLower(m), ".onnx") || strings.ContainsRune(m, filepath.Separator)
}

// readKeys reads an authorized_keys file into fingerprint → name (the
// key's comment, else the fingerprint's start). "" reads nothing.
func readKeys(path string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, comment, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		fp := gossh.FingerprintSHA256(k)
		out[fp] = cmpOrS(comment, fp[:min(len(fp), 15)])
	}
	return out, nil
}

func cmpOrS(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// Roots are the folders participants' paths must resolve into.
func (s *Server) Roots() *Roots { return s.roots }

// Queue is the server's run queue.
func (s *Server) Queue() *Queue { return s.queue }

// Classroom is the server's instructor state.
func (s *Server) Classroom() *Classroom { return s.class }

func (s *Server) logf(msg string, args ...any) { s.log.Info(msg, args...) }

type ctxKey struct{}

// auth accepts a key listed as instructor or participant, or any key
// with Open, and files who it is on the connection.
func (s *Server) auth(ctx ssh.Context, k ssh.PublicKey) bool {
	fp := gossh.FingerprintSHA256(k)
	id := identity{Fingerprint: fp}
	if n, ok := s.instructors[fp]; ok {
		id.Name, id.Instructor = n, true
	} else if n, ok := s.authorized[fp]; ok {
		id.Name = n
	} else if s.cfg.Open {
		id.Name = fp[:min(len(fp), 15)]
	} else {
		s.logf("auth failure", "key", fp, "user", ctx.User(), "addr", ctx.RemoteAddr().String())
		return false
	}
	ctx.SetValue(ctxKey{}, id)
	return true
}

// admitConn caps connections in total, before authentication.
func (s *Server) admitConn(_ ssh.Context, c net.Conn) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns >= s.cfg.MaxConns {
		s.logf("connection refused: server full", "addr", c.RemoteAddr().String(), "max", s.cfg.MaxConns)
		return nil
	}
	s.conns++
	return &countedConn{Conn: c, release: func() {
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
	}}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// allowRequest lets a session start only as the TUI: a shell request with
// a terminal, or an exec request with a terminal whose command parses as
// session flags. Everything else (a command, no terminal, a subsystem
// such as SFTP) is refused before the channel does anything.
func (s *Server) allowRequest(sess ssh.Session, kind string) bool {
	id, _ := sess.Context().Value(ctxKey{}).(identity)
	_, _, pty := sess.Pty()
	refuse := func(why string) bool {
		s.logf("request refused", "key", id.Fingerprint, "request", kind, "command", sess.RawCommand(), "why", why)
		return false
	}
	switch {
	case kind != "shell" && kind != "exec":
		return refuse("only the workbench TUI is served")
	case !pty:
		return refuse("no terminal: use ssh -t")
	case kind == "exec":
		if _, err := s.sessionOptions(sess.Command()); err != nil {
			return refuse(err.Error())
		}
	}
	return true
}

// sessionOptions parses what a participant typed after the host: only
// workbench's session flags, each path checked against the server's
// folders after resolving symlinks.
func (s *Server) sessionOptions(args []string) (SessionOptions, error) {
	o := s.cfg.Defaults
	fs := flag.NewFlagSet("session", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.Data, "data", o.Data, "")
	fs.StringVar(&o.Model, "model", o.Model, "")
	fs.IntVar(&o.Images, "images", o.Images, "")
	race := fs.Bool("race", false, "")
	ws := fs.Bool("workshop", false, "")
	fs.StringVar(&o.Left, "left", o.Left, "")
	fs.StringVar(&o.Right, "right", o.Right, "")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("session flags: %w (allowed: --data --model --images --race --workshop --left --right)", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%q: no commands here, only session flags (--data --model --images --race --workshop)", fs.Arg(0))
	}
	if o.Images < 0 {
		return o, errors.New("--images must be 0 or more")
	}
	switch {
	case *race:
		o.Start = common.PageRace
	case *ws:
		o.Start = common.PageWorkshop
	}
	res, err := s.roots.Check(o.Data)
	if err != nil {
		return o, fmt.Errorf("--data %w", err)
	}
	o.Data = res
	if isPath(o.Model) {
		res, err := s.roots.Check(o.Model)
		if err != nil {
			return o, fmt.Errorf("--model %w", err)
		}
		o.Model = res
	}
	return o, nil
}

// Serve accepts connections on l until Close.
func (s *Server) Serve(l net.Listener) error {
	s.logf("serving", "addr", l.Addr().String(), "runs_at_once", s.queue.Slots(), "folders", strings.Join(s.roots.Dirs(), ","),
		"participants", len(s.authorized), "instructors", len(s.instructors), "open", s.cfg.Open)
	err := s.ssh.Serve(l)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe listens on Config.Addr and serves.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Shutdown stops accepting connections and waits for sessions to end or
// ctx to expire, then closes what is left; runs in flight are cancelled
// by their sessions' ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.ssh.Shutdown(ctx)
	if err != nil {
		s.ssh.Close()
	}
	return err
}

// Close closes every connection at once.
func (s *Server) Close() error { return s.ssh.Close() }

// WorkshopReport writes the class's results as one offline HTML file in
// the reports folder and returns its path.
func (s *Server) WorkshopReport() (string, error) {
	wr := bench.WorkshopReport{Title: "workbench workshop · " + time.Now().Format("2006-01-02 15:04"),
		Baseline: s.cfg.Baseline, Runs: s.class.Results()}
	return s.writeReport("workshop", func(f *os.File) error { return bench.WriteWorkshopHTML(f, wr) })
}

// handle is one session: the limits, then the participant's TUI until
// they quit, disconnect or go idle; their runs are cancelled and waited
// for before it returns.
func (s *Server) handle(sess ssh.Session) {
	id, _ := sess.Context().Value(ctxKey{}).(identity)
	addr := sess.RemoteAddr().String()
	if !s.enter(id) {
		s.logf("session refused: too many for this key", "key", id.Fingerprint, "who", id.Name, "addr", addr)
		wish.Fatalln(sess, fmt.Sprintf("workbench: your key already has %d sessions open here", s.cfg.MaxConnsPerKey))
		return
	}
	defer s.leave(id)
	s.logf("session", "key", id.Fingerprint, "who", id.Name, "instructor", id.Instructor, "addr", addr, "command", sess.RawCommand())
	if s.cfg.Open {
		wish.Errorln(sess, "workbench: WARNING: this server is --open: any SSH key gets in")
	}
	opts, err := s.sessionOptions(sess.Command())
	if err != nil {
		wish.Fatalln(sess, "workbench: "+err.Error())
		return
	}
	b, err := s.cfg.NewBackend(opts)
	if err != nil {
		wish.Fatalln(sess, "workbench: "+err.Error())
		return
	}
	pty, winch, _ := sess.Pty()
	ctx, cancel := context.WithCancel(sess.Context())
	defer cancel()
	se := &session{srv: s, id: id, backend: b, inbox: make(chan tea.Msg, 1024)}
	se.input.Store(time.Now().UnixNano())
	sb := &sessionBackend{Backend: b, srv: s, s: se}
	noColor := false
	for _, e := range sess.Environ() {
		if v, ok := strings.CutPrefix(e, "NO_COLOR="); ok && v != "" {
			noColor = true
		}
	}
	w, h := cmpOr(pty.Window.Width, 80), cmpOr(pty.Window.Height, 24)
	root, closeRuns := tui.Host(ctx, sb, tui.Options{Start: opts.Start, Left: opts.Left, Right: opts.Right,
		NoColor: noColor, Width: w, Height: max(1, h-1)})
	m := newModel(ctx, se, root, w, h, noColor)
	popts := append(bm.MakeOptions(sess), tea.WithContext(ctx), tea.WithFPS(sessionFPS),
		tea.WithInput(&eofReader{r: sess, onEOF: cancel}))
	p := tea.NewProgram(m, popts...)
	s.class.join(se)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case win, ok := <-winch:
				if !ok {
					return
				}
				p.Send(tea.WindowSizeMsg{Width: win.Width, Height: win.Height})
			}
		}
	}()
	go s.idle(ctx, se, cancel)
	start := time.Now()
	_, err = p.Run()
	cancel()
	s.class.leave(se)
	closeRuns()
	why := "quit"
	switch {
	case sess.Context().Err() != nil:
		why = "disconnected"
	case err != nil && !errors.Is(err, tea.ErrProgramKilled) && !errors.Is(err, context.Canceled):
		why = err.Error()
	}
	s.logf("session end", "key", id.Fingerprint, "who", id.Name, "addr", addr, "seconds", fmt.Sprintf("%.0f", time.Since(start).Seconds()), "why", why)
}

// sessionFPS caps each session's renderer. Bubbletea's default 60 frames
// a second wakes every idle session 60 times a second for nothing: the
// screens change once a second while a run goes (common.TickInterval) and
// on keys, for which 50 ms is still immediate. BenchmarkServeOverhead
// measures what a session costs.
const sessionFPS = 20

// idle ends the session after IdleTimeout without a key press.
func (s *Server) idle(ctx context.Context, se *session, cancel context.CancelFunc) {
	t := time.NewTicker(min(s.cfg.IdleTimeout/4, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if time.Since(time.Unix(0, se.input.Load())) > s.cfg.IdleTimeout {
				s.logf("session idle", "key", se.id.Fingerprint, "who", se.id.Name, "after", s.cfg.IdleTimeout.String())
				cancel()
				return
			}
		}
	}
}

func (s *Server) enter(id identity) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perKey[id.Fingerprint] >= s.cfg.MaxConnsPerKey {
		return false
	}
	s.perKey[id.Fingerprint]++
	return true
}

func (s *Server) leave(id identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perKey[id.Fingerprint]--
}

// eofReader ends the session when the client's input ends: a channel
// closed without closing the connection must still cancel its runs.
type eofReader struct {
	r     io.Reader
	onEOF func()
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.onEOF()
	}
	return n, err
}
