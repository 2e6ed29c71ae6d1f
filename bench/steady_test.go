package bench

import (
	"strings"
	"testing"
	"time"
)

func TestSteadyState(t *testing.T) {
	t.Parallel()
	even := func(n int, every time.Duration, rows int) []Event {
		ev := make([]Event, n)
		for i := range ev {
			ev[i] = Event{At: time.Duration(i+1) * every, Rows: rows}
		}
		return ev
	}
	cases := []struct {
		name       string
		events     []Event
		wall       time.Duration
		wantWins   bool
		wantStable bool
		warn       string // "" = no warning
	}{
		// 7 batches of 32 in 2.3 s: twelve windows would mostly hold no
		// batch and read 0 img/s.
		{"few batches", even(7, 330*time.Millisecond, 32), 2310 * time.Millisecond, false, false, "too few"},
		{"steady", even(120, 50*time.Millisecond, 16), 6 * time.Second, true, true, ""},
	}
	for _, c := range cases {
		wins, steady, stable, warn := SteadyState(c.events, c.wall, WindowConfig{})
		if (len(wins) > 0) != c.wantWins || stable != c.wantStable || (c.warn == "") != (warn == "") || !strings.Contains(warn, c.warn) {
			t.Errorf("%s: %d windows, stable %v, warn %q", c.name, len(wins), stable, warn)
		}
		for _, w := range wins {
			if w == 0 {
				t.Errorf("%s: a window reads 0 img/s: %v", c.name, wins)
			}
		}
		if c.wantWins && (steady < 310 || steady > 330) {
			t.Errorf("%s: steady throughput %.1f, want 320", c.name, steady)
		}
	}
}
