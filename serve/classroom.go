package serve

import (
	"slices"
	"sync"

	tea "charm.land/bubbletea/v2"

	"workbench/bench"
	"workbench/tui/backend"
	"workbench/tui/common"
)

// Classroom is the instructor's side of the server: whether participants
// may run, whether the instructor's screen is broadcast and what it shows,
// the instructor's runs that followers mirror, and every participant's
// results for the workshop report.
type Classroom struct {
	mu sync.Mutex
	// held is true while participants may not start runs: from the start
	// when there are instructors, until one releases them.
	held bool
	// Broadcast state: the instructor whose screen is followed, the page
	// generation (epoch), the message that opened the page and the keys
	// pressed on it since, so a late follower replays to the same state.
	caster    *session
	epoch     int
	nav       *common.NavMsg
	keys      []tea.KeyPressMsg
	step      int    // the instructor's workshop step, -1 when none
	stepTitle string // its title
	lives     []*Live
	changed   chan struct{}
	sessions  map[*session]struct{}
	results   []bench.WorkshopRun
}

func newClassroom(held bool) *Classroom {
	return &Classroom{held: held, step: -1, changed: make(chan struct{}), sessions: map[*session]struct{}{}}
}

func (c *Classroom) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Classroom) join(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions[s] = struct{}{}
	if c.caster != nil && !s.id.Instructor {
		s.send(c.startMsgLocked())
	}
}

func (c *Classroom) leave(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sessions, s)
	if c.caster == s {
		c.stopLocked()
	}
}

// Held reports whether participants' runs are held.
func (c *Classroom) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// Broadcasting reports whether an instructor's screen is being followed.
func (c *Classroom) Broadcasting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caster != nil
}

// SetHeld holds or releases participants' runs and tells every screen.
func (c *Classroom) SetHeld(h bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = h
	c.tellLocked(classroomMsg{})
}

func (c *Classroom) tellLocked(m tea.Msg) {
	for s := range c.sessions {
		s.send(m)
	}
}

// followStartMsg puts a participant's screen on the instructor's: open
// the page, then replay the keys pressed on it.
type followStartMsg struct {
	nav   *common.NavMsg
	keys  []tea.KeyPressMsg
	epoch int
	b     backend.Backend
}

type (
	followKeyMsg  struct{ key tea.KeyPressMsg }
	followStopMsg struct{}
	classroomMsg  struct{}
)

func (c *Classroom) startMsgLocked() followStartMsg {
	return followStartMsg{nav: c.nav, keys: slices.Clone(c.keys), epoch: c.epoch, b: &mirror{c: c, inner: c.caster.backend, epoch: c.epoch}}
}

// StartBroadcast makes s's screen everyone's; page is the message that
// opened the page s shows now (nil: home) and keys those pressed on it.
func (c *Classroom) StartBroadcast(s *session, page *common.NavMsg, keys []tea.KeyPressMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.caster, c.nav, c.keys = s, page, slices.Clone(keys)
	c.epoch++
	for p := range c.sessions {
		if !p.id.Instructor {
			p.send(c.startMsgLocked())
		}
	}
	c.tellLocked(classroomMsg{})
}

// StopBroadcast gives every participant their own screen back.
func (c *Classroom) StopBroadcast() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked()
}

func (c *Classroom) stopLocked() {
	if c.caster == nil {
		return
	}
	c.caster = nil
	for p := range c.sessions {
		if !p.id.Instructor {
			p.send(followStopMsg{})
		}
	}
	c.tellLocked(classroomMsg{})
	c.notifyLocked()
}

// Nav records that the broadcasting instructor opened a page.
func (c *Classroom) Nav(s *session, n common.NavMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caster != s {
		return
	}
	c.nav, c.keys = &n, nil
	c.epoch++
	for p := range c.sessions {
		if !p.id.Instructor {
			p.send(c.startMsgLocked())
		}
	}
}

// Key records a key the broadcasting instructor pressed on the page.
func (c *Classroom) Key(s *session, k tea.KeyPressMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caster != s {
		return
	}
	c.keys = append(c.keys, k)
	for p := range c.sessions {
		if !p.id.Instructor {
			p.send(followKeyMsg{k})
		}
	}
}

// SetStep records the instructor's workshop step (-1: not in the workshop).
func (c *Classroom) SetStep(step int, title string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step, c.stepTitle = step, title
}

// epochOf is the current page generation when s is the broadcaster, -1
// otherwise: only a broadcaster's runs are mirrored.
func (c *Classroom) epochOf(s *session) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.caster != s {
		return -1
	}
	return c.epoch
}

// addLive keeps a broadcaster's run for followers to mirror.
func (c *Classroom) addLive(l *Live) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lives = append(c.lives, l)
	if len(c.lives) > 32 {
		c.lives = c.lives[1:]
	}
	c.notifyLocked()
}

// findLive returns the broadcaster's latest run for key started at or
// after epoch, and a channel closed when that may have changed.
func (c *Classroom) findLive(key string, epoch int) (*Live, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.lives) - 1; i >= 0; i-- {
		if l := c.lives[i]; l.Key == key && l.Epoch >= epoch {
			return l, c.changed
		}
	}
	return nil, c.changed
}

// Record files a participant's finished run at the instructor's step.
func (c *Classroom) Record(who string, rec *bench.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results = append(c.results, bench.WorkshopRun{Step: c.step, StepTitle: c.stepTitle, Participant: who, Rec: rec})
}

// Results returns every filed run.
func (c *Classroom) Results() []bench.WorkshopRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.results)
}
