package common

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Thresholds for colour, as nvitop sets them: utilisation reads dim below
// UtilLow and warns above UtilHigh; memory warns above MemHigh (percent).
const (
	UtilLow  = 10.0
	UtilHigh = 75.0
	MemHigh  = 80.0
)

// Styles is every style the TUI uses, in one place.
type Styles struct {
	App, Title, Subtitle, Header, Label, Value, Faint, Bold, Accent   lipgloss.Style
	OK, Warn, Bad, Dim, Selected, Highlight, Pane, PaneActive, Footer lipgloss.Style
	Verdict, Teaching, Best, Failed, Skipped, Running                 lipgloss.Style
	// Chart colours for the two race sides and telemetry.
	Left, Right, CPUChart, MemChart lipgloss.Style
	// Heat is the sweep heatmap's colour scale from worst to best; empty
	// without colour, when the cell text carries the value alone.
	Heat []color.Color
}

// NewStyles returns the house styles. With noColor every style keeps its
// weight (bold, faint, reverse) and loses its colour, so a projector in
// monochrome or NO_COLOR still shows what is best, what warns, what is dim.
func NewStyles(noColor bool) *Styles {
	c := func(s string) color.Color {
		if noColor {
			return lipgloss.NoColor{}
		}
		return lipgloss.Color(s)
	}
	st := lipgloss.NewStyle
	s := &Styles{
		App:        st(),
		Title:      st().Bold(true).Foreground(c("#E8E6F0")).Background(c("#5A4FCF")).Padding(0, 1),
		Subtitle:   st().Foreground(c("#9D97B8")),
		Header:     st().Bold(true).Foreground(c("#B8B2D8")),
		Label:      st().Foreground(c("#8A8A9E")),
		Value:      st().Foreground(c("#E4E4EC")),
		Faint:      st().Faint(true),
		Bold:       st().Bold(true),
		Accent:     st().Foreground(c("#A99CFF")).Bold(true),
		OK:         st().Foreground(c("#6BCB8B")),
		Warn:       st().Foreground(c("#F2C14E")).Bold(true),
		Bad:        st().Foreground(c("#F0716B")).Bold(true),
		Dim:        st().Faint(true),
		Selected:   st().Foreground(c("#FFFFFF")).Background(c("#3E3A6E")).Bold(true),
		Highlight:  st().Foreground(c("#F2C14E")).Bold(true),
		Pane:       st().Border(lipgloss.RoundedBorder()).BorderForeground(c("#4A4766")).Padding(0, 1),
		PaneActive: st().Border(lipgloss.RoundedBorder()).BorderForeground(c("#A99CFF")).Padding(0, 1),
		Footer:     st().Foreground(c("#6E6A86")),
		Verdict:    st().Bold(true).Foreground(c("#6BCB8B")),
		Teaching:   st().Foreground(c("#C9C5DD")),
		Best:       st().Bold(true).Reverse(true),
		Failed:     st().Foreground(c("#F0716B")),
		Skipped:    st().Faint(true),
		Running:    st().Foreground(c("#A99CFF")).Blink(false),
		Left:       st().Foreground(c("#F0A05A")),
		Right:      st().Foreground(c("#5AC8F0")),
		CPUChart:   st().Foreground(c("#6BCB8B")),
		MemChart:   st().Foreground(c("#C58AF9")),
	}
	if noColor {
		// Without colour a selection and the best cell need another cue.
		s.Selected = st().Reverse(true).Bold(true)
		s.Title = st().Bold(true).Reverse(true).Padding(0, 1)
	} else {
		s.Heat = []color.Color{c("#3B2F5C"), c("#5A3F7A"), c("#7D4E8F"), c("#A8608F"), c("#CF7A7F"), c("#E89B6C"), c("#F2C14E")}
	}
	return s
}

// Util styles a utilisation percentage by nvitop's thresholds: dim when the
// resource idles, plain in the working range, warning when it saturates.
// pct is of the whole resource: for CPU, of every core together.
func (s *Styles) Util(pct float64) lipgloss.Style {
	switch {
	case pct < UtilLow:
		return s.Dim
	case pct > UtilHigh:
		return s.Warn
	default:
		return s.OK
	}
}

// MemUsed styles a memory-used percentage: warning above MemHigh.
func (s *Styles) MemUsed(pct float64) lipgloss.Style {
	if pct > MemHigh {
		return s.Warn
	}
	return s.Value
}
