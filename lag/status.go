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
	// Passes is the hysteresis (lag.passes): a rise to WARN and every
	// de-escalation (a change to a less severe status) is reported once the
	// new status has held for Passes consecutive observations; 1 reports
	// every change at once. Escalations to LOST, REWIND, STALL and STOP are
	// reported at once, and a reported REWIND clears at once when the
	// committed offset is back (see Evaluate).
	Passes int
	// StuckAfter is the patience while the partition's commit cadence is
	// not known yet (no commit gap recorded): how long it may be behind
	// without its committed offset moving, and with as much time lag,
	// before it is STALL or STOP. It is the patience always when MinStuck
	// is <= 0 (no cadence is learnt).
	StuckAfter time.Duration
	// MinStuck is the least patience once the commit cadence is known: the
	// patience is then 2 × the longest of the last 4 commit gaps, at least
	// MinStuck (the monitor sets 2 × the pass interval). <= 0: the patience
	// is always StuckAfter (the old behaviour), the cadence is not used.
	MinStuck time.Duration
	// MaxStuck is the most patience a known cadence can give; <= 0: no cap.
	// MinStuck wins over a smaller MaxStuck.
	MaxStuck time.Duration
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

// cadenceGaps is how many of the latest commit gaps the patience is
// taken from.
const cadenceGaps = 4

// State is what the evaluator remembers of one partition of one group
// between observations. It is a value: copying it copies the whole state
// (fixed-size arrays only, no slices or maps).
type State struct {
	// Status is the reported status ("" before the first observation).
	Status string

	candidate string // the raw status waiting out its hysteresis
	streak    int    // consecutive observations of candidate
	n         int    // observations so far
	first     time.Time
	last      Observation
	movedAt   time.Time // when the committed offset last changed (or the first observation)
	moved     bool      // movedAt is an observed change, not the first observation
	stuck     bool      // the last observation was stuck (behind without progress for the patience)
	high      int64     // highest committed offset seen: below it is a rewind
	lags      [warnWindow]lagPoint
	nlags     int
	gaps      [cadenceGaps]time.Duration // the latest commit gaps, oldest first
	ngaps     int
}

type lagPoint struct {
	t   time.Time
	lag time.Duration
}

// Evaluate returns the state after observation o, given the state s after
// the previous observations of the same partition. It is pure: the status
// of a history of observations is Evaluate folded over it (StatusOf).
//
// The raw status of an observation is, in order of precedence:
//   - LOST when the committed offset is below the log start;
//   - STALL (a member consumes the partition) or STOP (none does) when the
//     partition is behind (committed < end), its committed offset has not
//     changed for at least the patience (State.Patience) and its time lag
//     is at least the patience, so a group caught up on an idle topic is
//     not stuck the moment a record arrives;
//   - REWIND while the committed offset is below the highest one seen;
//   - WARN when behind by at least r.MinWarnLag and the time lag grew
//     faster than r.WarnGrowth over the last warnWindow observations and
//     since the previous one;
//   - OK otherwise.
//
// The patience comes from the partition's commit cadence. A commit gap is
// the time between two observations at which the committed offset changed
// (the previous change to this one; the first observation is not a
// change), when the partition was behind at the observation before the
// change and was not stuck then (a raw STALL or STOP, or one a LOST hid).
// When it was caught up at the observation before the change, the gap is
// the time between the two observations: it committed what arrived within
// one pass, so a group that keeps up at every pass has a known cadence of
// one pass. Neither the idle time of a consumer caught up on an idle topic
// nor the length of a stall is taken for its cadence (a pass that happens
// to see the one new record of an idle topic waiting does take the idle
// time: it is capped by r.MaxStuck and ages out after 4 more gaps). The patience is r.StuckAfter until a gap is recorded (or always when
// r.MinStuck <= 0); then 2 × the longest of the last 4 gaps (cadenceGaps),
// clamped to [r.MinStuck, r.MaxStuck] (no cap when r.MaxStuck <= 0). A group
// whose offset moves at every 10 s pass has a patience of 20 s (MinStuck
// 20 s): STALL or STOP at the third observation of the same offset. A
// standalone consumer committing every minute gets 2 minutes.
//
// Hysteresis by kind. The first observation is reported at once. An
// escalation to LOST, REWIND, STALL or STOP (a raw status more severe than
// the reported one) is reported at the observation that establishes it:
// LOST and REWIND are facts, and STALL and STOP already lasted the
// patience. A rise to WARN and every de-escalation (a raw status less
// severe than the reported one) is reported once it has held for r.Passes
// consecutive observations, except that a reported REWIND clears at once,
// to the raw status whatever it is, at the first observation whose
// committed offset is at or above the highest offset seen before it.
//
// A topic recreation (the end offset went backwards) starts the state
// afresh; an observation not after the previous one is ignored.
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
	high := s.high // the highest offset seen before o
	switch {
	case s.n == 0:
		s.first, s.movedAt, s.high = o.Time, o.Time, o.Committed
	case o.Committed != s.last.Committed:
		switch {
		case s.last.Committed >= s.last.End:
			// Caught up at the previous observation: it committed what
			// arrived since within one pass.
			s.addGap(o.Time.Sub(s.last.Time))
		case s.moved && !s.stuck:
			s.addGap(o.Time.Sub(s.movedAt))
		}
		s.movedAt, s.moved = o.Time, true
	}
	s.high = max(s.high, o.Committed)
	if s.nlags == warnWindow {
		copy(s.lags[:], s.lags[1:])
		s.nlags--
	}
	s.lags[s.nlags] = lagPoint{o.Time, o.TimeLag}
	s.nlags++

	var raw string
	raw, s.stuck = rawStatus(&s, o, r)
	switch {
	case s.n == 0, raw == s.Status:
		s.Status, s.candidate, s.streak = raw, raw, 0
	case s.Status == StatusRewind && o.Committed >= high:
		// Back at or past where it was before the rewind: over at once.
		s.Status, s.candidate, s.streak = raw, raw, 0
	case raw != StatusWarn && severity(raw) > severity(s.Status):
		// LOST, REWIND, STALL, STOP: established facts, no hysteresis.
		s.Status, s.candidate, s.streak = raw, raw, 0
	case raw == s.candidate:
		s.streak++
	default:
		s.candidate, s.streak = raw, 1
	}
	if raw != s.Status && s.streak >= max(r.Passes, 1) {
		s.Status, s.candidate, s.streak = raw, raw, 0
	}
	s.n++
	s.last = o
	return s
}

// addGap records a commit gap, dropping the oldest when full.
func (s *State) addGap(d time.Duration) {
	if s.ngaps == cadenceGaps {
		copy(s.gaps[:], s.gaps[1:])
		s.ngaps--
	}
	s.gaps[s.ngaps] = d
	s.ngaps++
}

// Patience returns how long the partition may be behind without its
// committed offset moving (and with as much time lag) before it is STALL or
// STOP: r.StuckAfter while its commit cadence is not known (no commit gap
// recorded) or when r.MinStuck <= 0; else 2 × the longest of its last 4
// commit gaps (cadenceGaps), at least r.MinStuck and at most r.MaxStuck
// (when > 0). See Evaluate.
func (s State) Patience(r Rules) time.Duration {
	if s.ngaps == 0 || r.MinStuck <= 0 {
		return r.StuckAfter
	}
	var longest time.Duration
	for _, g := range s.gaps[:s.ngaps] {
		longest = max(longest, g)
	}
	p := 2 * longest
	if r.MaxStuck > 0 {
		p = min(p, r.MaxStuck)
	}
	return max(p, r.MinStuck)
}

// Settled reports whether s's Status is one the history can stand by: the
// partition has been observed for at least its current patience (so STALL
// and STOP could have been told) and no change is waiting out its
// hysteresis. A monitor that just started, or just took the partition
// over, has an unsettled OK for a group that stopped long before: it is not
// yet known to be OK.
func (s State) Settled(r Rules) bool {
	return s.n > 0 && s.last.Time.Sub(s.first) >= s.Patience(r) && s.streak == 0
}

// rawStatus returns the raw status of o and whether o is stuck (behind
// without progress for the patience, with as much time lag), whether or
// not LOST takes precedence.
func rawStatus(s *State, o Observation, r Rules) (string, bool) {
	behind := o.Committed < o.End
	p := s.Patience(r)
	stuck := behind && o.Time.Sub(s.movedAt) >= p && o.TimeLag >= p
	switch {
	case o.Committed < o.LogStart:
		return StatusLost, stuck
	case stuck:
		if o.Consuming {
			return StatusStall, stuck
		}
		return StatusStop, stuck
	case o.Committed < s.high:
		return StatusRewind, stuck
	case behind && o.TimeLag >= r.MinWarnLag && growing(s.lags[:s.nlags], r.WarnGrowth):
		return StatusWarn, stuck
	}
	return StatusOK, stuck
}

// growing reports whether the time lag grows: over the window faster than
// rate, and not shrinking since the previous observation, so that a lag
// that jumped (a rewind) and is now shrinking does not warn. A lag that held
// still since the previous observation still grows: a group behind records
// produced in batches sees its lag climb in steps, and a step's flat pass
// must not make it flap back to OK.
func growing(ps []lagPoint, rate float64) bool {
	n := len(ps)
	return n >= 3 && ps[n-1].lag >= ps[n-2].lag && ps[n-1].lag > ps[0].lag && growth(ps) > rate
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
