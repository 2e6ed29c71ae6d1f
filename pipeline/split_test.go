package pipeline

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestSplitErrors: failed rows never reach the UDF, including a block in
// which every row failed (a read task whose objects all failed, or a run
// of failed rows handed on alone), which used to pass as all good.
func TestSplitErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		errs      []string // "" = good
		good, bad int      // rows
	}{
		{"all good", []string{"", "", ""}, 3, 0},
		{"all failed", []string{"x", "y"}, 0, 2},
		{"mixed", []string{"", "x", "", ""}, 3, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pb := array.NewStringBuilder(memory.DefaultAllocator)
			eb := array.NewStringBuilder(memory.DefaultAllocator)
			for i, e := range c.errs {
				pb.Append(string(rune('a' + i)))
				if e == "" {
					eb.AppendNull()
				} else {
					eb.Append(e)
				}
			}
			p, e := pb.NewArray(), eb.NewArray()
			b := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: PathColumn, Type: arrow.BinaryTypes.String},
				{Name: ErrorColumn, Type: arrow.BinaryTypes.String, Nullable: true}}, nil), []arrow.Array{p, e}, int64(len(c.errs)))
			good, bad := splitErrors(b, 0)
			var g, f int
			for _, x := range good {
				g += int(x.NumRows())
			}
			for _, r := range bad {
				f += int(r.blk.NumRows())
			}
			if g != c.good || f != c.bad {
				t.Errorf("good %d, failed %d; want %d and %d", g, f, c.good, c.bad)
			}
		})
	}
}
