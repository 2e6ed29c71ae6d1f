package sweep

import (
	"slices"
	"testing"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1,8,32", []int{1, 8, 32}, true},
		{" 32, 1 8,8", []int{1, 8, 32}, true},
		{"", nil, false},
		{"1,x", nil, false},
		{"0", nil, false},
	} {
		got, err := ParseList(c.in)
		if (err == nil) != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("ParseList(%q) = %v, %v; want %v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
