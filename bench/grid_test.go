package bench

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    []int
		wantErr string
	}{
		{"64", []int{64}, ""},
		{" 64 ", []int{64}, ""},
		{"8,32,128", []int{8, 32, 128}, ""},
		{"128,8", []int{128, 8}, ""},
		{"16..256", []int{16, 32, 64, 128, 256}, ""},
		{"1..4", []int{1, 2, 4}, ""},
		{"1..100", []int{1, 2, 4, 8, 16, 32, 64}, ""},
		{"3..20", []int{3, 6, 12}, ""},
		{"5..5", []int{5}, ""},
		{"1..8:2", []int{1, 3, 5, 7}, ""},
		{"1..9:2", []int{1, 3, 5, 7, 9}, ""},
		{"4..16:4", []int{4, 8, 12, 16}, ""},
		{"2..3:10", []int{2}, ""},
		{"0..8", nil, "--batch 0..8: 0 is not a positive integer; use e.g. 1..8"},
		{"8..1", nil, "--batch 8..1: start 8 is greater than end 1; write 1..8"},
		{"1..8:0", nil, "--batch 1..8:0: 0 is not a positive integer; use e.g. 1..8:2"},
		{"1..", nil, "--batch 1..: a number is missing; use e.g. 1..8"},
		{"8,8", nil, "--batch 8,8: 8 appears twice; list each value once"},
		{"8,,16", nil, "--batch 8,,16: a number is missing; use e.g. 8,32,128"},
		{"x", nil, "--batch x: x is not a positive integer; use e.g. 8,32,128"},
		{"-4", nil, "--batch -4: -4 is not a positive integer"},
		{"1.5", nil, "--batch 1.5: 1.5 is not a positive integer"},
		{"", nil, "--batch : empty; give a value"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRange("batch", tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arg     string
		key     string
		values  []string
		wantErr string
	}{
		{"intra_op_threads=1,2,4", "intra_op_threads", []string{"1", "2", "4"}, ""},
		{"provider=cpu", "provider", []string{"cpu"}, ""},
		{" threads = 1..8 ", "threads", []string{"1", "2", "4", "8"}, ""},
		{"threads=1..8:3", "threads", []string{"1", "4", "7"}, ""},
		{"model=../models/a.onnx,b.onnx", "model", []string{"../models/a.onnx", "b.onnx"}, ""},
		{"threads", "", nil, "--set threads: want key=value"},
		{"=4", "", nil, "--set =4: want key=value"},
		{"threads=", "", nil, "--set threads=: empty value"},
		{"threads=1,,2", "", nil, "--set threads=1,,2: empty value"},
		{"threads=2,2", "", nil, "--set threads=2,2: 2 appears twice"},
		{"threads=0..4", "", nil, "--set threads=0..4: 0 is not a positive integer; use e.g. 1..8"},
	}
	for _, tt := range tests {
		k, v, err := ParseSet(tt.arg)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("ParseSet(%q) err = %v, want prefix %q", tt.arg, err, tt.wantErr)
			}
			continue
		}
		if err != nil || k != tt.key || !slices.Equal(v, tt.values) {
			t.Errorf("ParseSet(%q) = %q, %q, %v; want %q, %q", tt.arg, k, v, err, tt.key, tt.values)
		}
	}
}

func TestGrid(t *testing.T) {
	t.Parallel()
	var g Grid
	if g.Len() != 1 || len(g.Cells()) != 1 || len(g.Cells()[0]) != 0 {
		t.Fatalf("empty grid: Len %d, Cells %v", g.Len(), g.Cells())
	}
	if err := g.AddInts("batch", []int{8, 16}); err != nil {
		t.Fatal(err)
	}
	if err := g.Add("threads", "1", "2", "4"); err != nil {
		t.Fatal(err)
	}
	if err := g.Add("provider", "cpu"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range g.Cells() {
		got = append(got, g.Label(c))
	}
	want := []string{
		"batch=8 threads=1 provider=cpu",
		"batch=8 threads=2 provider=cpu",
		"batch=8 threads=4 provider=cpu",
		"batch=16 threads=1 provider=cpu",
		"batch=16 threads=2 provider=cpu",
		"batch=16 threads=4 provider=cpu",
	}
	if g.Len() != 6 || !slices.Equal(got, want) {
		t.Errorf("cells:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []struct {
		name   string
		values []string
		err    string
	}{
		{"batch", []string{"1"}, "sweep dimension batch is given twice"},
		{"x", nil, "sweep dimension x has no values"},
		{"", []string{"1"}, "sweep dimension needs a name"},
	} {
		if err := g.Add(bad.name, bad.values...); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("Add(%q, %v) err = %v, want %q", bad.name, bad.values, err, bad.err)
		}
	}
}

func ExampleGrid_Cells() {
	var g Grid
	batches, _ := ParseRange("batch", "16..64")
	_ = g.AddInts("batch", batches)
	_ = g.Add("threads", "1", "2")
	for _, c := range g.Cells() {
		fmt.Println(g.Label(c))
	}
	// Output:
	// batch=16 threads=1
	// batch=16 threads=2
	// batch=32 threads=1
	// batch=32 threads=2
	// batch=64 threads=1
	// batch=64 threads=2
}
