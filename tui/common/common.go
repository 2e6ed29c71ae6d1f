// Package common holds what every TUI component embeds, as soft-serve's
// common package does: the terminal size, one struct of styles, one key map
// whose bindings carry their own help text, and the small formatting helpers
// (thresholds, tables, bars) that keep the screens consistent.
package common

import (
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
)

// Compact layouts start below these sizes; 80×24 is the smallest terminal
// the TUI is designed for and shows the essentials only.
const (
	CompactWidth  = 120
	CompactHeight = 36
)

// Common is the shared state every component gets in New. It is a value:
// a component keeps its own copy and the root model hands down a fresh one
// on every resize, so no component ever reads a size mid-update.
type Common struct {
	Width, Height int
	Styles        *Styles
	Keys          *KeyMap
	// NoColor is true when NO_COLOR is set; Styles then carry no colours,
	// only bold, faint and reverse, so thresholds still read.
	NoColor bool
}

// New returns a Common for a terminal of w×h cells. noColor drops every
// colour from the styles.
func New(w, h int, noColor bool) Common {
	return Common{Width: w, Height: h, Styles: NewStyles(noColor), Keys: NewKeyMap(), NoColor: noColor}
}

// NoColorEnv reports whether the NO_COLOR convention (no-color.org) asks
// for no colour: the variable is set to anything but the empty string.
func NoColorEnv() bool { return os.Getenv("NO_COLOR") != "" }

// Compact reports whether the terminal is too small for the full layout.
func (c Common) Compact() bool { return c.Width < CompactWidth || c.Height < CompactHeight }

// Resize returns c with a new size; styles and keys are shared.
func (c Common) Resize(w, h int) Common {
	c.Width, c.Height = w, h
	return c
}

// Page names, for NavMsg.
const (
	PageHome     = "home"
	PageRace     = "race"
	PageTune     = "tune"
	PageSweep    = "sweep"
	PageWorkshop = "workshop"
	PageJobs     = "jobs"
	PageGPU      = "gpu"
)

// NavMsg asks the root model to open a page. Left and Right name the
// scenarios of a race; Scenario is the starting point of Tune and Sweep.
type NavMsg struct {
	Page        string
	Left, Right string
	Scenario    string
	// Repeat is the runs of each side of a race (0: the default).
	Repeat int
}

// Nav returns a command that opens a page.
func Nav(m NavMsg) tea.Cmd { return func() tea.Msg { return m } }

// TickInterval is how often running screens fold queued events into their
// models and redraw for them (keys still redraw at once). Once a second is
// what keeps the TUI within 1% of a headless run's throughput on a 2-core
// machine, where every millisecond the UI spends is taken from the
// pipeline: measured with resnet18 on 200 images, optimized ran at 85.4 vs
// 87.8 img/s headless (−2.7%, 6 pairs) at 4 redraws a second, and at 87.3
// vs 86.3 img/s (within noise, 4 pairs) at one.
const TickInterval = time.Second
