package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"workbench/vision"
)

// TestTUIInTmux runs the real binary in a real terminal: tmux at 160×48
// opens the TUI on the slow vs optimized race with the tiny model on a few
// dozen synthetic images, and the captured screen must show both panes
// finished with a non-zero throughput. It skips when tmux is missing
// (apt-get install tmux) and in -short mode. The deadline only bounds a
// hung run; nothing is asserted about speed.
func TestTUIInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the tmux smoke test builds and runs the binary")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed (apt-get install tmux); skipping the real-terminal test")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	dir := t.TempDir()
	bin := smokeBinary(t, goTool, dir)
	data := filepath.Join(dir, "synth")
	if _, err := vision.Synthesize(data, 32, 7); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "tmux.sock") // a private server: never touch the user's
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	cmd := strings.Join([]string{bin, "--race", "--model", "tiny", "--data", data, "--images", "32"}, " ")
	if out, err := tm("new-session", "-d", "-s", "smoke", "-x", "160", "-y", "48", "-e", "TERM=xterm-256color", cmd+"; sleep 60"); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	defer tm("kill-server")

	deadline := time.Now().Add(3 * time.Minute)
	screen := raceFinished(t, tm, "smoke", deadline)
	for _, want := range []string{"A slow", "B optimized", "operator"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	// q quits cleanly and gives the terminal back.
	if _, err := tm("send-keys", "-t", "smoke", "q"); err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(deadline) {
		screen, _ = tm("capture-pane", "-p", "-t", "smoke")
		if !strings.Contains(screen, "workbench  race") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("q did not leave the TUI; screen:\n%s", screen)
}

// smokeBinary is the workbench binary for a real-terminal test: the one
// make tui-smoke passes in WORKBENCH_BIN, or one built into dir.
func smokeBinary(t *testing.T, goTool, dir string) string {
	t.Helper()
	bin := os.Getenv("WORKBENCH_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "workbench")
		build := exec.Command(goTool, "build", "-ldflags=-extldflags=-Wl,-z,lazy", "-o", bin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	return bin
}

// raceFinished captures tmux pane target until it shows both race panes
// finished, or deadline, and fails unless both show a throughput above
// zero; it returns the last screen.
func raceFinished(t *testing.T, tm func(...string) (string, error), target string, deadline time.Time) string {
	t.Helper()
	result := regexp.MustCompile(`result ([0-9.]+)(k?) img/s`)
	var screen string
	for time.Now().Before(deadline) {
		screen, _ = tm("capture-pane", "-p", "-t", target)
		if len(result.FindAllString(screen, -1)) >= 2 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("captured screen:\n%s", screen)
	ms := result.FindAllStringSubmatch(screen, -1)
	if len(ms) < 2 {
		t.Fatalf("the screen does not show two finished panes")
	}
	for i, m := range ms[:2] {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil || v <= 0 {
			t.Errorf("pane %d shows throughput %q, want > 0", i, m[0])
		}
	}
	return screen
}
