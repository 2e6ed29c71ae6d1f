package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	mango "github.com/muesli/mango-cobra"
	"github.com/muesli/roff"
	"github.com/spf13/cobra"

	"workbench/model"
	"workbench/nvml"
	"workbench/runner"
	"workbench/scenarios"
)

// Shell completion (cobra's __complete, behind `workbench completion
// bash|zsh|fish`): the values a user would otherwise look up in
// `scenarios list`, `model list` and `scenarios knobs`.

// flagCompletions completes a flag's value by the flag's name; the knob
// flags are added from the knob table. A flag means the same in every
// command, so one table serves them all.
var flagCompletions = map[string]cobra.CompletionFunc{
	"scenario": completeScenarios,
	"left":     completeScenarios,
	"right":    completeScenarios,
	"model":    completeModels,
	"set":      completeSet,
	"only":     completeMistakes,
	"data":     completeDirs,
	"search":   cobra.FixedCompletions([]string{"full", "quick"}, cobra.ShellCompDirectiveNoFileComp),
}

// registerCompletions attaches the value completions to cmd's flags:
// flagCompletions by name, then each knob flag with words to offer.
func registerCompletions(cmd *cobra.Command, knobs []scenarios.KnobFlag) {
	fns := maps.Clone(flagCompletions)
	for _, kf := range knobs {
		if _, own := fns[kf.Flag]; !own && len(kf.Values) > 0 {
			fns[kf.Flag] = knobValues(kf.Knob, "")
		}
	}
	for name, fn := range fns {
		if cmd.Flags().Lookup(name) == nil {
			continue
		}
		// Only fails for an unknown or already registered flag.
		if err := cmd.RegisterFlagCompletionFunc(name, fn); err != nil {
			panic(err)
		}
	}
}

// completeScenarios completes built-in scenario names and the *.yaml
// files of the working folder, for every positional argument.
func completeScenarios(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	lib := runner.Library()
	for _, n := range lib.Names() {
		title := ""
		if s, ok := lib.Get(n); ok {
			title = s.Title
		}
		out = append(out, cobra.CompletionWithDesc(n, title))
	}
	out = append(out, filesWithExt(".yaml", ".yml")...)
	return out, cobra.ShellCompDirectiveNoFileComp
}

// upTo completes the first n positional arguments with fn, and nothing
// after them.
func upTo(n int, fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(cmd, args, toComplete)
	}
}

// completeModels completes zoo model names and the *.onnx files of the
// working folder.
func completeModels(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return append(zooModels(), filesWithExt(".onnx")...), cobra.ShellCompDirectiveNoFileComp
}

// completeZooModels completes zoo model names (model export's argument).
func completeZooModels(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return zooModels(), cobra.ShellCompDirectiveNoFileComp
}

func zooModels() []cobra.Completion {
	var out []cobra.Completion
	for _, z := range model.Zoo() {
		out = append(out, cobra.CompletionWithDesc(z.Name, fmt.Sprintf("%.3g GFLOPs/image, input %s", z.GFLOPs(), z.InputShape)))
	}
	return out
}

// completeSet completes --set: the knob names, each followed by "=" and
// no space; after "knob=", that knob's values.
func completeSet(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if knob, _, ok := strings.Cut(toComplete, "="); ok {
		return knobValues(knob, knob+"=")(nil, nil, toComplete)
	}
	var out []cobra.Completion
	for _, k := range scenarios.KnobList() {
		out = append(out, cobra.CompletionWithDesc(k.Name+"=", k.Help))
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// knobValues completes a knob's words (enum values, true/false, auto...)
// behind prefix; the device knob adds cuda:N for each GPU NVML sees.
func knobValues(knob, prefix string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var vals []string
		for _, kf := range scenarios.KnobFlags() {
			if kf.Knob == knob {
				vals = kf.Values
			}
		}
		if knob == "device" {
			for i := range nvml.Probe().GPUs {
				vals = append(vals, fmt.Sprintf("cuda:%d", i))
			}
		}
		out := make([]cobra.Completion, len(vals))
		for i, v := range vals {
			out[i] = prefix + v
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeMistakes completes ablate --only: the single-mistake scenarios,
// after any already typed before a comma.
func completeMistakes(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	done := ""
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done = toComplete[:i+1]
	}
	var out []cobra.Completion
	for _, n := range runner.Library().Mistakes() {
		if !slices.Contains(strings.Split(done, ","), n) {
			out = append(out, done+n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

func completeDirs(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// filesWithExt lists the working folder's files with one of exts.
func filesWithExt(exts ...string) []cobra.Completion {
	ents, _ := os.ReadDir(".")
	var out []cobra.Completion
	for _, e := range ents {
		if !e.IsDir() && slices.Contains(exts, strings.ToLower(filepath.Ext(e.Name()))) {
			out = append(out, e.Name())
		}
	}
	return out
}

// manCommand is `workbench man`: the man page, from the command tree.
func manCommand() *cobra.Command {
	return &cobra.Command{
		Use: "man", Short: "print the man page (roff): workbench man > workbench.1", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			page, err := mango.NewManPage(1, cmd.Root())
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), page.Build(roff.NewDocument()))
			return err
		},
	}
}
