package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeDisconnectMidRunLeavesNoOutput runs `workbench serve` with the
// real run path and the tiny model, starts the slow vs optimized race over
// a real SSH connection, and drops the connection while the first run is
// in progress: the run must be cancelled and leave nothing in the temporary
// folder or the reports folder.
func TestServeDisconnectMidRunLeavesNoOutput(t *testing.T) {
	data := synthData(t, 120, nil)
	tmp, reports := t.TempDir(), filepath.Join(t.TempDir(), "reports")
	t.Setenv("TMPDIR", tmp)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := gossh.NewSignerFromKey(priv)
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuf
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, &stdout, &stderr, []string{"serve", "--ssh", addr, "--authorized-keys", keys, "--data", data,
			"--model", "tiny", "--reports", reports, "--sample-hz", "4"})
	}()
	defer func() {
		cancel()
		<-done
	}()
	var cl *gossh.Client
	var err error
	for range 100 {
		cl, err = gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "p", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey()})
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, stderr.String())
	}
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var screen syncBuf
	sess.Stdout = &screen
	// An open keyboard: a nil Stdin would send EOF at once, which ends
	// the session as a closed terminal does.
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := sess.RequestPty("xterm-256color", 40, 120, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("--race"); err != nil {
		t.Fatal(err)
	}
	// In progress: the run has made its temporary folder and started.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && !strings.Contains(stderr.String(), "run start") {
		time.Sleep(20 * time.Millisecond)
	}
	running := func() bool {
		m, _ := filepath.Glob(filepath.Join(tmp, "workbench-run-*"))
		return len(m) > 0
	}
	for time.Now().Before(deadline) && !running() {
		time.Sleep(5 * time.Millisecond)
	}
	if !running() {
		t.Fatalf("the run never started:\n%s", stderr.String())
	}
	cl.Close()
	for time.Now().Before(deadline) && !strings.Contains(stderr.String(), "run end") {
		time.Sleep(20 * time.Millisecond)
	}
	log := stderr.String()
	if !regexp.MustCompile(`run end.*error="?context canceled`).MatchString(log) {
		t.Errorf("the run was not cancelled by the disconnect:\n%s", log)
	}
	for time.Now().Before(deadline) && !strings.Contains(stderr.String(), "session end") {
		time.Sleep(20 * time.Millisecond)
	}
	// The run's folder (workbench-run-*, with its output and log) is gone,
	// and no output or report was written anywhere. (Other libraries in
	// the process may leave their own files in TMPDIR.)
	filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), "workbench-run-") || strings.HasPrefix(filepath.Ext(p), ".parquet") || strings.HasPrefix(filepath.Ext(p), ".json")) {
			t.Errorf("%s is left after the disconnect", p)
		}
		return nil
	})
	if ents, _ := os.ReadDir(reports); len(ents) != 0 {
		t.Errorf("%s holds %v after the disconnect, want nothing", reports, ents)
	}
}

// TestServeInTmux drives `workbench serve` with OpenSSH's own client in
// a real terminal: tmux runs ssh into the server, which opens the race on
// the tiny model, and the captured screen must show both sides finished.
// It skips when tmux, ssh or ssh-keygen is missing (apt-get install tmux
// openssh-client) and in -short mode.
func TestServeInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the serve smoke test builds and runs the binary")
	}
	var tools []string
	for _, n := range []string{"tmux", "ssh", "ssh-keygen", "go"} {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("%s is not installed (apt-get install tmux openssh-client); skipping the OpenSSH test", n)
		}
		tools = append(tools, p)
	}
	tmux, sshBin, keygen, goTool := tools[0], tools[1], tools[2], tools[3]
	dir := t.TempDir()
	bin := smokeBinary(t, goTool, dir)
	data := synthData(t, 32, nil)
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "smoke", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	var slog syncBuf
	srv := exec.Command(bin, "serve", "--ssh", addr, "--authorized-keys", key+".pub", "--data", data, "--model", "tiny",
		"--reports", filepath.Join(dir, "reports"))
	srv.Env = append(os.Environ(), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	srv.Stdout, srv.Stderr = &slog, &slog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		t.Logf("server log:\n%s", slog.String())
	}()
	for i := 0; i < 200 && !strings.Contains(slog.String(), "serving"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	cmd := strings.Join([]string{sshBin, "-tt", "-i", key, "-p", port, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", host, "--", "--race"}, " ")
	if out, err := tm("new-session", "-d", "-s", "serve", "-x", "160", "-y", "48", "-e", "TERM=xterm-256color", cmd+"; sleep 60"); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	defer tm("kill-server")
	deadline := time.Now().Add(3 * time.Minute)
	screen := raceFinished(t, tm, "serve", deadline)
	for _, want := range []string{"A slow", "B optimized", "serve smoke"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if _, err := tm("send-keys", "-t", "serve", "q"); err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(deadline) {
		if !strings.Contains(slog.String(), "session end") {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if !strings.Contains(slog.String(), "why=quit") {
			t.Errorf("the session did not end by q")
		}
		return
	}
	t.Errorf("q did not end the session")
}
