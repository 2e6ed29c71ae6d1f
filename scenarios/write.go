package scenarios

import (
	"fmt"
	"strings"
)

// Derived is a scenario file that extends another with some knobs set: the
// one writer behind `workbench tune --yaml` and the TUI's "save scenario",
// so both write files the library reads back the same way.
type Derived struct {
	// Comments go first, one "# " line each: provenance and evidence.
	Comments []string
	Extends  string
	Title    string
	// Covers, Mistake, Why and Fix are the teaching texts; empty ones are
	// left out.
	Covers, Mistake, Why, Fix string
	// ExpectUp names metrics the derived scenario should raise.
	ExpectUp []string
	// Knobs are set in this order, values as a file writes them.
	Knobs [][2]string
}

// YAML renders d and checks that it parses back as a scenario; a file that
// would not load is an error here, not a surprise later.
func (d Derived) YAML(name string) ([]byte, error) {
	var b strings.Builder
	for _, c := range d.Comments {
		fmt.Fprintf(&b, "# %s\n", c)
	}
	fmt.Fprintf(&b, "extends: %s\n", d.Extends)
	if d.Title != "" {
		fmt.Fprintf(&b, "title: %q\n", d.Title)
	}
	for _, f := range []struct{ key, text string }{{"covers", d.Covers}, {"mistake", d.Mistake}, {"why", d.Why}, {"fix", d.Fix}} {
		if f.text == "" {
			continue
		}
		fmt.Fprintf(&b, "%s: |\n", f.key)
		for _, l := range strings.Split(strings.TrimRight(f.text, "\n"), "\n") {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	if len(d.ExpectUp) > 0 {
		b.WriteString("expect:\n")
		for _, m := range d.ExpectUp {
			fmt.Fprintf(&b, "  - metric: %s\n    direction: up\n", m)
		}
	}
	for _, kv := range d.Knobs {
		fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
	}
	out := []byte(b.String())
	s, err := Parse(name, out)
	if err != nil {
		return nil, err
	}
	if errs := s.Validate(); len(errs) > 0 {
		return nil, Errors(errs)
	}
	return out, nil
}

// LessonStep is one step of the workshop: a scenario with the fixes so far
// applied as knob settings.
type LessonStep struct {
	Title, Mistake, Explain string
	Scenario, Label         string
	Set                     [][2]string
}

// Lesson walks from slow to fast, fixing one mistake per step: each
// built-in mistake scenario is fast with one knob flipped, so where slow
// has that mistake's value the step sets the knob to fast's, keeping every
// fix before it. A last step runs fast itself when slow differs in a way
// no single mistake covers.
func (l *Library) Lesson(slowName, fastName string) ([]LessonStep, error) {
	slow, err := l.Load(slowName)
	if err != nil {
		return nil, err
	}
	fast, err := l.Load(fastName)
	if err != nil {
		return nil, err
	}
	steps := []LessonStep{{Title: "The slow pipeline", Mistake: slow.Mistake, Explain: slow.Why, Scenario: slow.Name, Label: "slow"}}
	var set [][2]string
	fixed := map[string]bool{}
	for _, n := range l.Mistakes() {
		m, err := l.Load(n)
		if err != nil {
			continue
		}
		for _, knob := range KnobNames() {
			mv, fv, sv := m.Knobs.Format(knob), fast.Knobs.Format(knob), slow.Knobs.Format(knob)
			if mv == fv || sv == fv || fixed[knob] {
				continue
			}
			fixed[knob] = true
			set = append(set, [2]string{knob, fv})
			steps = append(steps, LessonStep{
				Title: m.Title, Mistake: m.Mistake, Explain: m.Why + " Fix: " + m.Fix,
				Scenario: slow.Name, Label: "fix " + n, Set: append([][2]string(nil), set...),
			})
		}
	}
	for _, knob := range KnobNames() {
		if !fixed[knob] && slow.Knobs.Format(knob) != fast.Knobs.Format(knob) {
			steps = append(steps, LessonStep{Title: "Everything else: " + fast.Title, Mistake: "the remaining differences from " + fast.Name,
				Explain: fast.Why, Scenario: fast.Name, Label: fast.Name})
			break
		}
	}
	return steps, nil
}
