// Command workbench makes ML batch inference fast and shows why. It runs an
// image-classification pipeline (JPEG files → decode/resize/normalize → ONNX
// model → Parquet) with a Ray Data-style streaming engine, and measures it.
//
// main wires subcommands to packages; each subcommand lives in its own
// cmd_*.go file with its flag set, usage text and examples, and every error
// travels up to one place here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"workbench/bench"
	"workbench/model"
	"workbench/runner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(exitCode(os.Stderr, err))
}

// exitCode prints err once and maps it to the documented exit codes.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "workbench: %v\n", ee.err)
		}
		return ee.code
	}
	var ce *runner.ConfigError
	var de *runner.DataError
	if errors.As(err, &ce) || errors.As(err, &de) {
		// The user's inputs, rejected before anything ran: exit 2.
		fmt.Fprintf(stderr, "workbench: %v\n", err)
		return 2
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprint(stderr, "workbench: interrupted; no partial output was left behind")
		if re := (*runner.ResumeError)(nil); errors.As(err, &re) {
			fmt.Fprint(stderr, "; ", re.Hint())
		}
		fmt.Fprintln(stderr)
		return 130
	}
	fmt.Fprintf(stderr, "workbench: %v\n", err)
	return 1
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr is a bad flag, argument or input path: exit code 2.
func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// command is one subcommand. Each cmd_*.go file registers its own in an
// init function, so adding a command touches no other file.
type command struct {
	name    string
	summary string
	order   int // position in the help listing
	run     func(ctx context.Context, stdout, stderr io.Writer, args []string) error
}

var registry []command

func register(c command) { registry = append(registry, c) }

func commands() []command {
	out := slices.Clone(registry)
	slices.SortStableFunc(out, func(a, b command) int { return a.order - b.order })
	return out
}

// run is the whole CLI, testable without a process.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if startsTUI(args) {
		return tuiCmd(ctx, stdout, stderr, args)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stdout)
		return nil
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(stdout, versionLine())
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, stdout, stderr, args[1:])
		}
	}
	printUsage(stderr)
	return usageErr("unknown command %q: see the list above", args[0])
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "workbench: make ML batch inference fast, and show why.\n\nUsage:\n  workbench COMMAND [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'workbench COMMAND --help' for a command's flags and examples.\n")
}

// versionLine is how every output prints this build: the build
// information's version, revision and Go version, and ONNX Runtime's
// version when it is loaded.
func versionLine() string {
	return "workbench " + bench.Build().WithORT(model.Version())
}
