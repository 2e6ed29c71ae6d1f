package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseRange parses a sweep dimension given to --flag (the flag name is only
// used in messages, e.g. "batch"). Every value must be a positive integer.
//
//	64          a single value
//	8,32,128    a literal list, kept in the order written; repeats are an error
//	16..256     a doubling series from a up to b: 16,32,64,128,256
//	1..4        1,2,4
//	1..8:2      an arithmetic series from a in steps of s: 1,3,5,7
//
// In both series b is an upper bound: it is included only when the series
// lands on it (1..100 gives 1,2,…,64; 1..9:2 gives 1,3,5,7,9), as with seq(1)
// and Model Analyzer's power-of-two sweeps, so a value above b is never run.
// a > b is an error rather than an empty sweep.
func ParseRange(flag, spec string) ([]int, error) {
	out, err := parseRange(spec)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", flag, spec, err)
	}
	return out, nil
}

// parseRange is ParseRange without the flag prefix on errors.
func parseRange(spec string) ([]int, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, fmt.Errorf("empty; give a value (64), a list (8,32,128) or a range (16..256, 1..8:2)")
	}
	posInt := func(tok, hint string) (int, error) {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			return 0, fmt.Errorf("a number is missing; use e.g. %s", hint)
		}
		n, err := strconv.Atoi(tok)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%s is not a positive integer; use e.g. %s", tok, hint)
		}
		return n, nil
	}
	lo, hiStep, isRange := strings.Cut(s, "..")
	if !isRange {
		var out []int
		seen := map[int]bool{}
		for _, tok := range strings.Split(s, ",") {
			n, err := posInt(tok, "8,32,128")
			if err != nil {
				return nil, err
			}
			if seen[n] {
				return nil, fmt.Errorf("%d appears twice; list each value once", n)
			}
			seen[n] = true
			out = append(out, n)
		}
		return out, nil
	}
	hi, stepTok, hasStep := strings.Cut(hiStep, ":")
	hint := "1..8"
	if hasStep {
		hint = "1..8:2"
	}
	a, err := posInt(lo, hint)
	if err != nil {
		return nil, err
	}
	b, err := posInt(hi, hint)
	if err != nil {
		return nil, err
	}
	if a > b {
		return nil, fmt.Errorf("start %d is greater than end %d; write %d..%d", a, b, b, a)
	}
	var out []int
	if hasStep {
		step, err := posInt(stepTok, "1..8:2")
		if err != nil {
			return nil, err
		}
		for v := a; v <= b; v += step {
			out = append(out, v)
			if v > math.MaxInt-step {
				break
			}
		}
		return out, nil
	}
	for v := a; v <= b; v *= 2 {
		out = append(out, v)
		if v > math.MaxInt/2 {
			break
		}
	}
	return out, nil
}

// ParseSet parses --set key=v1,v2 into the key and its values, for sweeping
// settings that have no flag of their own. A value that is a range (1..8,
// 1..8:2: it starts with a digit and contains "..") is expanded with
// ParseRange; other values, such as paths, are kept as text. Keys
// and values must be non-empty and values may not repeat.
func ParseSet(arg string) (key string, values []string, err error) {
	key, rest, ok := strings.Cut(arg, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return "", nil, fmt.Errorf("--set %s: want key=value[,value…], e.g. --set intra_op_threads=1,2,4", arg)
	}
	if r := strings.TrimSpace(rest); r != "" && r[0] >= '0' && r[0] <= '9' && strings.Contains(r, "..") {
		ns, err := parseRange(r)
		if err != nil {
			return "", nil, fmt.Errorf("--set %s: %w", arg, err)
		}
		for _, n := range ns {
			values = append(values, strconv.Itoa(n))
		}
		return key, values, nil
	}
	seen := map[string]bool{}
	for _, v := range strings.Split(rest, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return "", nil, fmt.Errorf("--set %s: empty value; write e.g. --set %s=1,2,4", arg, key)
		}
		if seen[v] {
			return "", nil, fmt.Errorf("--set %s: %s appears twice; list each value once", arg, v)
		}
		seen[v] = true
		values = append(values, v)
	}
	return key, values, nil
}

// A Dim is one sweep dimension: a parameter name and the values to try, in
// order.
type Dim struct {
	Name   string
	Values []string
}

// A Grid is an ordered list of dimensions whose cartesian product is the
// set of cells a sweep runs. The zero value is an empty grid with one cell
// (no parameters).
type Grid struct {
	Dims []Dim
}

// Add appends a dimension. Names must be unique and values non-empty.
func (g *Grid) Add(name string, values ...string) error {
	if name == "" {
		return fmt.Errorf("sweep dimension needs a name")
	}
	if len(values) == 0 {
		return fmt.Errorf("sweep dimension %s has no values", name)
	}
	for _, d := range g.Dims {
		if d.Name == name {
			return fmt.Errorf("sweep dimension %s is given twice; merge the values into one list", name)
		}
	}
	g.Dims = append(g.Dims, Dim{Name: name, Values: append([]string(nil), values...)})
	return nil
}

// AddInts appends a dimension of integers, as ParseRange returns.
func (g *Grid) AddInts(name string, values []int) error {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.Itoa(v)
	}
	return g.Add(name, s...)
}

// Len is the number of cells: the product of the dimension sizes.
func (g Grid) Len() int {
	n := 1
	for _, d := range g.Dims {
		n *= len(d.Values)
	}
	return n
}

// Cells returns every combination of values, each as a map from dimension
// name to value. The order is deterministic, with outer (earlier) dimensions
// varying slowest, like nested loops written in Dims order:
// batch=[8,16] × threads=[1,2] gives (8,1) (8,2) (16,1) (16,2).
func (g Grid) Cells() []map[string]string {
	out := make([]map[string]string, 0, g.Len())
	idx := make([]int, len(g.Dims))
	for range g.Len() {
		c := make(map[string]string, len(g.Dims))
		for i, d := range g.Dims {
			c[d.Name] = d.Values[idx[i]]
		}
		out = append(out, c)
		for i := len(idx) - 1; i >= 0; i-- { // odometer: last digit fastest
			idx[i]++
			if idx[i] < len(g.Dims[i].Values) {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// Label renders a cell's parameters in dimension order, "batch=8 threads=2",
// for table rows and file names alike.
func (g Grid) Label(cell map[string]string) string {
	parts := make([]string, 0, len(g.Dims))
	for _, d := range g.Dims {
		parts = append(parts, d.Name+"="+cell[d.Name])
	}
	return strings.Join(parts, " ")
}
