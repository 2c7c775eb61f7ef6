package lag

import (
	"time"
)

// Statuses of a partition and a group, in Burrow's vocabulary plus LOST.
const (
	StatusOK     = "OK"     // caught up, or behind and keeping pace
	StatusWarn   = "WARN"   // behind, and the time lag keeps growing
	StatusRewind = "REWIND" // the committed offset went backwards and is still below where it was
	StatusStall  = "STALL"  // behind, a member consumes the partition, but the committed offset does not move
	StatusStop   = "STOP"   // behind and nobody moves the committed offset
	StatusLost   = "LOST"   // the committed offset is below the log start: records expired unread
)

// Statuses lists every status from the least to the most severe.
var Statuses = []string{StatusOK, StatusWarn, StatusRewind, StatusStall, StatusStop, StatusLost}

// severity orders statuses; a group takes its worst partition's status.
func severity(s string) int {
	for i, st := range Statuses {
		if st == s {
			return i
		}
	}
	return -1
}

// worse returns the more severe of a and b; "" (no status) is the least.
func worse(a, b string) string {
	if severity(b) > severity(a) {
		return b
	}
	return a
}

// Observation is what one pass saw of one partition of one group.
type Observation struct {
	Time      time.Time
	Committed int64 // never NoOffset: a partition never committed has no status
	End       int64
	LogStart  int64
	// TimeLag is the partition's time lag (Compute).
	TimeLag time.Duration
	// Consuming says a live member of the group is assigned the partition
	// (or the group has members whose assignment cannot be decoded).
	Consuming bool
}

// Rules parameterise the status evaluation.
type Rules struct {
	// Passes is how many consecutive observations a new status must hold
	// before it is reported (lag.passes); 1 reports every change at once.
	Passes int
	// StuckAfter is how long a partition may be behind without its
	// committed offset moving before it is STALL or STOP. Both the time
	// since the offset last moved and the time lag must exceed it, so a
	// group idle at the end of an idle topic is not stuck the moment a new
	// record arrives.
	StuckAfter time.Duration
	// MinWarnLag is the least time lag that can WARN: below it, growth is the
	// noise of commit intervals and sampling.
	MinWarnLag time.Duration
	// WarnGrowth is the time-lag growth, in seconds per second over the
	// last warnWindow observations (a least-squares slope), that WARNs: 0.1
	// means the group falls behind by 6 s every minute.
	WarnGrowth float64
}

// warnWindow is how many observations the growth of the time lag is
// measured over.
const warnWindow = 6

// State is what the evaluator remembers of one partition of one group
// between observations. It is a value: copying it copies the whole state.
type State struct {
	// Status is the reported status ("" before the first observation).
	Status string

	candidate string // the raw status waiting to be reported
	streak    int    // consecutive observations of candidate
	n         int    // observations so far
	first     time.Time
	last      Observation
	movedAt   time.Time // when the committed offset last changed
	high      int64     // highest committed offset seen: below it is a rewind
	lags      [warnWindow]lagPoint
	nlags     int
}

type lagPoint struct {
	t   time.Time
	lag time.Duration
}

// Evaluate returns the state after observation o, given the state s after
// the previous observations of the same partition. It is pure: the status
// of a history of observations is Evaluate folded over it (StatusOf).
//
// The raw status of an observation is, in order of precedence: LOST when
// the committed offset is below the log start; STALL (a member consumes the
// partition) or STOP (none does) when the partition is behind, its committed
// offset has not moved for r.StuckAfter and its time lag is at least
// r.StuckAfter; REWIND while the committed offset is below the
// highest one seen; WARN when behind by at least r.MinWarnLag and the time
// lag grew faster than r.WarnGrowth over the window and since the previous
// observation; OK otherwise. The
// reported status changes to a new raw status once it has held for r.Passes
// consecutive observations; the first observation is reported at once.
// Evaluation is on time, never on a window of offset lags, so an old
// zero-lag sample cannot hide a group that stopped since.
func Evaluate(s State, o Observation, r Rules) State {
	if o.Committed < 0 {
		return State{}
	}
	if s.n > 0 && (o.End < s.last.End || !o.Time.After(s.last.Time)) {
		if o.End < s.last.End {
			s = State{} // the log went backwards: the topic was recreated
		} else {
			return s // not after the previous observation: nothing new
		}
	}
	if s.n == 0 {
		s.first = o.Time
	}
	if s.n == 0 || o.Committed != s.last.Committed {
		s.movedAt = o.Time
	}
	if s.n == 0 || o.Committed > s.high {
		s.high = o.Committed
	}
	if s.nlags == warnWindow {
		copy(s.lags[:], s.lags[1:])
		s.nlags--
	}
	s.lags[s.nlags] = lagPoint{o.Time, o.TimeLag}
	s.nlags++

	raw := rawStatus(&s, o, r)
	switch {
	case s.n == 0:
		s.Status, s.candidate, s.streak = raw, raw, 0
	case raw == s.Status:
		s.candidate, s.streak = raw, 0
	case raw == s.candidate:
		s.streak++
	default:
		s.candidate, s.streak = raw, 1
	}
	if raw != s.Status && s.streak >= max(r.Passes, 1) {
		s.Status, s.streak = raw, 0
	}
	s.n++
	s.last = o
	return s
}

// Settled reports whether s's Status is one the history can stand by: the
// partition has been observed for at least r.StuckAfter (so STALL and STOP
// could have been told) and no other status is waiting out its hysteresis.
// A monitor that just started, or just took the partition over, has an
// unsettled OK for a group that stopped long before: it is not yet known
// to be OK.
func (s State) Settled(r Rules) bool {
	return s.n > 0 && s.last.Time.Sub(s.first) >= r.StuckAfter && s.streak == 0
}

func rawStatus(s *State, o Observation, r Rules) string {
	behind := o.Committed < o.End
	switch {
	case o.Committed < o.LogStart:
		return StatusLost
	case behind && o.Time.Sub(s.movedAt) >= r.StuckAfter && o.TimeLag >= r.StuckAfter:
		if o.Consuming {
			return StatusStall
		}
		return StatusStop
	case o.Committed < s.high:
		return StatusRewind
	case behind && o.TimeLag >= r.MinWarnLag && growing(s.lags[:s.nlags], r.WarnGrowth):
		return StatusWarn
	}
	return StatusOK
}

// growing reports whether the time lag grows: over the window faster than
// rate, and since the previous observation too, so that a lag that jumped
// (a rewind) and is now shrinking does not warn.
func growing(ps []lagPoint, rate float64) bool {
	n := len(ps)
	return n >= 3 && ps[n-1].lag > ps[n-2].lag && ps[n-1].lag > ps[0].lag && growth(ps) > rate
}

// growth returns the least-squares slope of the time lag over time, in
// seconds per second.
func growth(ps []lagPoint) float64 {
	t0 := ps[0].t
	var sx, sy, sxx, sxy float64
	for _, p := range ps {
		x := p.t.Sub(t0).Seconds()
		y := p.lag.Seconds()
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	n := float64(len(ps))
	den := n*sxx - sx*sx
	if den <= 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// StatusOf returns the reported status after a history of observations of
// one partition, oldest first: Evaluate folded over it.
func StatusOf(history []Observation, r Rules) string {
	var s State
	for _, o := range history {
		s = Evaluate(s, o, r)
	}
	return s.Status
}
