package model

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Labels maps class indices to names.
type Labels []string

// LoadLabels reads a labels file: one class name per line, line i naming
// class i (from 0). Surrounding spaces and a trailing carriage return are
// trimmed; blank lines inside the file are kept as empty names, so the
// numbering never shifts, and blank lines at the end are dropped. k > 0 is
// the model's class count, which the file's line count must equal.
func LoadLabels(path string, k int) (Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	var l Labels
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l = append(l, strings.TrimSpace(sc.Text()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	for len(l) > 0 && l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	if k > 0 && len(l) != k {
		return nil, fmt.Errorf("labels %s has %d names, the model has %d classes; give one name per line, line i for class i (--labels)", path, len(l), k)
	}
	return l, nil
}

// Name is class i's name, or "" when i is out of range or l is nil.
func (l Labels) Name(i int32) string {
	if i < 0 || int(i) >= len(l) {
		return ""
	}
	return l[i]
}
