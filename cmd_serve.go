package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"workbench/nvml"
	"workbench/serve"
	"workbench/tui/backend"
)

const serveUsage = `--ssh ADDR --authorized-keys FILE [--instructors FILE] [flags]

Serve the workbench TUI over SSH to a class: participants type
ssh -p 2222 HOST and get their own session on this machine's data, models
and GPUs, with nothing to install. Runs wait in one queue, at most
--max-concurrent-runs at once, so every measurement stays honest; keys in
--instructors can broadcast their screen (B), release runs (R) and write
the workshop report (e). See docs: "Running a workshop".

Participants may add session flags after the host (ssh -t -p 2222 HOST
--model resnet50 --data data/flowers); paths must lie inside the folders
given here. Nothing else runs: no shell, no commands, no forwarding, no SFTP.`

const serveExamples = `  workbench serve --ssh :2222 --authorized-keys class.keys --instructors me.keys --data data/synth --model resnet18
  workbench serve --ssh :2222 --open --model tiny --images 64`

func serveCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("serve", serveUsage, serveExamples, stderr)
	var f jobFlags
	f.register(fs)
	var cfg serve.Config
	fs.StringVar(&cfg.Addr, "ssh", ":2222", "address to serve SSH on")
	fs.StringVar(&cfg.AuthorizedKeys, "authorized-keys", "", "authorized_keys FILE of the participants' public keys")
	fs.StringVar(&cfg.Instructors, "instructors", "", "authorized_keys FILE of the instructors' keys (broadcast, release, report)")
	fs.BoolVar(&cfg.Open, "open", false, "let any SSH key in (a closed classroom network only; warns on every connection)")
	fs.IntVar(&cfg.MaxConcurrentRuns, "max-concurrent-runs", 0, "pipelines at once (default one per GPU, one on a CPU-only host)")
	fs.IntVar(&cfg.MaxConns, "max-conns", 64, "connections in total")
	fs.IntVar(&cfg.MaxConnsPerKey, "max-conns-per-key", 2, "sessions per key")
	fs.IntVar(&cfg.MaxQueuedPerKey, "max-queued-per-key", 1, "runs one key may have waiting")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 30*time.Minute, "end a session after this long without a key press")
	fs.StringVar(&cfg.ReportsDir, "reports", "reports", "folder for reports, the workshop report included")
	left := fs.String("left", "slow", "the default race's left scenario, and the workshop's baseline")
	right := fs.String("right", "optimized", "the default race's right scenario")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("serve: unexpected argument %q (see workbench serve --help)", fs.Arg(0))
	}
	if _, ok := f.explicit()["model"]; !ok {
		f.modelName = tuiModel
	}
	if err := f.validate(); err != nil {
		return err
	}
	if err := f.checkData(); err != nil {
		return err
	}
	if cfg.MaxConcurrentRuns <= 0 {
		cfg.MaxConcurrentRuns = max(1, len(nvml.Probe().GPUs))
	}
	cfg.Log, cfg.Baseline = stderr, *left
	cfg.Defaults = serve.SessionOptions{Data: f.data, Model: f.modelName, Images: f.images, Left: *left, Right: *right}
	cfg.NewBackend = func(o serve.SessionOptions) (backend.Backend, error) {
		g := f
		g.data, g.modelName, g.images = o.Data, o.Model, o.Images
		return newTUIBackend(&g, o.Left, o.Right)
	}
	srv, err := serve.New(cfg)
	if err != nil {
		return usageErr("serve: %v", err)
	}
	fmt.Fprintf(stdout, "workbench serve: participants type  ssh -p PORT HOST  (listening on %s, %d run(s) at once)\n", cfg.Addr, cfg.MaxConcurrentRuns)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return ctx.Err()
	}
}

func init() {
	register(command{name: "serve", order: 6, summary: "serve the TUI over SSH to a workshop (queue, instructor mode)", run: serveCmd})
}
