package common

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestThresholdColours(t *testing.T) {
	t.Parallel()
	s := NewStyles(false)
	for _, c := range []struct {
		pct  float64
		want lipgloss.Style
	}{
		{0, s.Dim}, {9.9, s.Dim}, {10, s.OK}, {75, s.OK}, {75.1, s.Warn}, {100, s.Warn},
	} {
		if got := s.Util(c.pct); got.Render("x") != c.want.Render("x") {
			t.Errorf("Util(%v) = %q, want %q", c.pct, got.Render("x"), c.want.Render("x"))
		}
	}
	for _, c := range []struct {
		pct  float64
		warn bool
	}{{50, false}, {80, false}, {80.5, true}} {
		if got := s.MemUsed(c.pct).Render("x") == s.Warn.Render("x"); got != c.warn {
			t.Errorf("MemUsed(%v) warns = %v, want %v", c.pct, got, c.warn)
		}
	}
}

func TestNoColorHasNoColour(t *testing.T) {
	t.Parallel()
	s := NewStyles(true)
	for _, st := range []lipgloss.Style{s.Title, s.Warn, s.OK, s.Left, s.Right, s.Selected, s.Pane} {
		out := st.Render("x")
		// 38;/48; introduce foreground and background colours.
		if strings.Contains(out, "38;") || strings.Contains(out, "48;") {
			t.Errorf("NO_COLOR style still colours: %q", out)
		}
	}
	if len(s.Heat) != 0 {
		t.Error("NO_COLOR heat scale is not empty")
	}
}

func TestFitAndBlock(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		w    int
		want string
	}{{"abc", 5, "abc  "}, {"abcdef", 4, "abc…"}, {"", 2, "  "}} {
		if got := Fit(c.in, c.w); got != c.want {
			t.Errorf("Fit(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
	b := Block("a\nbb\nccc\nd", 2, 3)
	if b != "a \nbb\ncc" && b != "a \nbb\nc…" {
		t.Errorf("Block = %q", b)
	}
	if got := lipgloss.Height(Block("a", 3, 4)); got != 4 {
		t.Errorf("Block pads to %d lines, want 4", got)
	}
}

func TestBar(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		frac float64
		want string
	}{{0, "░░░░"}, {1, "████"}, {0.5, "██░░"}, {2, "████"}, {-1, "░░░░"}} {
		if got := Bar(c.frac, 4); got != c.want {
			t.Errorf("Bar(%v) = %q, want %q", c.frac, got, c.want)
		}
	}
}

// TestTeachingKeepsStatements: at every width a code sample keeps one
// statement a line (comments go to a legend, then an ellipsis cuts), while
// prose wraps (issue 21.5: "# loaded every call" wrapped onto its own line).
func TestTeachingKeepsStatements(t *testing.T) {
	t.Parallel()
	code := []string{
		`def classify(batch):`,
		`    model = ort.InferenceSession("model.onnx")          # loaded every call`,
		`    img = preprocess(Image.open(path), Resize(...))  # transform rebuilt, decoded here`,
		`ds.map_batches(classify, batch_size=2).take_all()  → json`,
	}
	prose := "Each mistake has its own scenario; together they compound, and the slow pipeline finishes."
	text := strings.Join(code, "\n") + "\n" + prose
	for _, w := range []int{30, 54, 88, 120} {
		got := strings.Split(ansi.Strip(Teaching(text, w, lipgloss.NewStyle(), lipgloss.NewStyle())), "\n")
		for i, l := range got {
			if ansi.StringWidth(l) > w {
				t.Errorf("w=%d: line %d is %d cells: %q", w, i, ansi.StringWidth(l), l)
			}
		}
		for i, c := range code {
			head := c[:min(len(c), 8)]
			if !strings.HasPrefix(got[i], head) {
				t.Errorf("w=%d: line %d = %q, want statement %q on its own line", w, i, got[i], c)
			}
		}
		if w < 80 && !strings.Contains(strings.Join(got, "\n"), "[1] loaded every call") {
			t.Errorf("w=%d: no legend for the comment that did not fit:\n%s", w, strings.Join(got, "\n"))
		}
	}
}
