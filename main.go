// Command workbench makes ML batch inference fast and shows why. It runs an
// image-classification pipeline (JPEG files → decode/resize/normalize → ONNX
// model → Parquet) with a Ray Data-style streaming engine, and measures it.
//
// main wires subcommands to packages; each subcommand lives in its own
// cmd_*.go file with its flag set, usage text and examples, and every error
// travels up to one place here. The command tree is cobra's, styled by
// charm's fang (help, completions, man page, --version); each command still
// declares its flags on a standard library flag set (see cli.go).
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/charmbracelet/fang"
	"github.com/spf13/cobra"

	"workbench/bench"
	"workbench/model"
	"workbench/runner"
	"workbench/scenarios"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(exitCode(os.Stderr, err))
}

// exitCode prints err once and maps it to the documented exit codes.
func exitCode(stderr io.Writer, err error) int {
	var shown *shownError
	if errors.As(err, &shown) {
		code, _ := exitStatus(shown.err)
		return code
	}
	code, msg := exitStatus(err)
	if msg != "" {
		fmt.Fprintf(stderr, "workbench: %s\n", msg)
	}
	return code
}

// exitStatus is err's exit code and the message that says why.
func exitStatus(err error) (code int, msg string) {
	if err == nil {
		return 0, ""
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			msg = ee.err.Error()
		}
		return ee.code, msg
	}
	var ce *runner.ConfigError
	var de *runner.DataError
	if errors.As(err, &ce) || errors.As(err, &de) {
		// The user's inputs, rejected before anything ran: exit 2.
		return 2, err.Error()
	}
	if errors.Is(err, context.Canceled) {
		msg = "interrupted; no partial output was left behind"
		if re := (*runner.ResumeError)(nil); errors.As(err, &re) {
			msg += "; " + re.Hint()
		}
		return 130, msg
	}
	return 1, err.Error()
}

// shownError is an error already printed, styled, to a terminal.
type shownError struct{ err error }

func (e *shownError) Error() string { return e.err.Error() }
func (e *shownError) Unwrap() error { return e.err }

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
// init function, so adding a command touches no other file. A name of two
// words ("data synth") is a subcommand of the first; a command whose run is
// nil only groups its subcommands.
type command struct {
	name    string
	summary string
	order   int // position in the help listing
	run     func(ctx context.Context, stdout, stderr io.Writer, args []string) error
	// args completes the positional arguments (nil: files).
	args cobra.CompletionFunc
}

var registry []command

func register(c command) { registry = append(registry, c) }

func commands() []command {
	out := slices.Clone(registry)
	// Top-level commands by order, then subcommands in registration order.
	slices.SortStableFunc(out, func(a, b command) int {
		return cmp.Or(cmp.Compare(strings.Count(a.name, " "), strings.Count(b.name, " ")), a.order-b.order)
	})
	return out
}

// run is the whole CLI, testable without a process.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if startsTUI(args) {
		args = append([]string{"tui"}, args...)
	}
	if len(args) > 0 && args[0] == "help" {
		// cobra's help command, under the spelling every command knows.
		args = append(args[1:], "--help")
	}
	root, started, err := newRoot(args, stdout, stderr)
	if err != nil {
		return err
	}
	root.SetArgs(args)
	// On a terminal the error is printed styled here; elsewhere exitCode
	// prints it as one plain line, for logs and CI.
	tty := isTerminal(stderr)
	err = fang.Execute(ctx, root, fang.WithoutManpage(), fang.WithVersion(bench.Build().Version),
		fang.WithErrorHandler(func(w io.Writer, st fang.Styles, err error) {
			if _, msg := exitStatus(err); tty && msg != "" {
				fmt.Fprintf(w, "%s\n%s\n\n", st.ErrorHeader, st.ErrorText.Render(msg))
			}
		}))
	if err != nil && !*started {
		// cobra refused the line before any command began: an unknown
		// command or flag, or a bad flag value.
		var ee *exitError
		if !errors.As(err, &ee) {
			err = usageErr("%v", err)
		}
	}
	if err != nil && tty {
		return &shownError{err}
	}
	return err
}

// newRoot builds the command tree for one invocation: every registered
// command is declared (cli.go) so its flags, usage and examples reach
// cobra's help, completions and man page. args is the whole command line;
// each command's body parses its own part of it. started reports whether a
// command body began.
func newRoot(args []string, stdout, stderr io.Writer) (root *cobra.Command, started *bool, err error) {
	started = new(bool)
	root = &cobra.Command{
		Use:   "workbench",
		Short: "make ML batch inference fast, and show why",
		Long: "workbench: make ML batch inference fast, and show why.\n\n" +
			"With no command (or only flags) it opens the interactive workbench on a terminal.",
		Example: "  workbench\n  workbench run --data data/synth --model resnet50\n  workbench race slow optimized --model tiny",
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{workbenchVersion}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%s: %v (see %s --help)", c.Name(), err, c.CommandPath())
	})
	cmds := map[string]*cobra.Command{"": root}
	knobs := scenarios.KnobFlags()
	for _, c := range commands() {
		parentName, name, nested := strings.Cut(c.name, " ")
		if !nested {
			parentName, name = "", c.name
		}
		parent := cmds[parentName]
		if parent == nil {
			return nil, nil, fmt.Errorf("command %q: register %q first", c.name, parentName)
		}
		cc := &cobra.Command{Use: name, Short: c.summary, Args: cobra.ArbitraryArgs, RunE: groupRun}
		if c.run != nil {
			d, err := declare(c)
			if err != nil {
				return nil, nil, err
			}
			use, long := synopsis(name, d.usage)
			cc.Use, cc.Long, cc.Example = use, long, strings.TrimRight(d.examples, "\n")
			cc.Flags().AddFlagSet(pflagSet(d.fs))
			cc.ValidArgsFunction = c.args
			run := c.run
			cc.RunE = func(cmd *cobra.Command, _ []string) error {
				*started = true
				_, rest, _ := cmd.Root().Find(args)
				return run(cmd.Context(), stdout, stderr, rest)
			}
			registerCompletions(cc, knobs)
		}
		parent.AddCommand(cc)
		cmds[c.name] = cc
	}
	root.AddCommand(manCommand(), versionCommand(stdout))
	return root, started, nil
}

// groupRun runs a command that only groups subcommands (data, model,
// bench, export): its help, or a usage error for a word that is none of
// them.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return cmd.Help()
}

// synopsis splits a usage text that starts with its own synopsis line
// ("race A B [flags]", "[--workshop] [flags]") into cobra's Use and Long.
func synopsis(name, usage string) (use, long string) {
	first, rest, ok := strings.Cut(usage, "\n\n")
	if !ok || strings.Contains(first, "\n") || strings.HasSuffix(first, ".") {
		return name, usage
	}
	first = strings.TrimSpace(strings.TrimSuffix(first, "[flags]"))
	first = strings.TrimSpace(strings.TrimPrefix(first+" ", name+" "))
	return strings.TrimSpace(name + " " + first), rest
}

func init() {
	cobra.AddTemplateFunc("workbenchVersion", versionLine)
}

// versionCommand is `workbench version`, the same line as --version.
func versionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "print the version: build, revision, Go and ONNX Runtime", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(stdout, versionLine())
			return err
		}}
}

// printUsage writes the top-level help: what the TUI prints when there is
// no terminal.
func printUsage(w io.Writer) {
	root, _, err := newRoot(nil, w, w)
	if err != nil {
		fmt.Fprintln(w, err)
		return
	}
	root.SetArgs([]string{"--help"})
	fang.Execute(context.Background(), root, fang.WithoutManpage())
}

// versionLine is how every output prints this build: the build
// information's version, revision and Go version, and ONNX Runtime's
// version when it is loaded.
func versionLine() string {
	ort := model.Version()
	if ort == "" {
		// Load it to say which one runs; without it, say so.
		if _, err := model.InitFromFlag(""); err != nil {
			return "workbench " + bench.Build().String() + ", ONNX Runtime not found (make setup)"
		}
		ort = model.Version()
	}
	return "workbench " + bench.Build().WithORT(ort)
}
