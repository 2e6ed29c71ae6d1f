//go:build !race

package model

// raceEnabled is true under -race, where instrumented weight generation is
// about ten times slower; the heaviest export checks then step aside.
const raceEnabled = false
