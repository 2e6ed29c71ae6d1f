package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"workbench/scenarios"
)

const scenariosUsage = `List the built-in scenarios, or show one: its teaching text (the mistake,
why it hurts, the fix, which metric should move) and its resolved
configuration. Run one with 'workbench run --scenario NAME', race two with
'workbench race', or measure every mistake with 'workbench ablate'.

  workbench scenarios list
  workbench scenarios show NAME|FILE.yaml
  workbench scenarios knobs`

const scenariosExamples = `  workbench scenarios list
  workbench scenarios show optimized
  workbench scenarios show my-variant.yaml
  workbench scenarios knobs`

// scenariosListCmd is `scenarios list`, and `scenarios` alone.
func scenariosListCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("scenarios", scenariosUsage, scenariosExamples, stderr)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("scenarios: want 'list', 'knobs' or 'show NAME', not %q (see workbench scenarios --help)", fs.Arg(0))
	}
	writeScenarioList(stdout, scenarios.Builtin())
	return nil
}

func scenariosKnobsCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("scenarios knobs", scenariosUsage, scenariosExamples, stderr)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("scenarios knobs: unexpected argument %q", fs.Arg(0))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	d := scenarios.DefaultKnobs()
	fmt.Fprintln(tw, "KNOB\tDEFAULT\tMEANING")
	for _, k := range scenarios.KnobList() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, d.Format(k.Name), k.Help)
	}
	return tw.Flush()
}

func scenariosShowCmd(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := newFlagSet("scenarios show", scenariosUsage, scenariosExamples, stderr)
	pos, help, err := parseWithArgs(fs, args)
	if help || err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("scenarios show: want one NAME or FILE.yaml (see workbench scenarios list)")
	}
	s, err := scenarios.Builtin().Load(pos[0])
	if err != nil {
		return usageErr("scenarios show: %v", err)
	}
	if errs := s.Validate(); len(errs) > 0 {
		return &exitError{code: 2, err: scenarios.Errors(errs)}
	}
	writeScenario(stdout, s)
	return nil
}

// writeScenarioList prints one line per scenario: name, title, what it
// covers.
func writeScenarioList(w io.Writer, lib *scenarios.Library) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTITLE\tCHANGES")
	for _, n := range lib.Names() {
		s, _ := lib.Get(n)
		changes := "(the baseline)"
		if s.Extends != "" {
			var parts []string
			for _, k := range s.Knobs.SetKnobs() {
				parts = append(parts, k+"="+s.Knobs.Format(k))
			}
			changes = strings.Join(parts, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n, s.Title, changes)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nShow one with: workbench scenarios show NAME")
}

// writeScenario prints a resolved scenario's teaching text and its whole
// configuration, marking the knobs it sets itself.
func writeScenario(w io.Writer, s *scenarios.Scenario) {
	fmt.Fprintf(w, "%s: %s\n", s.Name, s.Title)
	if s.Extends != "" {
		fmt.Fprintf(w, "  extends %s\n", s.Extends)
	}
	fmt.Fprintf(w, "  covers  %s\n", s.Covers)
	section := func(title, body string) {
		fmt.Fprintf(w, "\n%s\n", title)
		for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	section("Mistake", s.Mistake)
	section("Why it hurts", s.Why)
	section("Fix", s.Fix)
	fmt.Fprintf(w, "\nExpect (compared with %s)\n", orDefault(s.Extends, "the other scenarios"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range s.Expect {
		m, _ := scenarios.Metric(e.Metric)
		fmt.Fprintf(tw, "  %s\t%s\n", e, m.Doc)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nConfiguration (resolved; * = set by this scenario)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range scenarios.KnobNames() {
		mark := ""
		if s.Extends != "" && s.Knobs.IsSet(k) {
			mark = " *"
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", k, s.Knobs.Format(k), mark)
	}
	tw.Flush()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func init() {
	register(command{name: "scenarios", order: 40, summary: "list and explain the tutorial's mistakes as runnable scenarios", run: scenariosListCmd})
	register(command{name: "scenarios list", summary: "one line per built-in scenario: name, title, what it changes", run: scenariosListCmd})
	register(command{name: "scenarios show", summary: "a scenario's teaching text and resolved configuration", run: scenariosShowCmd, args: upTo(1, completeScenarios)})
	register(command{name: "scenarios knobs", summary: "every knob with its default and meaning", run: scenariosKnobsCmd})
}
