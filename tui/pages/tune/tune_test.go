package tune

import "testing"

func TestStep2(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ v, dir, lo, hi, want int }{
		{64, +1, 1, 1024, 128}, {64, -1, 1, 1024, 32}, {1, -1, 1, 1024, 1}, {1024, +1, 1, 1024, 1024},
		{0, +1, 0, 256, 1}, {1, -1, 0, 256, 0}, {0, -1, 0, 256, 0},
	} {
		if got := step2(c.v, c.dir, c.lo, c.hi); got != c.want {
			t.Errorf("step2(%d, %+d) = %d, want %d", c.v, c.dir, got, c.want)
		}
	}
}
