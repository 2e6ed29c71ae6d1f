package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed *.yaml
var builtinFS embed.FS

// Expectation names a metric the scenario should move and which way,
// compared with the scenario it extends.
type Expectation struct {
	Metric    string // a name from Metrics
	Direction string // up or down
}

// String renders the expectation as "model_loads ↑".
func (e Expectation) String() string {
	arrow := "↑"
	if e.Direction == "down" {
		arrow = "↓"
	}
	return e.Metric + " " + arrow
}

// Scenario is one scenario file: teaching text plus knob settings. A
// freshly loaded Scenario holds only what its file says; Resolve overlays
// it on its `extends` chain and the defaults.
type Scenario struct {
	Name    string // file name without .yaml
	Source  string // where it was read from
	Extends string
	// Kind is "mistake" (one knob flipped; the default for a scenario that
	// extends another), "combined" (several mistakes, like slow) or
	// "baseline" (extends nothing). Ablations run the mistakes.
	Kind    string
	Title   string
	Covers  string // which tutorial mistake or advice it covers
	Mistake string // what people write
	Why     string // the mechanism that makes it slow
	Fix     string
	Expect  []Expectation
	// Needs names what the scenario needs to mean anything: "" or
	// NeedsObjectStore. Unmet, it is skipped with MissingNeed's reason.
	Needs string
	// Data is the scenario's data (`data:`, any form --data takes), ""
	// when it names none. Resolved, it is the nearest file's in the
	// extends chain, then --set data= and a typed --data over it (Set),
	// as every knob.
	Data  string
	Knobs Knobs

	// Resolved is true once Knobs hold effective values for every knob.
	Resolved bool
	// Chain lists the scenarios it was resolved through, itself first.
	Chain []string

	problems []error // decode problems, reported by Validate
	src      []byte  // the file's text, to quote lines in problems
	extendsN *node   // where extends was written, to point at a bad one
}

// Config is what a scenario exposes to commands: validation and a
// one-paragraph summary, in the way k6 executor configs do.
type Config interface {
	Validate() []error
	Description() string
}

var _ Config = (*Scenario)(nil)

// metaKeys are the keys that are not knobs.
var metaKeys = []string{"extends", "kind", "title", "covers", "mistake", "why", "fix", "expect", "needs", DataKey}

// DataKey is the scenario key (and the --set name) for where the data is:
// not a knob, as it says what to read rather than how, but layered as one.
const DataKey = "data"

// Parse decodes a scenario file. It fails only when the text is not YAML
// or not a mapping; every other problem (unknown keys, out-of-range values,
// lists where one value belongs) is kept and returned together by
// Validate. Every error that has a place in the file is a *SourceError: its
// text starts "FILE:LINE: " and goes on with the source line and a caret.
func Parse(name string, data []byte) (*Scenario, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	s := &Scenario{Name: strings.TrimSuffix(path.Base(filepath.ToSlash(name)), ".yaml"), Source: name, src: data}
	if root == nil {
		return s, nil // empty file: all defaults
	}
	if root.kind != mappingNode {
		return nil, s.errorAt(root, "a scenario is a mapping of keys to values, not a %s", kindName(root.kind))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.items); i += 2 {
		kn, vn := root.items[i], root.items[i+1]
		key := kn.value
		if prev, dup := seen[key]; dup {
			s.problem(kn, "%s is set twice (first on line %d)", key, prev)
			continue
		}
		seen[key] = kn.line
		if slices.Contains(metaKeys, key) {
			s.decodeMeta(key, vn)
			continue
		}
		d := findKnob(key)
		if d == nil {
			s.problem(kn, "unknown key %q%s", key, suggest(key))
			continue
		}
		if err := d.parse(&s.Knobs, vn); err != nil {
			s.problem(vn, "%s: %v", key, err)
			continue
		}
		s.Knobs.mark(key)
	}
	return s, nil
}

// errorAt returns a *SourceError pointing at n in this scenario's file.
func (s *Scenario) errorAt(n *node, format string, args ...any) error {
	return newSourceError(s.Source, s.src, n.line, n.col, fmt.Sprintf(format, args...))
}

// problem records a decode problem at n for Validate.
func (s *Scenario) problem(n *node, format string, args ...any) {
	s.problems = append(s.problems, s.errorAt(n, format, args...))
}

func (s *Scenario) decodeMeta(key string, n *node) {
	if key == "expect" {
		s.decodeExpect(n)
		return
	}
	v, err := scalar(n)
	if err != nil {
		s.problem(n, "%s: %v", key, err)
		return
	}
	switch key {
	case "extends":
		s.Extends, s.extendsN = v, n
	case "kind":
		if v != "mistake" && v != "combined" && v != "baseline" {
			s.problem(n, "kind %q: want mistake, combined or baseline", v)
			return
		}
		s.Kind = v
	case "title":
		s.Title = v
	case "covers":
		s.Covers = v
	case "mistake":
		s.Mistake = v
	case "why":
		s.Why = v
	case "fix":
		s.Fix = v
	case DataKey:
		if v == "" {
			s.problem(n, "data: want where the images are (a folder, a glob, @list.txt, s3://… or gs://…)")
			return
		}
		s.Data = v
	case "needs":
		if v != NeedsObjectStore {
			s.problem(n, "needs %q: the only need is %s", v, NeedsObjectStore)
			return
		}
		s.Needs = v
	}
}

// decodeExpect reads a list of {metric, direction} mappings, or one.
func (s *Scenario) decodeExpect(n *node) {
	items := []*node{n}
	if n.kind == sequenceNode {
		items = n.items
	}
	for _, it := range items {
		if it.kind != mappingNode {
			s.problem(it, "expect: want {metric: NAME, direction: up|down}")
			continue
		}
		var e Expectation
		for i := 0; i+1 < len(it.items); i += 2 {
			k, v := it.items[i], it.items[i+1]
			switch k.value {
			case "metric":
				e.Metric = v.value
				if _, ok := metricDefs[e.Metric]; !ok {
					s.problem(v, "expect: unknown metric %q; want one of %s", e.Metric, strings.Join(MetricNames(), ", "))
				}
			case "direction":
				e.Direction = v.value
				if e.Direction != "up" && e.Direction != "down" {
					s.problem(v, "expect: direction %q: want up or down", e.Direction)
				}
			default:
				s.problem(k, "expect: unknown key %q (want metric and direction)", k.value)
			}
		}
		if e.Metric == "" || e.Direction == "" {
			s.problem(it, "expect: each entry needs both metric and direction")
			continue
		}
		s.Expect = append(s.Expect, e)
	}
}

// suggest proposes the closest known key for a misspelt one.
func suggest(key string) string {
	best, bestD := "", 4
	for _, k := range append(KnobNames(), metaKeys...) {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return " (see `workbench scenarios knobs` for the list)"
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Set gives knob key a value written as in a file: "2", "auto", "[1, 4]",
// "1-4", "true", "2GiB". It is how --set key=value and command-line
// overrides reach a scenario. Key DataKey sets the scenario's Data.
func (s *Scenario) Set(key, value string) error {
	if key == DataKey {
		if strings.TrimSpace(value) == "" {
			return fmt.Errorf("data=: want where the images are (a folder, a glob, @list.txt, s3://… or gs://…)")
		}
		s.Data = strings.TrimSpace(value)
		return nil
	}
	d := findKnob(key)
	if d == nil {
		return fmt.Errorf("unknown knob %q%s", key, suggest(key))
	}
	n, err := parseYAML(key, []byte(value))
	if err != nil || n == nil {
		// Not YAML on its own (e.g. "[1, 4"), or empty: take it as a
		// plain string, which the knob's parser then judges.
		n = &node{kind: scalarNode, value: value}
	}
	if err := d.parse(&s.Knobs, n); err != nil {
		return fmt.Errorf("%s=%s: %v", key, value, err)
	}
	s.Knobs.mark(key)
	return nil
}

// Validate returns every problem with the scenario at once: decode
// problems (unknown keys with their line, out-of-range values) and, once
// resolved, combinations that cannot work. Checks that need the machine
// (GPU count) are in CheckEnv.
func (s *Scenario) Validate() []error {
	errs := slices.Clone(s.problems)
	if !s.Resolved {
		return errs
	}
	k := &s.Knobs
	if k.Device == "cpu" && k.NumGPUs > 0 {
		errs = append(errs, fmt.Errorf("%s: num_gpus %g with device cpu: a CPU run holds no GPU; set num_gpus: 0 or device: cuda", s.Name, k.NumGPUs))
	}
	if k.Strict && !k.RowObjects {
		// Harmless but surely not meant: strict only judges row objects.
		errs = append(errs, fmt.Errorf("%s: strict: true has no effect without row_objects: true", s.Name))
	}
	return errs
}

// CheckEnv returns problems that depend on the machine: a GPU asked for
// where none exists, or more GPUs per actor than the machine has.
func (s *Scenario) CheckEnv(gpus int) []error {
	var errs []error
	k := &s.Knobs
	if strings.HasPrefix(k.Device, "cuda") && gpus == 0 {
		errs = append(errs, fmt.Errorf("%s: device cuda, but this machine has no visible GPU; use device: auto or cpu", s.Name))
	}
	if k.NumGPUs > float64(gpus) && k.NumGPUs != Auto {
		errs = append(errs, fmt.Errorf("%s: num_gpus %g is more than the %d GPU(s) this machine has; an actor asking for it could never start (lower num_gpus, e.g. 1)", s.Name, k.NumGPUs, gpus))
	}
	return errs
}

// Description is a one-paragraph summary: title, what it covers and the
// knobs it sets.
func (s *Scenario) Description() string {
	var b strings.Builder
	b.WriteString(s.Name)
	if s.Title != "" {
		b.WriteString(": " + s.Title)
	}
	if s.Extends != "" {
		fmt.Fprintf(&b, " (%s with %s)", s.Extends, s.setSummary())
	}
	if len(s.Expect) > 0 {
		var es []string
		for _, e := range s.Expect {
			es = append(es, e.String())
		}
		b.WriteString("; expect " + strings.Join(es, ", "))
	}
	return b.String()
}

// setSummary lists the knobs this file itself sets, "batch_size=2".
func (s *Scenario) setSummary() string {
	var parts []string
	if s.Data != "" {
		parts = append(parts, DataKey+"="+s.Data)
	}
	for _, name := range s.own() {
		parts = append(parts, name+"="+s.Knobs.Format(name))
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// own lists the knobs set by this scenario's own file (before resolution
// these are all set knobs; after it, they are kept in ownSet).
func (s *Scenario) own() []string {
	return s.Knobs.SetKnobs()
}

// kind returns Kind with its default filled in.
func (s *Scenario) kind() string {
	switch {
	case s.Kind != "":
		return s.Kind
	case s.Extends == "":
		return "baseline"
	}
	return "mistake"
}

// Library is a set of scenarios by name: the built-in files plus any the
// user loads.
type Library struct {
	byName map[string]*Scenario
	order  []string
}

// Builtin returns the scenarios embedded in the binary. It panics if one
// does not parse, which the package's tests rule out.
func Builtin() *Library {
	lib, err := LoadFS(builtinFS)
	if err != nil {
		panic(err)
	}
	return lib
}

// LoadFS reads every *.yaml file at the root of fsys.
func LoadFS(fsys fs.FS) (*Library, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	lib := &Library{byName: map[string]*Scenario{}}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		s, err := Parse(n, data)
		if err != nil {
			return nil, err
		}
		lib.Add(s)
	}
	return lib, nil
}

// Add puts s in the library, replacing one of the same name.
func (l *Library) Add(s *Scenario) {
	if _, ok := l.byName[s.Name]; !ok {
		l.order = append(l.order, s.Name)
	}
	l.byName[s.Name] = s
}

// Names lists the scenarios: optimized and slow first, then the rest
// alphabetically.
func (l *Library) Names() []string {
	out := slices.Clone(l.order)
	rank := func(n string) int {
		switch n {
		case "optimized":
			return 0
		case "slow":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return out
}

// Get returns the unresolved scenario called name.
func (l *Library) Get(name string) (*Scenario, bool) {
	s, ok := l.byName[name]
	return s, ok
}

// Mistakes lists the single-mistake scenarios: those extending optimized
// directly whose kind is mistake, in name order.
func (l *Library) Mistakes() []string {
	var out []string
	for _, n := range l.Names() {
		if s := l.byName[n]; s.Extends == "optimized" && s.kind() == "mistake" {
			out = append(out, n)
		}
	}
	return out
}

// Load finds a scenario by built-in name or as a path to a .yaml file, and
// resolves it. A file may extend a built-in scenario.
func (l *Library) Load(nameOrPath string) (*Scenario, error) {
	if s, ok := l.byName[nameOrPath]; ok {
		return l.Resolve(s)
	}
	if !strings.HasSuffix(nameOrPath, ".yaml") && !strings.HasSuffix(nameOrPath, ".yml") {
		return nil, fmt.Errorf("no scenario %q: want one of %s, or a path to a .yaml file", nameOrPath, strings.Join(l.Names(), ", "))
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, err
	}
	s, err := Parse(nameOrPath, data)
	if err != nil {
		return nil, err
	}
	return l.Resolve(s)
}

// Resolve returns a copy of s with its `extends` chain and the defaults
// applied, so every knob holds its effective value. Unresolvable chains
// (a missing parent, a cycle) are errors; problems inside the files are
// carried along for Validate.
func (l *Library) Resolve(s *Scenario) (*Scenario, error) {
	var chain []*Scenario
	seen := map[string]bool{}
	for cur := s; cur != nil; {
		if seen[cur.Name] {
			// Point at the extends that closes the loop.
			if last := chain[len(chain)-1]; last.extendsN != nil {
				return nil, last.errorAt(last.extendsN, "extends forms a cycle through %s (starting from %s)", cur.Name, s.Name)
			}
			return nil, fmt.Errorf("%s: extends forms a cycle through %s", s.Name, cur.Name)
		}
		seen[cur.Name] = true
		chain = append(chain, cur)
		if cur.Extends == "" {
			break
		}
		parent, ok := l.byName[cur.Extends]
		if !ok {
			msg := fmt.Sprintf("extends %q, which is not a scenario (want one of %s)", cur.Extends, strings.Join(l.Names(), ", "))
			if cur.extendsN == nil { // set in code, not read from a file
				return nil, fmt.Errorf("%s: %s", cur.Source, msg)
			}
			return nil, cur.errorAt(cur.extendsN, "%s", msg)
		}
		cur = parent
	}
	out := *s
	out.Knobs = DefaultKnobs()
	out.problems = nil
	out.Data = ""
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].Data != "" {
			out.Data = chain[i].Data
		}
		out.Knobs.overlay(&chain[i].Knobs)
		out.problems = append(out.problems, chain[i].problems...)
		out.Chain = append([]string{chain[i].Name}, out.Chain...)
	}
	// Keep only the child's own marks, so Description names its changes.
	own := s.Knobs.set
	out.Knobs.set = map[string]bool{}
	for k := range own {
		out.Knobs.set[k] = true
	}
	out.Resolved = true
	return &out, nil
}

// Errors joins Validate's problems into one error, nil when there are none.
func Errors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.Join(errs...)
}

// Equal reports whether two resolved scenarios set every knob alike.
func (k *Knobs) Equal(o *Knobs) bool {
	for _, d := range knobDefs {
		if d.format(k) != d.format(o) {
			return false
		}
	}
	return true
}

// Dump renders every knob as `name: value` lines, the resolved config.
func (k *Knobs) Dump() string {
	var b bytes.Buffer
	for _, d := range knobDefs {
		fmt.Fprintf(&b, "%s: %s\n", d.name, d.format(k))
	}
	return b.String()
}

// NeedsObjectStore is a scenario's need for --data in object storage
// (s3:// or gs://): its mistake is about GETs, which a local folder
// never makes.
const NeedsObjectStore = "object-store"

// MissingNeed says why s cannot run on data, or "" when it can.
func (s *Scenario) MissingNeed(data string) string {
	if s.Needs == NeedsObjectStore && !strings.HasPrefix(data, "s3://") && !strings.HasPrefix(data, "gs://") {
		return fmt.Sprintf("%s needs data in object storage (--data s3://… or gs://…); %s is local, where reads make no GETs", s.Name, data)
	}
	return ""
}
