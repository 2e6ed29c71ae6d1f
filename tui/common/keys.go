package common

import "charm.land/bubbles/v2/key"

// KeyMap is every key the TUI answers, each with its help text, so the help
// bar builds itself. Pages enable or disable bindings rather than testing raw
// key strings, which keeps help and behaviour from drifting apart.
type KeyMap struct {
	Quit, Help, Back, Tab, ShiftTab, Up, Down, Left, Right, Enter key.Binding
	// Home screen.
	Race, Tune, Sweep, Workshop, Jobs, GPU, Pick key.Binding
	// More and Fewer change the race's runs of each side.
	More, Fewer key.Binding
	// Running screens.
	Export, Rerun, Save, Next, Prev key.Binding
	// Sweep screen: Axis picks the axis the heatmap slices, SliceNext and
	// SlicePrev the value of it shown; Report, YAML and Ray export the
	// sweep (short help, so the bar fits 80 columns).
	Axis, SliceNext, SlicePrev, Report, YAML, Ray key.Binding
}

// NewKeyMap returns the default bindings.
func NewKeyMap() *KeyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return &KeyMap{
		Quit:     b([]string{"q", "ctrl+c"}, "q", "quit"),
		Help:     b([]string{"?"}, "?", "help"),
		Back:     b([]string{"esc"}, "esc", "back"),
		Tab:      b([]string{"tab"}, "tab", "next field"),
		ShiftTab: b([]string{"shift+tab"}, "shift+tab", "prev field"),
		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		Left:     b([]string{"left", "h", "-"}, "←/-", "lower"),
		Right:    b([]string{"right", "l", "+", "="}, "→/+", "raise"),
		Enter:    b([]string{"enter"}, "enter", "start"),

		Race:     b([]string{"r"}, "r", "race the pair"),
		Tune:     b([]string{"t"}, "t", "tune"),
		Sweep:    b([]string{"s"}, "s", "sweep"),
		Workshop: b([]string{"w"}, "w", "workshop"),
		Jobs:     b([]string{"c"}, "c", "Ray cluster jobs"),
		GPU:      b([]string{"g"}, "g", "GPU"),
		Pick:     b([]string{"a", "b"}, "a/b", "pick left/right"),
		More:     b([]string{"+", "="}, "+", "more runs"),
		Fewer:    b([]string{"-"}, "-", "fewer runs"),

		Export: b([]string{"e"}, "e", "export report"),
		Rerun:  b([]string{"enter"}, "enter", "run"),
		Save:   b([]string{"S"}, "S", "save best as YAML"),
		Next:   b([]string{"space"}, "space", "next step"),
		Prev:   b([]string{"backspace"}, "backspace", "previous step"),

		Axis:      b([]string{"x"}, "x", "axis"),
		SliceNext: b([]string{"]"}, "[/]", "slice"),
		SlicePrev: key.NewBinding(key.WithKeys("[")),
		Report:    b([]string{"e"}, "e", "report"),
		YAML:      b([]string{"S"}, "S", "YAML"),
		Ray:       b([]string{"R"}, "R", "Ray job"),
	}
}

// Help is a help.KeyMap over a page's own bindings plus the global ones, so
// every page's help bar ends with quit and help in the same place.
type Help struct {
	Short []key.Binding
	Full  [][]key.Binding
}

// ShortHelp implements help.KeyMap.
func (h Help) ShortHelp() []key.Binding { return h.Short }

// FullHelp implements help.KeyMap.
func (h Help) FullHelp() [][]key.Binding { return h.Full }

// PageHelp builds a page's help from its bindings, appending the global keys.
func (k *KeyMap) PageHelp(page ...key.Binding) Help {
	short := append(append([]key.Binding{}, page...), k.Help, k.Quit)
	full := [][]key.Binding{page, {k.Tab, k.Up, k.Down, k.Back}, {k.Help, k.Quit}}
	return Help{Short: short, Full: full}
}
