package tui

import (
	"errors"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
)

func itoa(n int) string { return strconv.Itoa(n) }

func spaces(n int) string { return strings.Repeat(" ", max(0, n)) }

// errorsIsKilled reports whether err is bubbletea's "program was killed"
// after our own cancellation, which is a clean exit, not a failure.
func errorsIsKilled(err error) bool { return errors.Is(err, tea.ErrProgramKilled) }
